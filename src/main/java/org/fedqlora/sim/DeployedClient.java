package org.fedqlora.sim;

import org.fedqlora.UserException;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.Fields;
import org.fedqlora.data.InstructionFiles;
import org.fedqlora.data.LabelMap;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.quant.QuantizedModelFolder;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.tokenize.ChatEncoder;
import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.InstructionTuning;
import org.fedqlora.train.QuantizedModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A deployed client (one virtual client of {@code fedqlora client}): the simulation's {@link SimClient} built in
 * this process from its own data file, so that the same config and seed give the same adapters as
 * {@code simulate}. Its data is a classification set (text, label) or instruction data (conversations, see
 * {@link InstructionFiles#asDataset}) for causal-LM tuning; the task is the data's, and a server whose config
 * trains the other task is refused. Its data and its private QA adapter never leave the process; what must
 * survive a restart is written to its state folder after every fit (temp file, fsync, rename):
 * <pre>
 * STATE/ID/METHOD/state-R.safetensors   the SimClient's state after its fit of round R (last 3 kept)
 * </pre>
 * A task of round r starts from the newest state of a round before r (fit) or up to r (evaluate), so a client
 * that ran ahead of a server that then restarted from its checkpoint repeats exactly what it did.
 */
public final class DeployedClient {
    private static final Logger LOG = LoggerFactory.getLogger(DeployedClient.class);
    private static final int KEEP_STATES = 3;

    private final String id;
    private final QuantFormat format;
    private final Dataset data;
    private final SimTask task;
    private final Optional<Path> testFile;
    private final Fields fields;
    private final Path stateDir;
    private final Models models;
    private final Map<String, Holder> byMethod = new TreeMap<>();

    /**
     * @param data     all examples the client holds (its local test split is taken from them, as in simulation)
     * @param testFile a test set shared by the federation for "global" metrics; without it the local split is used
     */
    public DeployedClient(String id, QuantFormat format, Dataset data, Optional<Path> testFile, Fields fields,
                          Path stateDir, Models models) {
        this(id, format, data, false, testFile, fields, stateDir, models);
    }

    /**
     * @param instructions whether {@code data} (and the test file) are instruction data, for causal-LM tuning
     */
    public DeployedClient(String id, QuantFormat format, Dataset data, boolean instructions, Optional<Path> testFile,
                          Fields fields, Path stateDir, Models models) {
        this.id = id;
        this.format = format;
        this.data = data;
        this.task = instructions ? SimTask.CAUSAL_LM : SimTask.CLASSIFICATION;
        this.testFile = testFile;
        this.fields = fields;
        this.stateDir = stateDir.resolve(id);
        this.models = models;
    }

    public String id() {
        return id;
    }

    public QuantFormat format() {
        return format;
    }

    /** Examples held (train + local test). */
    public int examples() {
        return data.size();
    }

    /** The labels in the client's data (registration); none for causal-LM, which has no classes. */
    public List<String> labels() {
        return task.causalLm() ? List.of() : data.labels().labels();
    }

    /** What the client's data trains: {@code classification} or {@code causal-lm} (as data.task names them). */
    public String task() {
        return task.causalLm() ? "causal-lm" : "classification";
    }

    /**
     * Loads (or quantizes) the base models the config's methods need, before the first task arrives; refuses a
     * config whose explicit data.task is not what this client's data is for.
     */
    public void warmUp(SimConfig config) {
        String wanted = config.data().task();
        if (!wanted.equals("auto") && !wanted.equals(task())) {
            throw new UserException("the server's config trains data.task = " + wanted + ", but client " + id
                    + " holds " + (task.causalLm() ? "instruction data (causal-lm)" : "classification data (text and "
                    + "label)") + ": give it " + (wanted.equals("causal-lm") ? "instruction JSONL ('instruction'/"
                    + "'output' or 'messages' rows)" : "text/label data") + " with --data");
        }
        for (String id : config.methods()) {
            Method m = Method.parse(id);
            if (m != Method.LORA_TRUNCATED) {
                models.get(config, m, m.baseFormat(format, List.of(format)));
            }
        }
    }

    /**
     * The client for a task: built on the method's first task (which carries the client's index and the run's
     * labels), with its state restored to what the task's round needs.
     */
    public synchronized Client forTask(SimConfig config, String method, int index, List<String> labels, String phase,
                                       int round) {
        Method m = Method.parse(method);
        Holder h = byMethod.get(m.id);
        if (h == null || h.index != index) {
            h = new Holder(build(config, m, index, labels), m, index);
            byMethod.put(m.id, h);
        }
        h.prepare(phase, round);
        return h;
    }

    private SimClient build(SimConfig c, Method m, int index, List<String> labels) {
        if (m == Method.LORA_TRUNCATED) {
            throw new UserException("method lora-truncated needs every client's format and cannot be deployed");
        }
        if (task.causalLm()) {
            return buildLm(c, m, index);
        }
        LabelMap map = new LabelMap(labels);
        Dataset own = data.withLabelMap(map);
        int[][] split = SimData.localSplit(own.size(), c.partition().localTestFraction(), c.seed(), index);
        QuantizedModel model = models.get(c, m, m.baseFormat(format, List.of(format)));
        var tok = model.encoder().tokenizer();
        long pad = model.encoder().encoder().config().padTokenId();
        EncodedExamples pool = EncodedExamples.of(own.examples(), tok, pad);
        EncodedExamples local = pool.subset(split[1]);
        EncodedExamples test = local;
        if (testFile.isPresent()) {
            Dataset t = DatasetFiles.load(testFile.get(), fields, map);
            t = SimData.limit(t, c.eval().maxExamples(), c.seed() + 1, "eval.max_examples");
            test = EncodedExamples.of(t.examples(), tok, pad);
        } else if (local.size() == 0) {
            throw new UserException("client " + id + " has no test data: pass --test FILE or set "
                    + "partition.local_test_fraction > 0 in the server's config");
        }
        SimContext ctx = new SimContext(c, m, map.size(), TaskExamples.of(test), SimTask.CLASSIFICATION);
        LOG.info("{}: {} as client index {}: {} training, {} local test examples", id, m.id, index, split[0].length,
                split[1].length);
        return new SimClient(id, index, format, m, model, TaskExamples.of(pool.subset(split[0])), TaskExamples.of(local),
                ctx);
    }

    /**
     * The causal-LM client: its conversations encoded with the model's chat template and completion-only labels,
     * split into training and local test examples exactly as {@code simulate} splits a client's share.
     */
    private SimClient buildLm(SimConfig c, Method m, int index) {
        int[][] split = SimData.localSplit(data.size(), c.partition().localTestFraction(), c.seed(), index);
        QuantizedModel model = models.get(c, m, m.baseFormat(format, List.of(format)));
        InstructionTuning.requireDecoder(model.encoder().folder());
        long pad = model.encoder().encoder().config().padTokenId();
        TaskExamples pool;
        TaskExamples test;
        try (ChatEncoder enc = InstructionTuning.encoder(model.encoder().folder(), c.data().chatTemplate(),
                c.data().maxLength(), LOG::warn)) {
            pool = TaskExamples.of(Simulation.encodeAligned(enc, data, pad, id + "'s data"));
            if (testFile.isPresent()) {
                Dataset t = InstructionFiles.asDataset(InstructionFiles.load(testFile.get(), c.data().categoryField()));
                t = SimData.limit(t, c.eval().maxExamples(), c.seed() + 1, "eval.max_examples");
                test = TaskExamples.of(Simulation.encodeAligned(enc, t, pad, "test set " + testFile.get()));
            } else {
                test = null;
            }
        }
        TaskExamples train = pool.subset(split[0]);
        TaskExamples local = pool.subset(split[1]);
        if (test == null) {
            if (local.size() == 0) {
                throw new UserException("client " + id + " has no test data: pass --test FILE or set "
                        + "partition.local_test_fraction > 0 in the server's config");
            }
            test = local;
        }
        SimContext ctx = new SimContext(c, m, 0, test, SimTask.CAUSAL_LM);
        LOG.info("{}: {} as client index {}: {} training, {} local test conversations", id, m.id, index, train.size(),
                local.size());
        return new SimClient(id, index, format, m, model, train, local, ctx);
    }

    /** One method's SimClient with its saved states. */
    private final class Holder implements Client {
        final SimClient client;
        final Method method;
        final int index;
        int stateRound = -1; // the round of the state loaded into client (0 = initial)

        Holder(SimClient client, Method method, int index) {
            this.client = client;
            this.method = method;
            this.index = index;
        }

        Path dir() {
            return stateDir.resolve(method.id);
        }

        void prepare(String phase, int round) {
            int newest = "fit".equals(phase) ? round - 1 : round;
            if (stateRound >= 0 && stateRound <= newest && newestSaved(newest) == stateRound) {
                return;
            }
            int r = newestSaved(newest);
            client.restore(r > 0 ? read(dir().resolve("state-" + r + ".safetensors")) : Map.of());
            stateRound = r;
            if (r > 0) {
                LOG.info("{}: {} resumes from its state after round {}", id, method.id, r);
            }
        }

        private int newestSaved(int atMost) {
            if (!Files.isDirectory(dir())) {
                return 0;
            }
            try (Stream<Path> s = Files.list(dir())) {
                return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("state-[0-9]+\\.safetensors"))
                        .mapToInt(n -> Integer.parseInt(n.substring(6, n.length() - 12)))
                        .filter(r -> r <= atMost).max().orElse(0);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public FitRes fit(FitIns ins) {
            FitRes r = client.fit(ins);
            save(ins.round(), client.state());
            stateRound = ins.round();
            return r;
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            return client.evaluate(ins);
        }

        private void save(int round, Map<String, HostTensor> state) {
            try {
                Files.createDirectories(dir());
                Path file = dir().resolve("state-" + round + ".safetensors");
                Path tmp = Files.createTempFile(dir(), ".state", ".tmp");
                SafetensorsWriter w = new SafetensorsWriter();
                state.forEach(w::put);
                w.write(tmp);
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                try (Stream<Path> s = Files.list(dir())) {
                    for (Path p : s.toList()) {
                        String n = p.getFileName().toString();
                        if (n.matches("state-[0-9]+\\.safetensors")
                                && Integer.parseInt(n.substring(6, n.length() - 12)) <= round - KEEP_STATES) {
                            Files.delete(p);
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot save the state of " + id + " in " + dir(), e);
            }
        }
    }

    private static Map<String, HostTensor> read(Path file) {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        f.names().forEach(n -> {
            HostTensor t = f.get(n);
            out.put(n, HostTensor.ofBytes(t.dtype(), t.toBytes(), t.shape()));
        });
        return out;
    }

    /**
     * The base models of one client process, shared by its virtual clients: quantized (with the QA adapter the
     * config asks for) once, and saved as a quantized model folder under STATE/models/KEY so that a restarted
     * client loads it instead of quantizing again.
     */
    public static final class Models {
        private final String model;
        private final Path stateDir;
        private final Map<String, QuantizedModel> loaded = new LinkedHashMap<>();

        public Models(String model, Path stateDir) {
            this.model = model;
            this.stateDir = stateDir;
        }

        synchronized QuantizedModel get(SimConfig c, Method m, QuantFormat format) {
            String key = SimContext.modelKey(c, m, format);
            boolean loftq = key.endsWith("+loftq");
            boolean qaNeeded = m.usesQa() && format != QuantFormat.FP32;
            String cacheKey = key + "-g" + c.quant().groupSize() + (c.quant().doubleQuant() ? "-dq" : "")
                    + (qaNeeded ? "-qa" + c.qa().rank() + c.qa().method() + c.qa().iters() : "") + "-len"
                    + c.data().maxLength();
            return loaded.computeIfAbsent(cacheKey, k -> {
                QuantSpec spec = new QuantSpec(format, c.quant().groupSize(), c.quant().doubleQuant()
                        && format.family() == QuantFormat.Family.NORMAL_FLOAT);
                QaSpec qa = qaNeeded ? new QaSpec(c.qa().rank(), loftq ? QaSpec.Method.LOFTQ : QaSpec.Method.SVD,
                        c.qa().iters()) : QaSpec.none();
                Path saved = stateDir.resolve("models").resolve(k);
                long t0 = System.nanoTime();
                if (QuantizedModelFolder.isQuantized(saved)) {
                    QuantizedModel q = QuantizedModel.load(org.fedqlora.model.Models.open(saved.toString()), spec, qa,
                            QuantizedBase.Residency.DEQUANTIZED, c.data().maxLength());
                    q.encoder().setCompute(org.fedqlora.nn.Compute.parse(c.compute()));
                    LOG.info("base model {} loaded from {} in {} s", key, saved, seconds(t0));
                    return q;
                }
                ModelFolder folder = org.fedqlora.model.Models.open(model);
                QuantizedModel q = QuantizedModel.load(folder, spec, qa, QuantizedBase.Residency.DEQUANTIZED,
                        c.data().maxLength());
                q.encoder().setCompute(org.fedqlora.nn.Compute.parse(c.compute()));
                LOG.info("base model {} quantized in {} s", key, seconds(t0));
                if (format != QuantFormat.FP32) {
                    saveQuietly(folder, q, saved);
                }
                return q;
            });
        }

        private static void saveQuietly(ModelFolder folder, QuantizedModel q, Path saved) {
            Path tmp = saved.resolveSibling(saved.getFileName() + ".tmp");
            try {
                if (Files.exists(tmp)) {
                    try (Stream<Path> s = Files.walk(tmp)) {
                        s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                    }
                }
                Files.createDirectories(tmp);
                QuantizedModelFolder.write(tmp, folder, q.base(), QuantizedModelFolder.summary(q.base(),
                        q.encoder().encoder().linears().stream().mapToLong(l -> 4L * l.in() * l.out()).sum()));
                Files.move(tmp, saved, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                LOG.warn("could not keep the quantized model in {} ({}); it will be quantized again next time", saved,
                        e.toString());
            }
        }

        private static String seconds(long t0) {
            return String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e9);
        }

        public synchronized void close() {
            loaded.values().forEach(QuantizedModel::close);
            loaded.clear();
        }
    }
}
