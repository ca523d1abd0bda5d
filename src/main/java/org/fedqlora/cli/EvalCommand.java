package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
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
        description = "Evaluate an adapter written by 'train' (or a federated run) on a labelled data file.",
        footer = {"", "Examples:",
                "  fedqlora eval --model minilm --adapter run1 --data demo-data/test.jsonl",
                "  fedqlora eval --model minilm --format nf2 --adapter run1 --data test.jsonl --predictions pred.jsonl",
                "",
                "--format defaults to the one the adapter was trained with; another format evaluates the same LoRA on a",
                "differently quantized base (its QA adapter is then fitted anew for that format).",
                "Predictions: one JSON line per example {\"index\", \"label\", \"predicted\", \"probabilities\"}."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|PATH") String model;
    @Option(names = "--adapter", required = true, paramLabel = "DIR") Path adapter;
    @Option(names = "--data", required = true, paramLabel = "FILE") Path data;
    @Option(names = "--format", description = "Base precision (default: the adapter's).") String format;
    @Option(names = "--batch", defaultValue = "64") int batch;
    @Option(names = "--compute", defaultValue = "auto", paramLabel = "fp32|bf16|auto",
            description = "Precision of the frozen products (base linear layers, attention): bf16 with fp32 master "
                    + "weights, fp32, or auto = bf16 where the CPU has avx512_bf16 or AMX (default: ${DEFAULT-VALUE}).")
    String compute;
    @Option(names = "--predictions", paramLabel = "FILE.jsonl") Path predictions;
    @Option(names = "--overwrite", description = "Replace --predictions if it exists.") boolean overwrite;

    @Override
    public Integer call() throws IOException {
        Path headJson = adapter.resolve("head.json");
        if (!Files.isRegularFile(headJson)) {
            throw new UserException(adapter + " has no head.json: pass the --out folder of 'fedqlora train'");
        }
        JsonNode h = new ObjectMapper().readTree(headJson.toFile());
        if (h.path("version").asInt(1) > 1) {
            throw new UserException(headJson + " was written by a newer fedqlora (version " + h.path("version").asInt() + ")");
        }
        if (predictions != null) {
            Outputs.checkFile(predictions, overwrite);
        }
        ModelFolder folder = Models.open(model);
        String trainedOn = h.path("base_model").asText();
        if (!trainedOn.equals(folder.baseModelName())) {
            throw new UserException("the adapter in " + adapter + " was trained on '" + trainedOn + "' but --model is '"
                    + folder.baseModelName() + "': pass the same base model");
        }
        PeftFormat.Adapter peft = PeftFormat.read(adapter.resolve("adapter"));
        List<String> labelNames = new ArrayList<>();
        h.path("labels").forEach(l -> labelNames.add(l.asText()));
        LabelMap labels = new LabelMap(labelNames);
        Dataset test = DatasetFiles.load(data, new Fields(h.path("text_field").asText("text"),
                h.path("label_field").asText("label")), labels);
        String trainedFormat = h.path("format").asText("fp32");
        String fmt = format == null ? trainedFormat : format;
        boolean sameFormat = fmt.equalsIgnoreCase(trainedFormat);
        QuantSpec spec = new QuantSpec(QuantFormat.parse(fmt), h.path("group_size").asInt(64),
                sameFormat && h.path("double_quant").asBoolean(false));
        int qaRank = h.path("qa_rank").asInt(0);
        QaSpec qa = new QaSpec(qaRank, QaSpec.Method.parse(h.path("qa_method").asText("svd")), 4);
        try (QuantizedModel qm = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED,
                h.path("max_length").asInt(0));
             AdapterSet adapters = qm.newAdapters(peft.config(), 0, qa.enabled());
             ClassificationHead head = ClassificationHead.init(qm.encoder().manager(),
                     qm.encoder().encoder().config().hidden(), labels.size(), 0)) {
            qm.encoder().setCompute(Compute.parse(compute));
            adapters.loadLoraState(peft.tensors());
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
            TextClassifier clf = new TextClassifier(qm.encoder(), adapters, head, Pooling.parse(h.path("pooling").asText("mean")));
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
