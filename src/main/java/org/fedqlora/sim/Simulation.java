package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.nn.Compute;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.report.HtmlReport;
import org.fedqlora.sim.config.ConfigWriter;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.train.ClassificationHead;
import org.fedqlora.data.Conversation;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.InstructionFiles;
import org.fedqlora.tokenize.ChatEncoder;
import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.InstructionExamples;
import org.fedqlora.train.InstructionTuning;
import org.fedqlora.train.QuantizedModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The experiment runner: every run of a config (sweep combinations × seeds × experiments), every method of each
 * run on the same partition and seeds, and the output folder:
 * <pre>
 * config.yaml       the resolved config
 * partition.json    which examples each client holds, with label histograms and formats (single run)
 * metrics.jsonl     one line per method / round / client / split
 * summary.json      final and per-round results per method (+ "aggregate": mean ± std over seeds, for sweeps)
 * report.html       self-contained charts and tables
 * runs/ID/...       the same files per run, when the config has several runs
 * checkpoints/      state after every round; --resume continues from it
 * </pre>
 */
public final class Simulation {
    private static final Logger LOG = LoggerFactory.getLogger(Simulation.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Progress callbacks. */
    public interface Listener {
        default void runStarted(Run run, int index, int total) {
        }

        default void methodStarted(Run run, Method method) {
        }

        default void round(Run run, Method method, int round, int rounds, RoundRecord record) {
        }

        /** With differential privacy on, after every round: ε spent so far at δ (before {@link #round}). */
        default void privacy(Run run, Method method, int round, double epsilon, double delta) {
        }
    }

    private final SimConfig config;
    private final Path out;
    private final Listener listener;
    private final Map<String, QuantizedModel> models = new LinkedHashMap<>();
    private final Map<String, SimData> data = new LinkedHashMap<>();

    private Simulation(SimConfig config, Path out, Listener listener) {
        this.config = config;
        this.out = out;
        this.listener = listener;
    }

    /**
     * Runs {@code config} into {@code out}. A fresh run needs {@code out} absent or empty; {@code resume} continues
     * a run interrupted in {@code out} and refuses one written with a different config.
     *
     * @return the top-level summary.json
     */
    public static JsonNode run(SimConfig config, Path out, boolean resume, Listener listener) {
        if (!resume) {
            RunState.checkFresh(out);
        }
        Simulation s = new Simulation(config, out, listener);
        try {
            // everything is validated (data, partitions, models, formats) before any output exists
            s.preflight();
            RunState.Identity id = RunState.identity(config, model -> Models.open(model).contentHash());
            if (resume) {
                RunState.checkResume(out, config, id);
            } else {
                RunState.create(out, config, id);
            }
            try {
                JsonNode summary = s.runAll();
                RunState.finished(out, id);
                return summary;
            } catch (RuntimeException | Error e) {
                RunState.failed(out, id, e);
                throw e;
            }
        } finally {
            s.models.values().forEach(QuantizedModel::close);
        }
    }

    /**
     * The run folder of a deployed federation ({@code fedqlora server}): a fresh folder gets its identity (config
     * fingerprint and base-model hash; the data stay on the clients, so no data file is hashed), and {@code resume}
     * verifies it.
     */
    static void prepare(SimConfig config, Path out, boolean resume) {
        if (!resume) {
            RunState.checkFresh(out);
        }
        RunState.Identity id = RunState.identity(config, model -> Models.open(model).contentHash(), false);
        if (resume) {
            RunState.checkResume(out, config, id);
        } else {
            RunState.create(out, config, id);
        }
    }

    /** Loads every run's data and every base model its methods need (kept for the runs). */
    private void preflight() {
        for (Run run : config.runs()) {
            SimConfig c = run.config();
            data.put(run.id(), SimData.load(c));
            List<QuantFormat> formats = c.clientFormats();
            for (String id : c.methods()) {
                Method m = Method.parse(id);
                for (QuantFormat f : formats) {
                    model(c, SimContext.modelKey(c, m, m.baseFormat(f, formats)));
                }
            }
        }
    }

    private JsonNode runAll() throws UncheckedIOException {
        List<Run> runs = config.runs();
        boolean single = runs.size() == 1;
        List<RunSummary> summaries = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            Run run = runs.get(i);
            listener.runStarted(run, i + 1, runs.size());
            Path dir = single ? out : out.resolve("runs").resolve(run.id());
            summaries.add(runOne(run, dir));
        }
        if (single) {
            return summaries.get(0).summary();
        }
        ObjectNode top = Aggregate.summary(summaries, ConfigWriter.toJson(config));
        write(out.resolve("summary.json"), pretty(top));
        writeMetricsLines(out.resolve("metrics.jsonl"), summaries.stream().flatMap(s -> s.lines().stream()).toList());
        HtmlReport.write(out);
        return top;
    }

    /** A finished run: its summary and metric lines (tagged with the run). */
    record RunSummary(Run run, ObjectNode summary, List<ObjectNode> lines) {
    }

    private RunSummary runOne(Run run, Path dir) {
        SimConfig c = run.config();
        SimData data = this.data.get(run.id());
        Method first = Method.parse(c.methods().get(0));
        QuantizedModel any = model(c, SimContext.modelKey(c, first, first.baseFormat(c.clientFormats().get(0),
                c.clientFormats())));
        long pad = any.encoder().encoder().config().padTokenId();
        SimTask task = SimTask.of(c);
        TaskExamples pool;
        TaskExamples test;
        if (task.causalLm()) {
            InstructionTuning.requireDecoder(any.encoder().folder());
            try (ChatEncoder enc = InstructionTuning.encoder(any.encoder().folder(), c.data().chatTemplate(),
                    c.data().maxLength(), LOG::warn)) {
                pool = TaskExamples.of(encodeAligned(enc, data.train(), pad, "training pool"));
                test = TaskExamples.of(encodeAligned(enc, data.test(), pad, "global test set"));
            }
        } else {
            var tok = any.encoder().tokenizer();
            pool = TaskExamples.of(EncodedExamples.of(data.train().examples(), tok, pad));
            test = TaskExamples.of(EncodedExamples.of(data.test().examples(), tok, pad));
        }
        Map<String, HostTensor> initial = initialParameters(c, any, data.train().labels().size(), task);
        try {
            Files.createDirectories(dir);
            write(dir.resolve("partition.json"), pretty(partitionJson(c, data)));
        } catch (IOException e) {
            throw new UserException("cannot create " + dir + ": " + org.fedqlora.OutputPaths.why(e), e);
        }
        List<ObjectNode> lines = new ArrayList<>();
        ObjectNode methods = JSON.createObjectNode();
        ObjectNode summary = JSON.createObjectNode();
        for (String id : c.methods()) {
            Method m = Method.parse(id);
            listener.methodStarted(run, m);
            Checkpoint ckpt = new Checkpoint(out.resolve("checkpoints").resolve(run.id()).resolve(m.id));
            MethodRun.Result r = MethodRun.run(c, m, data, pool, test, key -> model(c, key), initial, ckpt,
                    new MethodRun.Listener() {
                        @Override
                        public void round(Method method, int round, int rounds, RoundRecord rec) {
                            listener.round(run, method, round, rounds, rec);
                        }

                        @Override
                        public void privacy(Method method, int round, double epsilon, double delta) {
                            listener.privacy(run, method, round, epsilon, delta);
                        }
                    });
            methods.set(m.id, Reports.methodSummary(r));
            for (ObjectNode l : r.lines()) {
                ObjectNode tagged = l.deepCopy();
                if (!run.label().isEmpty() || config.runs().size() > 1) {
                    tagged.put("run", run.id());
                }
                lines.add(tagged);
            }
            summary.set("methods", methods);
            summary.set("config", ConfigWriter.toJson(c));
            summary.put("run", run.id());
            summary.put("setting", run.label());
            summary.put("experiment", run.experiment());
            summary.put("seed", run.seed());
            summary.put("compute", any.encoder().compute().id());
            write(dir.resolve("summary.json"), pretty(summary));
            writeMetricsLines(dir.resolve("metrics.jsonl"), lines);
        }
        if (!dir.equals(out)) {
            write(dir.resolve("config.yaml"), ConfigWriter.toYaml(c).getBytes(StandardCharsets.UTF_8));
        }
        HtmlReport.write(dir);
        return new RunSummary(run, summary, lines);
    }

    /**
     * Conversations → ids and completion-only labels, one per example of {@code d} (indices stay those of the data
     * set, so the partition applies); truncation is reported, and examples left without a response token are kept
     * here but skipped by every client ({@link TaskExamples#subset}).
     */
    static InstructionExamples encodeAligned(ChatEncoder enc, Dataset d, long pad, String what) {
        List<ChatEncoder.Encoded> all = new ArrayList<>();
        int truncated = 0;
        int dropped = 0;
        long cut = 0;
        long targets = 0;
        for (Conversation conv : InstructionFiles.conversations(d)) {
            ChatEncoder.Encoded e = enc.encode(conv);
            truncated += e.truncated() ? 1 : 0;
            cut += e.targetsCut();
            dropped += e.targets() == 0 ? 1 : 0;
            targets += e.targets();
            all.add(e);
        }
        String w = new ChatEncoder.Stats(d.size(), truncated, cut, dropped, targets, enc.maxLength()).warning(what);
        if (w != null) {
            LOG.warn(w.replace("(--max-length)", "(data.max_length)"));
        }
        if (dropped == d.size()) {
            throw new UserException(what + ": no example keeps a response token within data.max_length = "
                    + enc.maxLength() + " tokens; raise data.max_length");
        }
        return InstructionExamples.of(all, pad);
    }

    /**
     * The shared starting point of every method: LoRA (A Kaiming-uniform, B zero) and, for classification, the
     * head, from the seed.
     */
    static Map<String, HostTensor> initialParameters(SimConfig c, QuantizedModel m, int classes) {
        return initialParameters(c, m, classes, SimTask.of(c));
    }

    /** As above, for {@code task}. */
    static Map<String, HostTensor> initialParameters(SimConfig c, QuantizedModel m, int classes, SimTask task) {
        LoraConfig lora = new LoraConfig(c.lora().rank(), (float) c.lora().alpha(), (float) c.lora().dropout(),
                c.lora().targets());
        Map<String, HostTensor> init = new LinkedHashMap<>();
        if (task.causalLm()) {
            try (AdapterSet a = m.newAdapters(lora, c.seed(), false)) {
                init.putAll(a.loraState());
            }
            return init;
        }
        try (AdapterSet a = m.newAdapters(lora, c.seed(), false);
             ClassificationHead h = ClassificationHead.init(m.encoder().manager(),
                     m.encoder().encoder().config().hidden(), classes, c.seed())) {
            init.putAll(a.loraState());
            init.putAll(h.state());
        }
        return init;
    }

    /** Base models by key ("nf2", "nf4+loftq"), loaded once and shared by every client, method and run. */
    private QuantizedModel model(SimConfig c, String key) {
        boolean loftq = key.endsWith("+loftq");
        QuantFormat format = QuantFormat.parse(loftq ? key.substring(0, key.length() - "+loftq".length()) : key);
        boolean qaNeeded = c.methods().stream().map(Method::parse).anyMatch(Method::usesQa) && format != QuantFormat.FP32;
        String poolKey = c.model() + "|" + key + "|" + c.quant().groupSize() + "|" + c.quant().doubleQuant() + "|"
                + (qaNeeded ? c.qa().rank() + c.qa().method() + c.qa().iters() : "noqa") + "|" + c.data().maxLength()
                + "|" + c.compute();
        return models.computeIfAbsent(poolKey, k -> {
            long t0 = System.nanoTime();
            ModelFolder folder = Models.open(c.model());
            QuantSpec spec = new QuantSpec(format, c.quant().groupSize(), c.quant().doubleQuant() && format.family()
                    == QuantFormat.Family.NORMAL_FLOAT);
            QaSpec qa = qaNeeded ? new QaSpec(c.qa().rank(), loftq ? QaSpec.Method.LOFTQ : QaSpec.Method.SVD,
                    c.qa().iters()) : QaSpec.none();
            QuantizedModel m = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED,
                    c.data().maxLength());
            m.encoder().setCompute(Compute.parse(c.compute()));
            LOG.info("base model {} ready in {} s", key, String.format("%.1f", (System.nanoTime() - t0) / 1e9));
            return m;
        });
    }

    private static ObjectNode partitionJson(SimConfig c, SimData data) {
        ObjectNode p;
        try {
            p = (ObjectNode) JSON.readTree(data.partition().toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        var labels = p.putArray("labels");
        data.train().labels().labels().forEach(labels::add);
        List<QuantFormat> formats = c.clientFormats();
        ArrayNode clients = (ArrayNode) p.get("clients");
        for (int i = 0; i < clients.size(); i++) {
            ObjectNode cl = (ObjectNode) clients.get(i);
            cl.put("format", formats.get(i).id());
            cl.put("train_examples", data.clientTrain().get(i).length);
            cl.put("local_test_examples", data.clientTest().get(i).length);
        }
        p.put("global_test_examples", data.test().size());
        return p;
    }

    static byte[] pretty(JsonNode n) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, byte[] bytes) {
        try {
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), "." + file.getFileName(), ".tmp");
            Files.write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UserException("cannot write " + file + ": " + org.fedqlora.OutputPaths.why(e), e);
        }
    }

    static void writeMetricsLines(Path file, List<ObjectNode> lines) {
        try {
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".metrics", ".tmp");
            try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                for (ObjectNode l : lines) {
                    w.write(JSON.writeValueAsString(l));
                    w.newLine();
                }
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UserException("cannot write " + file + ": " + org.fedqlora.OutputPaths.why(e), e);
        }
    }
}
