package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.PeftFormat;
import org.fedqlora.data.ChatMessage;
import org.fedqlora.data.Conversation;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.InstructionFiles;
import org.fedqlora.data.Splits;
import org.fedqlora.generate.Generator;
import org.fedqlora.generate.Sampling;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.tokenize.ChatEncoder;
import org.fedqlora.train.InstructionExamples;
import org.fedqlora.train.InstructionTuning;
import org.fedqlora.train.LanguageModel;
import org.fedqlora.train.LmMetrics;
import org.fedqlora.train.Optimizer;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.train.TrainOptions;
import org.fedqlora.train.Trainer;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code train} and {@code eval} for instruction tuning (task {@code causal-lm}): a decoder, instruction data,
 * loss over response tokens. The adapter folder holds {@code adapter/} (PEFT, task_type CAUSAL_LM),
 * {@code lm.json} (what eval needs to rebuild the model), {@code metrics.json} and the private
 * {@code qa_adapter.safetensors}.
 */
final class CausalLmTasks {
    static final String TASK_AUTO = "auto";
    static final String TASK_CLASSIFICATION = "classification";
    static final String TASK_CAUSAL_LM = "causal-lm";
    static final String LM_JSON = "lm.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private CausalLmTasks() {
    }

    /** Whether {@code task} (auto: by the data's shape) means instruction tuning. */
    static boolean isCausalLm(String task, Path data) {
        return switch (task) {
            case TASK_CAUSAL_LM -> true;
            case TASK_CLASSIFICATION -> false;
            case TASK_AUTO -> InstructionFiles.looksLikeInstructions(data);
            default -> throw new UserException("--task " + task + ": valid tasks are auto (causal-lm for instruction "
                    + "data, classification for text/label data), classification, causal-lm");
        };
    }

    private static void warn(String message) {
        System.err.println("warning: " + message);
    }

    static int train(TrainCommand c) throws IOException {
        QuantSpec spec = new QuantSpec(QuantFormat.parse(c.format), c.groupSize, c.doubleQuant);
        QaSpec qa = new QaSpec(c.qaRank, QaSpec.Method.parse(c.qaMethod), c.qaIters);
        LoraConfig lora = new LoraConfig(c.loraRank, c.loraAlpha, c.loraDropout, c.targets);
        TrainOptions options = new TrainOptions(c.epochs, c.steps, c.batch, Optimizer.Kind.parse(c.optimizer), c.lr,
                c.weightDecay, c.momentum, c.maxGradNorm, c.warmup, !c.noDecay, c.seed, c.evalEvery, 0f);
        ModelFolder folder = Models.open(c.model);
        InstructionTuning.requireDecoder(folder);
        Outputs.prepareDir(c.out, c.overwrite);
        Dataset train = InstructionFiles.asDataset(InstructionFiles.load(c.data));
        Dataset test;
        if (c.eval != null) {
            test = InstructionFiles.asDataset(InstructionFiles.load(c.eval));
        } else {
            Splits.TrainEval split = Splits.trainEval(train, c.evalFraction, c.seed);
            train = split.train();
            test = split.eval();
        }
        long t0 = System.nanoTime();
        try (ChatEncoder enc = InstructionTuning.encoder(folder, c.chatTemplate, c.maxLength, CausalLmTasks::warn)) {
            // data and template problems surface before the model is loaded
            long pad = LlamaConfig.fromJson(folder.config()).padTokenId();
            InstructionExamples trainEx = InstructionTuning.encode(enc, InstructionFiles.conversations(train), pad,
                    c.data.toString(), CausalLmTasks::warn);
            InstructionExamples testEx = InstructionTuning.encode(enc, InstructionFiles.conversations(test), pad,
                    c.eval != null ? c.eval.toString() : c.data + " (eval part)", CausalLmTasks::warn);
            System.err.printf(Locale.ROOT, "data: %d train / %d eval conversations (%s), template: %s%n",
                    trainEx.size(), testEx.size(), c.data, enc.template().origin());
            try (QuantizedModel qm = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED,
                    c.maxLength)) {
                System.err.printf(Locale.ROOT, "model: %s, base %s%s, loaded in %.1f s%n", folder.name(), qm.format(),
                        qa.enabled() ? " + QA rank " + qa.rank() + " " + qa.method().id() : "",
                        (System.nanoTime() - t0) / 1e9);
                trainAndSave(c, folder, qm, enc, lora, spec, qa, options, trainEx, testEx);
            }
        }
        return 0;
    }

    private static void trainAndSave(TrainCommand c, ModelFolder folder, QuantizedModel qm, ChatEncoder enc,
                                     LoraConfig lora, QuantSpec spec, QaSpec qa, TrainOptions options,
                                     InstructionExamples trainEx, InstructionExamples testEx) throws IOException {
        try (AdapterSet adapters = qm.newAdapters(lora, c.seed, qa.enabled())) {
            adapters.attach();
            LanguageModel lm = new LanguageModel(qm.encoder(), adapters);
            Trainer.Result result;
            try (Progress progress = new Progress("train", options.totalSteps(trainEx.size()), "step")) {
                result = Trainer.run(lm.objective(trainEx), lm.trainable(false, c.trainQa), options, null, null,
                        new Trainer.Listener() {
                            @Override
                            public void step(int step, int total, float loss, long tokens, double seconds) {
                                progress.advance(1, String.format(Locale.ROOT, "loss %.4f  %.0f tok/s", loss,
                                        tokens / seconds));
                            }
                        });
            }
            LmMetrics m = LanguageModel.evaluate(lm, testEx, Math.max(8, c.batch));
            saveTrained(c, folder, qm, enc, adapters, spec, qa, result, m);
            System.out.printf(Locale.ROOT, "eval loss %.4f, perplexity %.3f (%d response tokens, %d examples); "
                            + "%d steps in %.1f s (%.0f tokens/s); wrote %s%n", m.loss(), m.perplexity(), m.tokens(),
                    m.examples(), result.steps(), result.seconds(), result.tokens() / result.seconds(), c.out);
        }
    }

    private static void saveTrained(TrainCommand c, ModelFolder folder, QuantizedModel qm, ChatEncoder enc,
                                    AdapterSet adapters, QuantSpec spec, QaSpec qa, Trainer.Result result, LmMetrics m)
            throws IOException {
        PeftFormat.write(c.out.resolve("adapter"), adapters, folder.baseModelName(), folder.contentHash(), "CAUSAL_LM");
        ObjectNode h = JSON.createObjectNode();
        h.put("version", 1);
        h.put("task", TASK_CAUSAL_LM);
        h.put("base_model", folder.baseModelName());
        h.put("format", qm.format());
        h.put("group_size", spec.groupSize());
        h.put("double_quant", spec.doubleQuant());
        h.put("qa_rank", qa.rank());
        h.put("qa_method", qa.method().id());
        h.put("max_length", enc.maxLength());
        h.put("chat_template", c.chatTemplate);
        Outputs.writeAtomically(c.out.resolve(LM_JSON), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(h));
        if (!adapters.qas().isEmpty()) {
            SafetensorsWriter qw = new SafetensorsWriter().metadata("private", "QA adapter of this client; never shared");
            adapters.qaState().forEach(qw::put);
            qw.write(c.out.resolve("qa_adapter.safetensors"));
        }
        ObjectNode o = JSON.createObjectNode();
        ArrayNode losses = o.putArray("train_loss");
        result.losses().forEach(l -> losses.add(Math.round(l * 1e5) / 1e5));
        o.set("eval", metricsJson(m));
        o.put("steps", result.steps());
        o.put("seconds", result.seconds());
        o.put("tokens_per_s", result.tokens() / result.seconds());
        Outputs.writeAtomically(c.out.resolve("metrics.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o));
    }

    static ObjectNode metricsJson(LmMetrics m) {
        ObjectNode e = JSON.createObjectNode();
        e.put("loss", m.loss());
        e.put("perplexity", m.perplexity());
        e.put("tokens", m.tokens());
        e.put("examples", m.examples());
        return e;
    }

    static int eval(EvalCommand c) throws IOException {
        JsonNode h = JSON.readTree(c.adapter.resolve(LM_JSON).toFile());
        if (h.path("version").asInt(1) > 1) {
            throw new UserException(c.adapter.resolve(LM_JSON) + " was written by a newer fedqlora (version "
                    + h.path("version").asInt() + ")");
        }
        if (c.generate != null) {
            Outputs.checkFile(c.generate, c.overwrite);
        }
        ModelFolder folder = Models.open(c.model);
        InstructionTuning.requireDecoder(folder);
        String trainedOn = h.path("base_model").asText();
        if (!trainedOn.equals(folder.baseModelName())) {
            throw new UserException("the adapter in " + c.adapter + " was trained on '" + trainedOn + "' but --model is '"
                    + folder.baseModelName() + "': pass the same base model");
        }
        PeftFormat.Adapter peft = PeftFormat.read(c.adapter.resolve("adapter"));
        InstructionFiles.Instructions data = InstructionFiles.load(c.data);
        String trainedFormat = h.path("format").asText("fp32");
        String fmt = c.format == null ? trainedFormat : c.format;
        boolean sameFormat = fmt.equalsIgnoreCase(trainedFormat);
        QuantSpec spec = new QuantSpec(QuantFormat.parse(fmt), h.path("group_size").asInt(64),
                sameFormat && h.path("double_quant").asBoolean(false));
        QaSpec qa = new QaSpec(h.path("qa_rank").asInt(0), QaSpec.Method.parse(h.path("qa_method").asText("svd")), 4);
        String template = c.chatTemplate != null ? c.chatTemplate : h.path("chat_template").asText("auto");
        int maxLength = h.path("max_length").asInt(0);
        try (ChatEncoder enc = InstructionTuning.encoder(folder, template, maxLength, CausalLmTasks::warn);
             QuantizedModel qm = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED, maxLength);
             AdapterSet adapters = qm.newAdapters(peft.config(), 0, qa.enabled())) {
            adapters.loadLoraState(peft.tensors());
            Path savedQa = c.adapter.resolve("qa_adapter.safetensors");
            if (qa.enabled() && sameFormat && Files.isRegularFile(savedQa)) {
                SafetensorsFile f = SafetensorsFile.open(savedQa);
                Map<String, HostTensor> state = new LinkedHashMap<>();
                f.names().forEach(n -> state.put(n, f.get(n)));
                adapters.loadQaState(state);
            }
            adapters.attach();
            LanguageModel lm = new LanguageModel(qm.encoder(), adapters);
            InstructionExamples ex = InstructionTuning.encode(enc, data.conversations(),
                    qm.encoder().encoder().config().padTokenId(), c.data.toString(), CausalLmTasks::warn);
            long t0 = System.nanoTime();
            LmMetrics m = LanguageModel.evaluate(lm, ex, c.batch);
            System.out.printf(Locale.ROOT, "%s on %s (%s base%s): loss %.4f, perplexity %.3f over %d response tokens "
                            + "(%d examples, %.1f s)%n", c.adapter, c.data, qm.format(), qa.enabled() ? " + QA" : "",
                    m.loss(), m.perplexity(), m.tokens(), m.examples(), (System.nanoTime() - t0) / 1e9);
            if (c.generate != null) {
                generate(c, lm, enc, data);
                System.out.println("wrote " + c.generate);
            }
        }
        return 0;
    }

    /** Greedy answers to each example's last prompt, next to the reference answers. */
    private static void generate(EvalCommand c, LanguageModel lm, ChatEncoder enc, InstructionFiles.Instructions data)
            throws IOException {
        LlamaModel model = lm.decoder();
        Set<Long> stops = new HashSet<>();
        model.config().eosTokenIds().forEach(i -> stops.add((long) i));
        String eos = enc.template().special().get("eos_token");
        if (eos != null && enc.tokenId(eos) >= 0) {
            stops.add(enc.tokenId(eos));
        }
        Generator.Options o = new Generator.Options(c.maxNewTokens, stops, List.of(), Sampling.greedy());
        Path tmp = Files.createTempFile(c.generate.toAbsolutePath().getParent(), ".generate", ".tmp");
        try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8);
             Progress progress = new Progress("generate", data.size(), "example")) {
            for (int i = 0; i < data.size(); i++) {
                Conversation conv = data.conversations().get(i);
                List<ChatMessage> prompt = conv.promptForLastAnswer();
                long[] ids = enc.promptIds(prompt);
                Generator.Result r = Generator.generate(model, lm.encoder().manager(), ids, o, enc::decode, null);
                ObjectNode line = JSON.createObjectNode();
                line.put("index", i);
                line.put("line", data.lines().get(i));
                if (conv.category() != null) {
                    line.put("category", conv.category());
                }
                line.put("prompt", prompt.isEmpty() ? "" : prompt.get(prompt.size() - 1).content());
                line.put("reference", conv.lastAnswer());
                line.put("generated", r.text());
                line.put("stop", r.stop().name().toLowerCase(Locale.ROOT));
                line.put("prompt_tokens", ids.length);
                line.put("generated_tokens", r.generatedIds().length);
                w.write(JSON.writeValueAsString(line));
                w.newLine();
                progress.advance(1);
            }
        }
        Files.move(tmp, c.generate, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
