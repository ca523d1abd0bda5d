package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.InMemoryTransport;
import org.fedqlora.fed.RoundReport;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.Strategy;
import org.fedqlora.fed.privacy.DpAggregator;
import org.fedqlora.fed.privacy.DpClient;
import org.fedqlora.fed.privacy.DpSettings;
import org.fedqlora.fed.privacy.NoiseSource;
import org.fedqlora.fed.secagg.SecAggServer;
import org.fedqlora.fed.Transport;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.train.QuantizedModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One method over all rounds of one run: builds the clients, runs the federated core's {@link Server} over an
 * {@link InMemoryTransport}, turns every round's reports into records and metric lines, and checkpoints after
 * every round (resuming from the last one if a checkpoint exists).
 */
final class MethodRun {
    private static final Logger LOG = LoggerFactory.getLogger(MethodRun.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Everything a finished method reports; {@code privacy} is null when DP is off, {@code throughput} (training and
     * evaluation tokens/s and time shares, {@link PhaseClock}) null where the clients are not in this process.
     */
    record Result(Method method, List<RoundRecord> rounds, List<ObjectNode> lines, ObjectNode finalMetrics,
                  long bytesUp, long bytesDown, double seconds, ObjectNode privacy, ObjectNode throughput) {
    }

    /** Called after each round (progress display, interruption in tests). */
    interface Listener {
        void round(Method method, int round, int rounds, RoundRecord record);

        /** With DP on, before {@link #round}: ε spent after {@code round} rounds, at δ. */
        default void privacy(Method method, int round, double epsilon, double delta) {
        }
    }

    /** A client as the server-side bookkeeping sees it (metric lines, checkpoints). */
    interface Participant {
        String id();

        int index();

        QuantFormat format();

        int trainSize();

        /** What a checkpoint must hold to resume this client (empty for a client whose state lives elsewhere). */
        Map<String, HostTensor> state();

        void restore(Map<String, HostTensor> state);
    }

    /**
     * How the rounds reach the clients: in memory (simulation) or over a network (deployment).
     *
     * @param participants       the clients known now (may grow in a deployment)
     * @param transport          opens the transport for this method
     * @param minEvaluateClients evaluation samples at least this many
     * @param retries            times a round rejected by the failure policy is run again
     * @param endRound           called after every round
     * @param inMemoryClients    the clients behind an in-memory transport (simulation), or null (deployment); with
     *                           secure aggregation they are wrapped and the transport is built over the wrappers
     * @param secureChannel      a deployment's channel for secure-aggregation sessions (null in simulation, or
     *                           without secure aggregation)
     */
    record Federation(Supplier<List<? extends Participant>> participants, Supplier<Transport> transport,
                      int minEvaluateClients, int retries, Runnable endRound, Map<String, Client> inMemoryClients,
                      SecAggServer.Channel secureChannel) {
        Federation(Supplier<List<? extends Participant>> participants, Supplier<Transport> transport,
                   int minEvaluateClients, int retries, Runnable endRound, Map<String, Client> inMemoryClients) {
            this(participants, transport, minEvaluateClients, retries, endRound, inMemoryClients, null);
        }

        Federation(Supplier<List<? extends Participant>> participants, Supplier<Transport> transport,
                   int minEvaluateClients, int retries, Runnable endRound) {
            this(participants, transport, minEvaluateClients, retries, endRound, null, null);
        }
    }

    private MethodRun() {
    }

    static Result run(SimConfig c, Method method, SimData data, TaskExamples pool, TaskExamples test,
                      Function<String, QuantizedModel> models, Map<String, HostTensor> initial, Checkpoint ckpt,
                      Listener listener) {
        List<QuantFormat> formats = c.clientFormats();
        SimContext ctx = new SimContext(c, method, data.train().labels().size(), test, SimTask.of(c));
        Map<String, Client> clients = new TreeMap<>();
        List<SimClient> simClients = new ArrayList<>();
        for (int i = 0; i < c.clients(); i++) {
            QuantFormat base = method.baseFormat(formats.get(i), formats);
            QuantizedModel model = models.apply(SimContext.modelKey(c, method, base));
            SimClient sc = new SimClient(clientId(i, c.clients()), i, formats.get(i), method, model,
                    pool.subset(data.clientTrain().get(i)), pool.subset(data.clientTest().get(i)), ctx);
            simClients.add(sc);
            clients.put(sc.id(), sc);
        }
        Optional<DpSettings> dps = SimPrivacy.settings(c, method);
        if (dps.isPresent() && dps.get().mode() == DpSettings.Mode.LOCAL) {
            // local DP: each client noises its own clipped update before it reaches the transport; the stream is
            // seeded from the run seed (bit-identical reruns) and kept apart from the server's noise stream
            DpSettings s = dps.get();
            NoiseSource clientNoise = SimPrivacy.clientNoise(c, true);
            clients.replaceAll((id, client) -> DpClient.local(client, id, s.clip(), s.noiseMultiplier(), clientNoise));
        }
        Federation inMemory = new Federation(() -> simClients, () -> new InMemoryTransport(clients), c.clients(), 0,
                ctx::endRound, clients);
        Result r = runRounds(c, method, inMemory, initial, ckpt, listener);
        ObjectNode throughput = JSON.createObjectNode();
        ctx.clock().write(throughput);
        return new Result(r.method(), r.rounds(), r.lines(), r.finalMetrics(), r.bytesUp(), r.bytesDown(), r.seconds(),
                r.privacy(), throughput);
    }

    static Result runRounds(SimConfig c, Method method, Federation federation, Map<String, HostTensor> initial,
                            Checkpoint ckpt, Listener listener) {
        ServerOptimizer opt = switch (c.server().optimizer()) {
            case "fedavgm" -> ServerOptimizer.momentum(c.server().lr(), c.server().momentum());
            case "fedadam" -> ServerOptimizer.adam(c.server().lr(), c.server().beta1(), c.server().beta2(), c.server().tau());
            default -> ServerOptimizer.average();
        };
        FedAvg.Config fc = FedAvg.Config.defaults()
                .withFitSampling(c.fraction(), Math.min(c.failure().minClients(), c.clients()))
                .withEvaluateSampling(1.0, federation.minEvaluateClients())
                .withFailurePolicy(new FailurePolicy(c.failure().minClients(), c.failure().minFraction()))
                .withProximalMu(c.local().proximalMu());
        Optional<DpSettings> dpSettings = SimPrivacy.settings(c, method);
        // simulation noise is seeded from the run seed so that runs and resumed runs are bit-identical; a
        // deployment's is secure (its clients receive the config, seed included) unless privacy.noise = seeded
        NoiseSource noise = SimPrivacy.serverNoise(c, federation.inMemoryClients() != null);
        DpAggregator dp = dpSettings.map(s -> new DpAggregator(s, noise)).orElse(null);
        FedAvg fedAvg = dp == null ? new FedAvg(fc, initial, opt) : new FedAvg(fc, initial, opt, dp);
        if (dp != null) {
            LOG.info("{}: {}; noise {}", method.id, dp.settings().describe(), noise.describe());
        }
        Optional<String> stopped = Optional.empty();
        // secure aggregation: under central DP the clients clip before masking, the server noises the unmasked sum
        Strategy strategy = fedAvg;
        SecAggRun secagg = null;
        Supplier<Transport> transports = federation.transport();
        if (federation.inMemoryClients() != null) {
            secagg = SecAggRun.of(c, method, fedAvg, federation.inMemoryClients(),
                    dp != null && dp.settings().mode() == DpSettings.Mode.CENTRAL);
            strategy = secagg.strategy;
            Map<String, Client> wrapped = secagg.clients;
            transports = () -> new InMemoryTransport(wrapped);
        } else if (c.secagg().enabled()) {
            secagg = SecAggRun.network(c, method, fedAvg, federation.secureChannel());
            strategy = secagg.strategy;
        }
        SecAggRun sa = secagg;
        Strategy roundStrategy = strategy;
        List<RoundRecord> records = new ArrayList<>();
        List<ObjectNode> lines = new ArrayList<>();
        long[] bytes = new long[2];
        double[] seconds = new double[1];
        int start = 1;
        Map<String, HostTensor> global = initial;
        JsonNode progress = ckpt.progress();
        if (progress != null) {
            int done = progress.get("round").asInt();
            LOG.info("{}: resuming after round {} of {}", method.id, done, c.rounds());
            progress.get("records").forEach(r -> records.add(Reports.recordFromJson(r)));
            progress.get("lines").forEach(l -> lines.add((ObjectNode) l));
            bytes[0] = progress.get("bytes_up").asLong();
            bytes[1] = progress.get("bytes_down").asLong();
            seconds[0] = progress.get("seconds").asDouble();
            global = ckpt.global(done);
            strategy.restoreState(ckpt.strategy(done));
            for (Participant sc : federation.participants().get()) {
                sc.restore(ckpt.client(sc.index(), done));
            }
            start = done + 1;
        }
        if (start <= c.rounds()) {
            try (Transport transport = transports.get()) {
                Server server = new Server(strategy, transport, new Server.Config(c.rounds(), c.eval().every(), c.seed(),
                        federation.retries()));
                Consumer<RoundReport> onRound = report -> {
                    federation.endRound().run();
                    List<? extends Participant> simClients = federation.participants().get();
                    long[] masked = sa == null ? new long[2] : sa.takeTraffic(); // {down, up} of secure aggregation
                    if (sa != null) {
                        sa.afterRound(method, report.round(), c.secagg().clip());
                    }
                    bytes[0] += report.bytesUp() + masked[1];
                    bytes[1] += report.bytesDown() + masked[0];
                    seconds[0] += report.seconds();
                    report.failures().forEach(f -> LOG.warn("{} round {}: client {} failed: {}", method.id,
                            report.round(), f.clientId(), f.reason()));
                    if (dp != null) {
                        lines.add(SimPrivacy.line(method, report.round(), dp, report.metrics()));
                        listener.privacy(method, report.round(), dp.epsilonAfter(report.round()),
                                dp.settings().delta());
                    }
                    RoundRecord rec = record(c, method, simClients, report, masked, lines);
                    if (rec != null) {
                        records.add(rec);
                    }
                    Map<Integer, Map<String, HostTensor>> states = new LinkedHashMap<>();
                    simClients.forEach(sc -> states.put(sc.index(), sc.state()));
                    ckpt.save(report.round(), progressJson(records, lines, bytes, seconds), report.parameters(),
                            roundStrategy.state(), states);
                    listener.round(method, report.round(), c.rounds(), rec);
                };
                stopped = server.resume(start, global, onRound::accept).stopped();
            }
        }
        stopped.ifPresent(reason -> LOG.warn("{}: {}", method.id, reason));
        ObjectNode fin = Reports.finalMetrics(lines, records);
        ObjectNode privacy = dp == null ? null : SimPrivacy.summary(dp, noise, lines, stopped);
        return new Result(method, records, lines, fin, bytes[0], bytes[1], seconds[0], privacy, null);
    }

    /** Metric lines for a round, and its record when the round was evaluated. */
    private static RoundRecord record(SimConfig c, Method method, List<? extends Participant> clients,
                                      RoundReport report, long[] masked, List<ObjectNode> lines) {
        Map<String, Participant> byId = new LinkedHashMap<>();
        clients.forEach(sc -> byId.put(sc.id(), sc));
        List<QuantFormat> formats = clients.stream().map(Participant::format).toList();
        SimTask task = SimTask.of(c);
        List<String> key = RoundRecord.keys(task);
        double lossSum = 0;
        int lossN = 0;
        for (var e : report.clientMetrics().entrySet()) {
            Participant sc = byId.get(e.getKey());
            ObjectNode l = line(method, report.round(), sc, formats, "train");
            Double loss = e.getValue().get("train_loss");
            l.put("train_loss", loss);
            l.put("examples", sc.trainSize());
            lines.add(l);
            if (loss != null && Double.isFinite(loss)) {
                lossSum += loss;
                lossN++;
            }
        }
        if (report.evaluation().isEmpty()) {
            return null;
        }
        List<double[]> perClient = new ArrayList<>(); // accuracy, macro-F1, local accuracy (perplexity, loss, local)
        Map<String, List<double[]>> byFormat = new TreeMap<>();
        String first = key.get(0);
        String second = key.get(1);
        for (EvaluateRes r : report.evaluation().get().results()) {
            Participant sc = byId.get(r.clientId());
            Map<String, Double> m = r.metrics();
            ObjectNode g = line(method, report.round(), sc, formats, "global");
            g.put(first, m.get(first));
            if (!second.equals("loss")) {
                g.put(second, m.get(second));
            }
            g.put("loss", m.get("loss"));
            if (task.causalLm()) {
                g.put("tokens", m.get("tokens").longValue());
            }
            g.put("examples", m.get("examples").longValue());
            lines.add(g);
            double local = Double.NaN;
            if (m.containsKey("local_" + first)) {
                ObjectNode lo = line(method, report.round(), sc, formats, "local");
                lo.put(first, m.get("local_" + first));
                if (!second.equals("loss")) {
                    lo.put(second, m.get("local_" + second));
                }
                lo.put("loss", m.get("local_loss"));
                if (task.causalLm()) {
                    lo.put("tokens", m.get("local_tokens").longValue());
                }
                lo.put("examples", m.get("local_examples").longValue());
                lines.add(lo);
                local = m.get("local_" + first);
            }
            double[] v = {m.get(first), m.get(second), local};
            perClient.add(v);
            byFormat.computeIfAbsent(sc.format().id(), k -> new ArrayList<>()).add(v);
        }
        Map<String, Map<String, Double>> perFormat = new TreeMap<>();
        byFormat.forEach((f, vs) -> perFormat.put(f, Map.of(first, mean(vs, 0), second, mean(vs, 1))));
        // worst client: lowest accuracy, or highest perplexity
        double worst = task.causalLm() ? perClient.stream().mapToDouble(v -> v[0]).max().orElse(Double.NaN)
                : perClient.stream().mapToDouble(v -> v[0]).min().orElse(Double.NaN);
        return new RoundRecord(report.round(), mean(perClient, 0), mean(perClient, 1), worst, mean(perClient, 2),
                lossN == 0 ? Double.NaN : lossSum / lossN, perFormat, report.bytesUp() + masked[1],
                report.bytesDown() + masked[0], report.seconds(), task);
    }

    private static ObjectNode line(Method method, int round, Participant sc, List<QuantFormat> formats, String split) {
        ObjectNode l = JSON.createObjectNode();
        l.put("method", method.id);
        l.put("round", round);
        l.put("client", sc.index());
        l.put("format", sc.format().id());
        l.put("base", method.baseFormat(sc.format(), formats).id());
        l.put("split", split);
        return l;
    }

    private static double mean(List<double[]> vs, int k) {
        return vs.stream().mapToDouble(v -> v[k]).filter(Double::isFinite).average().orElse(Double.NaN);
    }

    private static ObjectNode progressJson(List<RoundRecord> records, List<ObjectNode> lines, long[] bytes, double[] seconds) {
        ObjectNode p = JSON.createObjectNode();
        ArrayNode r = p.putArray("records");
        records.forEach(rec -> r.add(Reports.recordJson(rec)));
        ArrayNode l = p.putArray("lines");
        lines.forEach(l::add);
        p.put("bytes_up", bytes[0]);
        p.put("bytes_down", bytes[1]);
        p.put("seconds", seconds[0]);
        return p;
    }

    static String clientId(int i, int n) {
        return String.format("client-%0" + String.valueOf(Math.max(1, n - 1)).length() + "d", i);
    }
}
