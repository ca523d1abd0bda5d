package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.Jsons;
import org.fedqlora.UserException;
import org.fedqlora.model.BaseModelHash;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.PeftFormat;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.Fields;
import org.fedqlora.data.LabelMap;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.model.Pooling;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.train.ClassificationHead;
import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.Evaluator;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.train.TextClassifier;
import picocli.CommandLine.Command;
import org.fedqlora.nn.Compute;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code fedqlora eval}: accuracy and macro-F1 of a trained adapter on a labelled file. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluate an adapter written by 'train' (or a federated run) on a labelled data file;",
                "a causal-lm adapter (lm.json) on instruction data: loss and perplexity over response tokens."},
        footer = {"", "Examples:",
                "  fedqlora eval --model minilm --adapter run1 --data demo-data/test.jsonl",
                "  fedqlora eval --model minilm --format nf2 --adapter run1 --data test.jsonl --predictions pred.jsonl",
                "",
                "--format defaults to the one the adapter was trained with; another format evaluates the same LoRA on a",
                "differently quantized base (its QA adapter is then fitted anew for that format).",
                "Predictions: one JSON line per example {\"index\", \"label\", \"predicted\", \"probabilities\"}.",
                "  fedqlora eval --model ./SmolLM2-135M-Instruct --adapter lm1 --data test.jsonl --generate answers.jsonl",
                "--generate: one JSON line per example {\"index\", \"line\", \"prompt\", \"reference\", \"generated\", \"stop\", ...}",
                "(greedy decoding with the KV cache, stopping at EOS / end of turn or --max-new-tokens)."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|PATH") String model;
    @Option(names = "--adapter", required = true, paramLabel = "DIR") Path adapter;
    @Option(names = "--data", required = true, paramLabel = "FILE") Path data;
    @Option(names = "--format", description = "Base precision (default: the adapter's).") String format;
    @Range(min = 1, max = 65_536) @Option(names = "--batch", defaultValue = "64") int batch;
    @Option(names = "--compute", defaultValue = "auto", paramLabel = "fp32|bf16|auto",
            description = "Precision of the frozen products (base linear layers, attention): bf16 with fp32 master "
                    + "weights, fp32, or auto = bf16 where the CPU has AMX, or avx512_bf16 on AMD (default: ${DEFAULT-VALUE}).")
    String compute;
    @Option(names = "--predictions", paramLabel = "FILE.jsonl") Path predictions;
    @Option(names = "--overwrite", description = "Replace --predictions (or --generate) if it exists.") boolean overwrite;
    @Option(names = "--generate", paramLabel = "FILE.jsonl",
            description = "causal-lm: write each example's greedy answer next to its reference.") Path generate;
    @Range(min = 1, max = 1 << 20) @Option(names = "--max-new-tokens", defaultValue = "128", description = "causal-lm --generate: answer length cap.")
    int maxNewTokens;
    @Option(names = "--chat-template", paramLabel = "auto|plain|FILE",
            description = "causal-lm: override the template the adapter was trained with.") String chatTemplate;
    @Option(names = "--allow-base-mismatch", description = "Evaluate even if --model is not the base model the adapter "
            + "was trained on (other name or other weights).") boolean allowBaseMismatch;

    /** What head.json records about a trained adapter, read and range-checked. */
    record Head(List<String> labels, String pooling, String baseModel, String baseHash, String format, int groupSize,
                boolean doubleQuant, int qaRank, String qaMethod, int maxLength, String textField, String labelField) {
        static Head read(Path file) {
            String recovery = "restore it from the run that wrote it, or train again";
            JsonNode h = Jsons.readObject(file, "the classifier head's description", recovery);
            long version = h.has("version") ? Jsons.requireLong(h, "version", 1, Integer.MAX_VALUE, file, recovery) : 1;
            if (version > 1) {
                throw new UserException(file + " was written by a newer fedqlora (version " + version + "): upgrade fedqlora");
            }
            JsonNode l = Jsons.requireArray(h, "labels", file, recovery);
            List<String> labels = new ArrayList<>();
            for (JsonNode x : l) {
                if (!x.isTextual()) {
                    throw new UserException(file + ": 'labels' should list label names, got " + l + "; " + recovery);
                }
                labels.add(x.asText());
            }
            if (labels.size() < 2 || new java.util.HashSet<>(labels).size() != labels.size()) {
                throw new UserException(file + ": 'labels' should list at least 2 distinct names, got " + l + "; " + recovery);
            }
            return new Head(labels, text(h, "pooling", "mean", file, recovery), Jsons.requireText(h, "base_model", file, recovery),
                    text(h, BaseModelHash.KEY, "", file, recovery), text(h, "format", "fp32", file, recovery),
                    (int) optLong(h, "group_size", 64, 1, 1 << 20, file, recovery), h.path("double_quant").asBoolean(false),
                    (int) optLong(h, "qa_rank", 0, 0, 4096, file, recovery), text(h, "qa_method", "svd", file, recovery),
                    (int) optLong(h, "max_length", 0, 0, 1 << 20, file, recovery), text(h, "text_field", "text", file, recovery),
                    text(h, "label_field", "label", file, recovery));
        }

        private static String text(JsonNode h, String key, String def, Path file, String recovery) {
            return h.has(key) ? Jsons.requireText(h, key, file, recovery) : def;
        }

        private static long optLong(JsonNode h, String key, long def, long min, long max, Path file, String recovery) {
            return h.has(key) ? Jsons.requireLong(h, key, min, max, file, recovery) : def;
        }
    }

    @Override
    public Integer call() throws IOException {
        if (Files.isRegularFile(adapter.resolve(CausalLmTasks.LM_JSON))) {
            return CausalLmTasks.eval(this);
        }
        if (generate != null) {
            throw new UserException("--generate needs a causal-lm adapter (" + adapter + " has no "
                    + CausalLmTasks.LM_JSON + ")");
        }
        Path headJson = adapter.resolve("head.json");
        if (!Files.isRegularFile(headJson)) {
            throw new UserException(adapter + " has no head.json: pass the --out folder of 'fedqlora train'");
        }
        Head h = Head.read(headJson);
        if (predictions != null) {
            Outputs.checkFile(predictions, overwrite);
        }
        PeftFormat.Adapter peft = PeftFormat.read(adapter.resolve("adapter"));
        ModelFolder folder = Models.open(model);
        if (!allowBaseMismatch && !h.baseModel().equals(folder.baseModelName())) {
            throw new UserException("the adapter in " + adapter + " was trained on '" + h.baseModel() + "' but --model is '"
                    + folder.baseModelName() + "': pass the same base model, or --allow-base-mismatch to evaluate anyway");
        }
        String recorded = !h.baseHash().isEmpty() ? h.baseHash() : peft.baseModelHash();
        BaseModelHash.check(recorded, folder, headJson.toString(), allowBaseMismatch);
        LabelMap labels = new LabelMap(h.labels());
        Dataset test = DatasetFiles.load(data, new Fields(h.textField(), h.labelField()), labels);
        String trainedFormat = h.format();
        String fmt = format == null ? trainedFormat : format;
        boolean sameFormat = fmt.equalsIgnoreCase(trainedFormat);
        QuantSpec spec = new QuantSpec(QuantFormat.parse(fmt), h.groupSize(), sameFormat && h.doubleQuant());
        QaSpec qa = new QaSpec(h.qaRank(), QaSpec.Method.parse(h.qaMethod()), 4);
        try (QuantizedModel qm = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED,
                h.maxLength());
             AdapterSet adapters = qm.newAdapters(peft.config(), 0, qa.enabled());
             ClassificationHead head = ClassificationHead.init(qm.encoder().manager(),
                     qm.encoder().encoder().config().hidden(), labels.size(), 0)) {
            qm.encoder().setCompute(Compute.parse(compute));
            try {
                adapters.loadLoraState(peft.tensors());
            } catch (UserException | IllegalArgumentException e) {
                throw new UserException(adapter.resolve("adapter").resolve(PeftFormat.WEIGHTS) + ": " + e.getMessage()
                        + " (the adapter does not fit this model, or the file is damaged)", e);
            }
            Path savedQa = adapter.resolve("qa_adapter.safetensors");
            if (qa.enabled() && sameFormat && Files.isRegularFile(savedQa)) {
                SafetensorsFile f = SafetensorsFile.open(savedQa);
                Map<String, HostTensor> state = new java.util.LinkedHashMap<>();
                f.names().forEach(n -> state.put(n, f.get(n)));
                adapters.loadQaState(state);
            }
            SafetensorsFile hf = SafetensorsFile.open(adapter.resolve("head.safetensors"));
            head.load(Map.of(ClassificationHead.WEIGHT, hf.get(ClassificationHead.WEIGHT),
                    ClassificationHead.BIAS, hf.get(ClassificationHead.BIAS)));
            adapters.attach();
            TextClassifier clf = new TextClassifier(qm.encoder(), adapters, head, Pooling.parse(h.pooling()));
            EncodedExamples ex = EncodedExamples.of(test.examples(), qm.encoder().tokenizer(),
                    qm.encoder().encoder().config().padTokenId());
            long t0 = System.nanoTime();
            Evaluator.Result r = Evaluator.evaluate(clf, ex, batch, qm.encoder().manager());
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "%s on %s (%s base%s, " + qm.encoder().compute().id()
                            + " compute): accuracy %.4f, macro-F1 %.4f, loss %.4f over %d examples (%.1f s)%n",
                    adapter, data, qm.format(), qa.enabled() ? " + QA" : "", r.metrics().accuracy(), r.metrics().macroF1(),
                    r.metrics().loss(), ex.size(), secs);
            if (predictions != null) {
                writePredictions(r, test, labels);
                System.out.println("wrote " + predictions);
            }
        }
        return 0;
    }

    private void writePredictions(Evaluator.Result r, Dataset test, LabelMap labels) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Outputs.createDirs(predictions.toAbsolutePath().getParent());
        Path tmp = Files.createTempFile(predictions.toAbsolutePath().getParent(), ".pred", ".tmp");
        try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            for (int i = 0; i < test.size(); i++) {
                ObjectNode o = json.createObjectNode();
                o.put("index", i);
                o.put("label", labels.name(test.get(i).label()));
                o.put("predicted", labels.name(r.predicted()[i]));
                var p = o.putArray("probabilities");
                for (float v : r.probabilities()[i]) {
                    p.add(Math.round(v * 1e6) / 1e6);
                }
                w.write(json.writeValueAsString(o));
                w.newLine();
            }
        }
        Files.move(tmp, predictions, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
