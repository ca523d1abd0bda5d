package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.data.LabelMap;
import org.fedqlora.fed.Transport;
import org.fedqlora.fed.secagg.SecAggServer;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.report.HtmlReport;
import org.fedqlora.sim.config.ConfigWriter;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The coordinator of a real federation ({@code fedqlora server}): the simulation's round loop, strategy,
 * checkpoints and reports, with the clients on other machines behind a network {@link Transport}. It writes what
 * {@code simulate} writes (config.yaml, metrics.jsonl, summary.json, report.html, checkpoints/; no partition.json:
 * the server never sees the data), plus checkpoints/federation.json (the run's labels and each client's index).
 * Classification and causal-LM instruction tuning run alike: the clients hold the data and train the objective,
 * the server only sees named tensors and metrics (perplexity instead of accuracy; no labels, no head).
 */
public final class Deployment {
    private static final Logger LOG = LoggerFactory.getLogger(Deployment.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String FEDERATION = "checkpoints/federation.json";

    /** The network side, as the coordinator sees it (implemented over gRPC by the server command). */
    public interface Network {
        /** The transport for one method's rounds; closing it must not stop the network. */
        Transport transport(String method);

        /** Registered clients by id: format and examples held. */
        Map<String, RemoteClient> clients();

        /** Waits for at least {@code n} connected clients, up to {@code timeout}; returns how many there are. */
        int awaitClients(int n, Duration timeout);

        /** Sets the run's labels (sent with every task). */
        void setLabels(List<String> labels);

        /** Client indices (id → index) assigned so far. */
        Map<String, Integer> roster();

        void restoreRoster(Map<String, Integer> roster);

        /** The channel of secure-aggregation sessions to the same clients (used when secagg.enabled). */
        default SecAggServer.Channel secureChannel() {
            throw new UnsupportedOperationException("this network does not carry secure aggregation");
        }
    }

    /**
     * What the run trains, as data.task names it: {@code classification} or {@code causal-lm}. With data.task =
     * auto the server decides from data.train as simulate does (causal-lm when it is an instruction JSONL file the
     * server can read), so a causal-LM deployment whose server holds no data must say data.task: causal-lm.
     */
    public static String task(SimConfig c) {
        return SimTask.of(c).causalLm() ? "causal-lm" : "classification";
    }

    /**
     * Why a client whose data trains {@code clientTask} (its registration; empty from older clients: classification)
     * cannot join a run of {@code c}, or null if it can.
     */
    public static String taskRefusal(SimConfig c, String id, String clientTask) {
        String own = clientTask.isEmpty() ? "classification" : clientTask;
        String run = task(c);
        if (own.equals(run)) {
            return null;
        }
        if (run.equals("causal-lm")) {
            return "client '" + id + "' holds " + own + " data, but this run is causal-LM instruction tuning "
                    + "(data.task = " + c.data().task() + "): give the client instruction JSONL ('instruction'/'output' "
                    + "or 'messages' rows) with --data";
        }
        return "client '" + id + "' holds " + own + " data (instruction rows), but this run trains classification "
                + "(data.task = " + c.data().task() + (c.data().task().equals("auto") ? ", and the server holds no "
                + "instruction file in data.train" : "") + "): set data.task: causal-lm in the server's config";
    }

    /** Refuses a base model that cannot run the config's task (causal-LM needs a decoder). */
    public static void checkModel(SimConfig c, ModelFolder folder) {
        if (SimTask.of(c).causalLm()) {
            InstructionTuning.requireDecoder(folder);
        }
    }

    /** A registered client: its format, examples held (train + local test), labels present in its data. */
    public record RemoteClient(String id, QuantFormat format, long examples, List<String> labels) {
    }

    /** Progress callback: after each round of each method. */
    public interface Listener {
        void round(Method method, int round, int rounds, RoundRecord record);

        /** With DP on, before {@link #round}: ε spent after {@code round} rounds, at δ. */
        default void privacy(Method method, int round, double epsilon, double delta) {
        }
    }

    private Deployment() {
    }

    /** The methods a deployment runs (lora-truncated needs every client's format, which clients do not know). */
    public static void checkDeployable(SimConfig c) {
        if (c.runs().size() != 1) {
            throw new UserException("the server runs one config, but this one describes " + c.runs().size()
                    + " runs (sweep, seeds or experiments): run each as its own federation");
        }
        if (c.methods().contains(Method.LORA_TRUNCATED.id)) {
            throw new UserException("method lora-truncated cannot be deployed (every client would have to run the "
                    + "lowest precision present, which only the server knows): remove it from methods");
        }
    }

    /**
     * Runs every method of {@code c} over {@code net} into {@code out} and returns summary.json.
     *
     * @param base the base model (any precision): shapes for the initial LoRA and head
     */
    public static JsonNode serve(SimConfig c, Path out, boolean resume, QuantizedModel base, Network net,
                                 Listener listener) {
        checkDeployable(c);
        SimTask task = SimTask.of(c);
        checkModel(c, base.encoder().folder());
        Simulation.prepare(c, out, resume);
        Path fed = out.resolve(FEDERATION);
        List<String> labels = null;
        if (resume && Files.isRegularFile(fed)) {
            JsonNode saved = read(fed);
            labels = new ArrayList<>();
            for (JsonNode l : saved.get("labels")) {
                labels.add(l.asText());
            }
            Map<String, Integer> roster = new TreeMap<>();
            saved.get("roster").properties().forEach(e -> roster.put(e.getKey(), e.getValue().asInt()));
            net.restoreRoster(roster);
        }
        int need = c.clients();
        Duration join = Duration.ofMillis((long) (c.server().joinTimeoutS() * 1000));
        int got = net.awaitClients(need, join);
        if (got < c.failure().minClients()) {
            throw new UserException("only " + got + " of " + need + " clients joined within server.join_timeout_s = "
                    + c.server().joinTimeoutS() + " s, fewer than failure.min_clients = " + c.failure().minClients()
                    + ": start more clients, check their logs (certificates, --server address, firewall), or lower "
                    + "failure.min_clients");
        }
        if (got < need) {
            LOG.warn("starting with {} of {} clients (server.join_timeout_s passed)", got, need);
        }
        if (labels == null && task.causalLm()) {
            labels = List.of(); // a causal LM predicts tokens: no classes, no head
        } else if (labels == null) {
            List<String> seen = new ArrayList<>();
            net.clients().values().forEach(r -> seen.addAll(r.labels()));
            labels = LabelMap.fromObserved(seen).labels();
        }
        net.setLabels(labels);
        saveFederation(fed, labels, net.roster());
        Map<String, HostTensor> initial = Simulation.initialParameters(c, base, labels.size(), task);
        List<ObjectNode> lines = new ArrayList<>();
        ObjectNode methods = JSON.createObjectNode();
        ObjectNode summary = JSON.createObjectNode();
        List<String> labelsFinal = labels;
        for (String id : c.methods()) {
            Method m = Method.parse(id);
            Checkpoint ckpt = new Checkpoint(out.resolve("checkpoints").resolve(c.runs().get(0).id()).resolve(m.id));
            MethodRun.Federation federation = new MethodRun.Federation(() -> participants(c, net),
                    () -> net.transport(m.id), 1, c.server().retries(), () -> { }, null,
                    c.secagg().enabled() ? net.secureChannel() : null);
            MethodRun.Result r = MethodRun.runRounds(c, m, federation, initial, ckpt, new MethodRun.Listener() {
                @Override
                public void round(Method method, int round, int rounds, RoundRecord rec) {
                    saveFederation(fed, labelsFinal, net.roster());
                    listener.round(method, round, rounds, rec);
                }

                @Override
                public void privacy(Method method, int round, double epsilon, double delta) {
                    listener.privacy(method, round, epsilon, delta);
                }
            });
            methods.set(m.id, Reports.methodSummary(r));
            lines.addAll(r.lines());
            summary.set("methods", methods);
            summary.set("config", ConfigWriter.toJson(c));
            summary.put("run", c.runs().get(0).id());
            summary.put("setting", c.runs().get(0).label());
            summary.put("experiment", c.runs().get(0).experiment());
            summary.put("seed", c.seed());
            summary.put("deployment", true);
            Simulation.write(out.resolve("summary.json"), Simulation.pretty(summary));
            Simulation.writeMetricsLines(out.resolve("metrics.jsonl"), lines);
        }
        HtmlReport.write(out);
        return summary;
    }

    /** The clients the bookkeeping knows: every registered one with its index (assigned at its first task). */
    private static List<MethodRun.Participant> participants(SimConfig c, Network net) {
        Map<String, Integer> roster = net.roster();
        List<MethodRun.Participant> out = new ArrayList<>();
        net.clients().forEach((id, r) -> {
            Integer index = roster.get(id);
            if (index != null) {
                out.add(new Remote(id, index, r.format(),
                        SimData.trainCount((int) r.examples(), c.partition().localTestFraction())));
            }
        });
        return out;
    }

    /** A client whose state lives on its own machine: the checkpoint holds nothing for it. */
    private record Remote(String id, int index, QuantFormat format, int trainSize) implements MethodRun.Participant {
        @Override
        public Map<String, HostTensor> state() {
            return Map.of();
        }

        @Override
        public void restore(Map<String, HostTensor> state) {
        }
    }

    private static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UserException(file + " is unreadable (" + e.getMessage() + "); the checkpoint is damaged");
        }
    }

    /** Atomic and durable: temp file, fsync, rename. */
    private static void saveFederation(Path file, List<String> labels, Map<String, Integer> roster) {
        ObjectNode n = JSON.createObjectNode();
        labels.forEach(n.putArray("labels")::add);
        ObjectNode r = n.putObject("roster");
        new TreeMap<>(roster).forEach(r::put);
        try {
            Path tmp = Files.createTempFile(file.getParent(), ".federation", ".tmp");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
