package org.fedqlora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.PeftFormat;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.Fields;
import org.fedqlora.data.Splits;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.model.Pooling;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.train.ClassificationHead;
import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.Evaluator;
import org.fedqlora.train.Metrics;
import org.fedqlora.train.Optimizer;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.train.TextClassifier;
import org.fedqlora.train.TrainOptions;
import org.fedqlora.train.Trainer;
import org.fedqlora.nn.Compute;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fedqlora train}: one client's LoRA fine-tuning on a quantized base, for text classification. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tune a LoRA adapter and a classification head on a quantized, frozen base model.",
                "The effective weight of each linear layer is Q(W) + L·R (QA adapter, frozen unless --train-qa)",
                "+ (alpha/r)·B·A (LoRA)."},
        footer = {"", "Examples:",
                "  fedqlora data demo --out demo-data",
                "  fedqlora train --model minilm --data demo-data/train.jsonl --eval demo-data/test.jsonl --format nf4 --out run1",
                "  fedqlora train --model minilm --data news.parquet --format nf2 --qa-rank 16 --lora-rank 8 \\",
                "      --targets query,value --epochs 2 --optimizer sgd --lr 1e-3 --out run2",
                "",
                "Writes OUT/adapter/ (PEFT: adapter_model.safetensors + adapter_config.json), OUT/head.safetensors,",
                "OUT/head.json (pooling, labels, base model, format), OUT/metrics.json, and OUT/qa_adapter.safetensors",
                "(the client's private QA adapter, never part of the PEFT export)."})
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|PATH") String model;
    @Option(names = "--data", required = true, paramLabel = "FILE",
            description = ".jsonl, .csv or .parquet; instruction JSONL (instruction/output or messages) for causal-lm") Path data;
    @Option(names = "--task", defaultValue = "auto", paramLabel = "auto|classification|causal-lm",
            description = "auto: causal-lm (instruction tuning of a decoder) when --data holds instruction rows, else "
                    + "classification (default: ${DEFAULT-VALUE}).") String task;
    @Option(names = "--chat-template", defaultValue = "auto", paramLabel = "auto|plain|FILE",
            description = "causal-lm: the model's chat template (auto; plain when it has none), the plain template, "
                    + "or a Jinja file (default: ${DEFAULT-VALUE}).") String chatTemplate;
    @Option(names = "--eval", paramLabel = "FILE", description = "Evaluation file; default: --eval-fraction of --data.") Path eval;
    @Range(min = 0, max = 1, minExclusive = true, maxExclusive = true) @Option(names = "--eval-fraction", defaultValue = "0.1") double evalFraction;
    @Option(names = "--text-field", defaultValue = "text") String textField;
    @Option(names = "--label-field", defaultValue = "label") String labelField;
    @Option(names = "--format", defaultValue = "fp32", description = "Base precision (default: ${DEFAULT-VALUE}).") String format;
    @Range(min = 1, max = 1 << 20) @Option(names = "--group-size", defaultValue = "64") int groupSize;
    @Option(names = "--double-quant") boolean doubleQuant;
    @Range(min = 1, max = 4096, zero = "no QA adapter") @Option(names = "--qa-rank", defaultValue = "0", description = "QA adapter rank (0 = none; default: ${DEFAULT-VALUE}).") int qaRank;
    @Option(names = "--qa-method", defaultValue = "svd") String qaMethod;
    @Range(min = 1, max = 1000) @Option(names = "--qa-iters", defaultValue = "4") int qaIters;
    @Option(names = "--train-qa", description = "Also train the QA adapter (default: frozen).") boolean trainQa;
    @Range(min = 1, max = 4096) @Option(names = "--lora-rank", defaultValue = "8") int loraRank;
    @Range(min = 0, max = 1e6, minExclusive = true) @Option(names = "--lora-alpha", defaultValue = "16") float loraAlpha;
    @Range(min = 0, max = 1, maxExclusive = true) @Option(names = "--lora-dropout", defaultValue = "0.0") float loraDropout;
    @Option(names = "--targets", defaultValue = "query,value", split = ",",
            description = "LoRA targets (HF names or suffixes; default: ${DEFAULT-VALUE}).") List<String> targets;
    @Option(names = "--pooling", defaultValue = "auto",
            description = "auto (mean for encoders, last token for decoders), mean, cls or last") String pooling;
    @Range(min = 1, max = 100_000) @Option(names = "--epochs", defaultValue = "1") int epochs;
    @Range(min = 1, max = 1e9, zero = "train --epochs passes") @Option(names = "--steps", defaultValue = "0", description = "Train this many steps instead of --epochs.") int steps;
    @Range(min = 1, max = 65_536) @Option(names = "--batch", defaultValue = "16") int batch;
    @Range(min = 3, max = 1 << 20) @Option(names = "--max-length", defaultValue = "128") int maxLength;
    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd") String optimizer;
    @Range(min = 0, max = 10, minExclusive = true) @Option(names = "--lr", defaultValue = "1e-3") float lr;
    @Range(min = 0, max = 100) @Option(names = "--weight-decay", defaultValue = "0.0") float weightDecay;
    @Range(min = 0, max = 1, maxExclusive = true) @Option(names = "--momentum", defaultValue = "0.0") float momentum;
    @Range(min = 0, max = 1e6, minExclusive = true, zero = "no clipping") @Option(names = "--max-grad-norm", defaultValue = "1.0") float maxGradNorm;
    @Range(min = 0, max = 1e9) @Option(names = "--warmup", defaultValue = "0", description = "Linear warm-up steps.") int warmup;
    @Option(names = "--no-decay", description = "Constant learning rate after warm-up.") boolean noDecay;
    @Range(min = 1, max = 1e9, zero = "evaluate at the end only") @Option(names = "--eval-every", defaultValue = "0", description = "Evaluate every N steps (0 = at the end).") int evalEvery;
    @Range(min = Long.MIN_VALUE, max = Long.MAX_VALUE) @Option(names = "--seed", defaultValue = "1") long seed;
    @Option(names = "--compute", defaultValue = "auto", paramLabel = "fp32|bf16|auto",
            description = "Precision of the frozen products (base linear layers, attention): bf16 with fp32 master "
                    + "weights, fp32, or auto = bf16 where the CPU has AMX, or avx512_bf16 on AMD (default: ${DEFAULT-VALUE}).")
    String compute;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
    @Option(names = "--overwrite", description = "Write into a non-empty --out.") boolean overwrite;

    @Override
    public Integer call() throws Exception {
        if (CausalLmTasks.isCausalLm(task, data)) {
            return CausalLmTasks.train(this);
        }
        QuantSpec spec = new QuantSpec(QuantFormat.parse(format), groupSize, doubleQuant);
        QaSpec qa = new QaSpec(qaRank, QaSpec.Method.parse(qaMethod), qaIters);
        LoraConfig lora = new LoraConfig(loraRank, loraAlpha, loraDropout, targets);
        TrainOptions options = new TrainOptions(epochs, steps, batch, Optimizer.Kind.parse(optimizer), lr, weightDecay,
                momentum, maxGradNorm, warmup, !noDecay, seed, evalEvery, 0f);
        if (!pooling.equalsIgnoreCase("auto")) {
            Pooling.parse(pooling);   // fail before loading anything
        }
        Compute precision = Compute.parse(compute);
        Outputs.checkDir(out, overwrite);
        Fields fields = new Fields(textField, labelField);
        Dataset train = DatasetFiles.load(data, fields);
        Dataset test;
        if (eval != null) {
            test = DatasetFiles.load(eval, fields, train.labels());
        } else {
            Splits.TrainEval split = Splits.trainEval(train, evalFraction, seed);
            train = split.train();
            test = split.eval();
        }
        System.err.printf(Locale.ROOT, "data: %d train / %d eval examples, %d labels %s%n", train.size(), test.size(),
                train.labels().size(), train.labels().labels());
        ModelFolder folder = Models.open(model);
        long t0 = System.nanoTime();
        try (QuantizedModel qm = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED, maxLength)) {
            qm.encoder().setCompute(precision);
            System.err.printf(Locale.ROOT, "model: %s, base %s%s, %s compute, loaded in %.1f s%n", folder.name(),
                    qm.format(), qa.enabled() ? " + QA rank " + qa.rank() + " " + qa.method().id() : "", precision.id(),
                    (System.nanoTime() - t0) / 1e9);
            Pooling pool = Pooling.parse(pooling, qm.encoder().encoder());
            var tok = qm.encoder().tokenizer();
            long pad = qm.encoder().encoder().config().padTokenId();
            EncodedExamples trainEx = EncodedExamples.of(train.examples(), tok, pad);
            EncodedExamples testEx = EncodedExamples.of(test.examples(), tok, pad);
            try (AdapterSet adapters = qm.newAdapters(lora, seed, qa.enabled());
                 ClassificationHead head = ClassificationHead.init(qm.encoder().manager(),
                         qm.encoder().encoder().config().hidden(), train.labels().size(), seed)) {
                adapters.attach();
                TextClassifier clf = new TextClassifier(qm.encoder(), adapters, head, pool);
                List<ai.djl.ndarray.NDArray> params = clf.trainable(false, trainQa);
                Trainer.Result result;
                try (Progress progress = new Progress("train", options.totalSteps(trainEx.size()), "step")) {
                    result = Trainer.train(clf, params, trainEx, testEx, options, null, new Trainer.Listener() {
                        @Override
                        public void step(int step, int total, float loss, long tokens, double seconds) {
                            progress.advance(1, String.format(Locale.ROOT, "loss %.4f  %.0f tok/s", loss, tokens / seconds));
                        }

                        @Override
                        public void evaluated(int step, Metrics m) {
                            System.err.printf(Locale.ROOT, "%nstep %d: eval accuracy %.4f, macro-F1 %.4f%n", step,
                                    m.accuracy(), m.macroF1());
                        }
                    });
                }
                Metrics finalEval = Evaluator.evaluate(clf, testEx, 64, qm.encoder().manager()).metrics();
                Outputs.createDirs(out);
                save(qm, folder, adapters, head, train, result, finalEval, pool, lora, spec, qa);
                System.out.printf(Locale.ROOT, "eval accuracy %.4f, macro-F1 %.4f (%d examples); %d steps in %.1f s "
                                + "(%.0f tokens/s); wrote %s%n", finalEval.accuracy(), finalEval.macroF1(), testEx.size(),
                        result.steps(), result.seconds(), result.tokens() / result.seconds(), out);
            }
        }
        return 0;
    }

    private void save(QuantizedModel qm, ModelFolder folder, AdapterSet adapters, ClassificationHead head, Dataset train,
                      Trainer.Result result, Metrics finalEval, Pooling pool, LoraConfig lora, QuantSpec spec, QaSpec qa)
            throws java.io.IOException {
        ObjectMapper json = new ObjectMapper();
        String baseHash = folder.contentHash();
        PeftFormat.write(out.resolve("adapter"), adapters, folder.baseModelName(), baseHash, null);
        SafetensorsWriter hw = new SafetensorsWriter();
        head.state().forEach(hw::put);
        hw.write(out.resolve("head.safetensors"));
        ObjectNode h = json.createObjectNode();
        h.put("version", 1);
        h.put("pooling", pool.name().toLowerCase(Locale.ROOT));
        h.set("labels", json.valueToTree(train.labels().labels()));
        h.put("hidden_size", qm.encoder().encoder().config().hidden());
        h.put("base_model", folder.baseModelName());
        h.put(org.fedqlora.model.BaseModelHash.KEY, baseHash);
        h.put("format", qm.format());
        h.put("group_size", spec.groupSize());
        h.put("double_quant", spec.doubleQuant());
        h.put("qa_rank", qa.rank());
        h.put("qa_method", qa.method().id());
        h.put("max_length", qm.encoder().tokenizer().maxLength());
        h.put("text_field", textField);
        h.put("label_field", labelField);
        Outputs.writeAtomically(out.resolve("head.json"), json.writerWithDefaultPrettyPrinter().writeValueAsBytes(h));
        if (!adapters.qas().isEmpty()) {
            SafetensorsWriter qw = new SafetensorsWriter().metadata("private", "QA adapter of this client; never shared");
            adapters.qaState().forEach(qw::put);
            qw.write(out.resolve("qa_adapter.safetensors"));
        }
        ObjectNode m = json.createObjectNode();
        ArrayNode losses = m.putArray("train_loss");
        result.losses().forEach(l -> losses.add(Math.round(l * 1e5) / 1e5));
        m.set("eval", metricsJson(json, finalEval, train.labels().labels()));
        ArrayNode evals = m.putArray("evals");
        for (int i = 0; i < result.evals().size(); i++) {
            ObjectNode e = evals.addObject();
            e.put("step", (i + 1) * evalEvery);
            e.put("accuracy", result.evals().get(i).accuracy());
            e.put("macro_f1", result.evals().get(i).macroF1());
        }
        m.put("steps", result.steps());
        m.put("seconds", result.seconds());
        m.put("tokens_per_s", result.tokens() / result.seconds());
        m.put("compute", qm.encoder().compute().id());
        Outputs.writeAtomically(out.resolve("metrics.json"), json.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
    }

    static ObjectNode metricsJson(ObjectMapper json, Metrics m, List<String> labels) {
        ObjectNode e = json.createObjectNode();
        e.put("accuracy", m.accuracy());
        e.put("macro_f1", m.macroF1());
        e.put("loss", m.loss());
        e.put("examples", m.total());
        e.set("labels", json.valueToTree(labels));
        e.set("confusion", json.valueToTree(m.confusion()));
        return e;
    }

}
