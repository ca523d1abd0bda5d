package org.fedqlora.transport.grpc;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.RoundReport;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.secagg.Message;
import org.fedqlora.fed.secagg.SecAggSettings;
import org.fedqlora.fed.secagg.SecureAggregationStrategy;
import org.fedqlora.fed.secagg.SecureClient;
import org.fedqlora.fed.secagg.Stage;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Secure aggregation over real gRPC on loopback (server and client nodes in this JVM, one node per client so that
 * one can vanish): the four SecAgg+ stages travel as extension phases (SecAggPhases), the round loop is the
 * federated core's Server. Each client moves the global tensor by its own fixed update, so the expected global
 * after a round is known in closed form; the secure result must be within the fixed-point bound of it:
 * |secure − exact| ≤ Δ/2 + one float32 ulp per round (SecureUpdates), Δ = {@link #step}.
 */
class SecAggGrpcTest {
    static final int BITS = 48;
    static final double CLIP = 1.0;
    static final long MAX_WEIGHT = 1000;

    /** How a test client behaves in one task: honestly, or otherwise. */
    @FunctionalInterface
    interface Behaviour {
        FederationNode.Answer answer(FederationNode.Task task, Honest honest) throws Exception;
    }

    @FunctionalInterface
    interface Honest {
        FederationNode.Answer get() throws Exception;
    }

    static final Behaviour HONEST = (task, honest) -> honest.get();

    /** A client that adds {@link #delta}(i) to the global tensor, behind a SecureClient. */
    static FederationNode.VirtualClient client(String id, int i, Behaviour behaviour) {
        Client shift = new Client() {
            @Override
            public FitRes fit(FitIns ins) {
                float[] x = ins.parameters().get("w").toFloats();
                float[] d = delta(i);
                for (int j = 0; j < x.length; j++) {
                    x[j] += d[j];
                }
                return new FitRes(id, Map.of("w", HostTensor.ofFloats(x, 2, 3)), weight(i), Map.of("train_loss", 1.0));
            }

            @Override
            public EvaluateRes evaluate(EvaluateIns ins) {
                return new EvaluateRes(id, 1, Map.of());
            }
        };
        AtomicReference<SecureClient> current = new AtomicReference<>();
        SecureRandom random = new SecureRandom();
        ClientAdapter honest = new ClientAdapter(id, Loopback.caps(Loopback.HASH, weight(i)), task -> {
            current.set(new SecureClient(id, shift, random));
            return current.get();
        }, SecAggPhases.handlers(task -> current.get()));
        return new FederationNode.VirtualClient() {
            @Override
            public String id() {
                return id;
            }

            @Override
            public org.fedqlora.transport.grpc.proto.Capabilities capabilities() {
                return honest.capabilities();
            }

            @Override
            public FederationNode.Answer handle(FederationNode.Task task) throws Exception {
                return behaviour.answer(task, () -> honest.handle(task));
            }
        };
    }

    static float[] delta(int i) {
        float[] d = new float[6];
        for (int j = 0; j < 6; j++) {
            d[j] = (float) (0.01 * (i + 1) * (j - 2.5) + 0.003 * i);
        }
        return d;
    }

    static long weight(int i) {
        return 10L * (i + 1);
    }

    static Map<String, HostTensor> global() {
        return Map.of("w", HostTensor.ofFloats(new float[] {0.5f, -1f, 2f, 0f, 0.125f, 3f}, 2, 3));
    }

    static double step(int clients) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            ids.add("c" + i);
        }
        return settings(0).config("s", 1, ids, new byte[32]).step();
    }

    static SecAggSettings settings(int threshold) {
        return new SecAggSettings(threshold, 0, BITS, CLIP, MAX_WEIGHT);
    }

    /** A federation over loopback: a node per client; the server's view of every secure-aggregation message. */
    static final class Fixture implements AutoCloseable {
        final Loopback lb;
        final Map<String, FederationNode> nodes = new TreeMap<>();
        final List<Message> view = Collections.synchronizedList(new ArrayList<>());
        final SecAggPhases.Channel channel;
        final SecureAggregationStrategy strategy;

        Fixture(int clients, int threshold, Map<Integer, Behaviour> behaviours) {
            GrpcTransport.Options fast = Loopback.fast();
            lb = new Loopback(new GrpcTransport.Options(fast.chunkBytes(), fast.compression(), fast.maxUpdateBytes(),
                    fast.roundTimeout(), fast.pollMs(), Duration.ofMillis(800), 4, Loopback.HASH, Set.of(), "", null));
            lb.server.setExpectedUpload(ins -> Set.of()); // under secure aggregation the fit answer has no tensors
            for (int i = 0; i < clients; i++) {
                String id = "c" + i;
                nodes.put(id, lb.start(Tls.insecureClient(), List.of(client(id, i, behaviours.getOrDefault(i,
                        HONEST)))));
            }
            lb.awaitClients(clients);
            channel = new SecAggPhases.Channel(lb.server);
            FedAvg fedAvg = new FedAvg(FedAvg.Config.defaults().withFailurePolicy(new FailurePolicy(1, 0)), global(),
                    ServerOptimizer.average());
            strategy = new SecureAggregationStrategy(fedAvg, channel, settings(threshold), new SecureRandom(),
                    view::add);
        }

        final List<SecureAggregationStrategy.Session> sessions = new ArrayList<>();

        List<RoundReport> run(int rounds) {
            List<RoundReport> reports = new ArrayList<>();
            new Server(strategy, lb.server, new Server.Config(rounds, 0, 1)).run(r -> {
                reports.add(r);
                sessions.add(strategy.lastSession());
            });
            return reports;
        }

        /** A behaviour that ends this client's process (its node) when it gets {@code stage} of {@code round}. */
        Behaviour vanishAt(String id, int round, Stage stage) {
            return (task, honest) -> {
                if (task.round() == round && task.phase().equals(SecAggPhases.phase(stage))) {
                    // let the node's next long-poll open first, so that the server sees the connection drop (a
                    // client merely late to poll again is given 30 s); if it is not open yet, the client is a
                    // straggler at the round timeout instead, with the same outcome
                    Thread.sleep(500);
                    nodes.get(id).close();
                    throw new IllegalStateException(id + " vanished");
                }
                return honest.get();
            };
        }

        @Override
        public void close() {
            lb.close();
        }
    }

    /** global + Σ_{i ∈ survivors} w_i d_i / Σ w_i, in double. */
    static double[] expected(double[] start, List<Integer> survivors) {
        double[] out = start.clone();
        long total = survivors.stream().mapToLong(SecAggGrpcTest::weight).sum();
        for (int j = 0; j < out.length; j++) {
            double s = 0;
            for (int i : survivors) {
                s += weight(i) * (double) delta(i)[j];
            }
            out[j] += s / total;
        }
        return out;
    }

    static double[] doubles(HostTensor t) {
        float[] f = t.toFloats();
        double[] d = new double[f.length];
        for (int j = 0; j < f.length; j++) {
            d[j] = f[j];
        }
        return d;
    }

    static void assertWithinBound(RoundReport r, double[] exact, double step) {
        float[] got = r.parameters().get("w").toFloats();
        for (int j = 0; j < got.length; j++) {
            assertThat(Math.abs(got[j] - exact[j])).as("round %d w[%d]", r.round(), j)
                    .isLessThanOrEqualTo(step / 2 + Math.ulp((float) exact[j]));
        }
    }

    @Test
    void threeSecureRoundsOverGrpcGiveTheWeightedMeanAndTheServerHoldsNoUpdate() {
        try (Fixture f = new Fixture(4, 0, Map.of())) {
            List<RoundReport> reports = f.run(3);

            double[] x = doubles(global().get("w"));
            for (RoundReport r : reports) {
                assertThat(r.rejection()).as("round %d", r.round()).isEmpty();
                x = expected(x, List.of(0, 1, 2, 3));
                assertWithinBound(r, x, step(4));
                x = doubles(r.parameters().get("w"));
            }
            // the server's view: keys, ciphertexts, masked vectors, shares; never a client's update or tensor
            assertThat(f.view).extracting(Message::stage).contains(Stage.values());
            for (int i = 0; i < 4; i++) {
                byte[] update = HostTensor.ofFloats(delta(i), 2, 3).toBytes();
                assertThat(f.view).noneMatch(m -> m.payload().values().stream().anyMatch(b -> contains(b, update)));
            }
            assertThat(f.channel.bytesUp()).isGreaterThan(4L * 3 * 6 * (BITS / 8)); // masked words went up
        }
    }

    @Test
    void clientsVanishingAfterTheirKeysOrTheirMaskedInputAreRecoveredFromTheShares() {
        // c1 sends its masked input, then its process ends before unmasking: its input counts, its self mask is
        // rebuilt from the others' shares; c3 shared its keys but vanishes before masking: its pairwise masks in
        // the others' inputs are removed with its reconstructed mask key
        Map<Integer, Behaviour> b = new TreeMap<>();
        AtomicReference<Fixture> ref = new AtomicReference<>();
        b.put(1, (task, honest) -> ref.get().vanishAt("c1", 1, Stage.UNMASK).answer(task, honest));
        b.put(3, (task, honest) -> ref.get().vanishAt("c3", 1, Stage.MASKED_INPUT).answer(task, honest));
        try (Fixture f = fixture(ref, 5, 3, b)) {
            RoundReport r = f.run(1).get(0);

            assertThat(r.rejection()).isEmpty();
            assertWithinBound(r, expected(doubles(global().get("w")), List.of(0, 1, 2, 4)), step(5));
            assertThat(f.sessions.get(0).survivors()).containsExactly("c0", "c1", "c2", "c4");
            assertThat(f.sessions.get(0).dropped()).containsOnlyKeys("c1", "c3");
            assertThat(f.sessions.get(0).dropped().get("c3")).startsWith("MASKED_INPUT");
            assertThat(f.sessions.get(0).dropped().get("c1")).startsWith("UNMASK");
        }
    }

    @Test
    void fewerSurvivorsThanTheThresholdFailTheRoundBeforeAnyShareIsAsked() {
        Map<Integer, Behaviour> b = new TreeMap<>();
        AtomicReference<Fixture> ref = new AtomicReference<>();
        b.put(0, (task, honest) -> ref.get().vanishAt("c0", 1, Stage.MASKED_INPUT).answer(task, honest));
        b.put(1, (task, honest) -> ref.get().vanishAt("c1", 1, Stage.MASKED_INPUT).answer(task, honest));
        try (Fixture f = fixture(ref, 4, 3, b)) {
            RoundReport r = f.run(1).get(0);

            assertThat(r.rejection().orElseThrow()).contains("secure aggregation failed").contains("threshold 3");
            assertThat(r.parameters().get("w").toFloats()).containsExactly(global().get("w").toFloats());
            assertThat(f.view).noneMatch(m -> m.stage() == Stage.UNMASK);
        }
    }

    @Test
    void forgedReplayedMalformedAndMisshapenMessagesAreRejectedAndTheSumOfTheOthersIsExact() {
        Map<Integer, Behaviour> b = new TreeMap<>();
        // c1 answers SETUP of round 1 in the name of c2
        b.put(1, (task, honest) -> {
            FederationNode.Answer a = honest.get();
            if (task.round() != 1 || !task.phase().equals(SecAggPhases.phase(Stage.SETUP))) {
                return a;
            }
            Message m = SecAggPhases.message(a.tensors(), "test");
            return answer(new Message(m.session(), m.stage(), "c2", m.receiver(), m.payload()));
        });
        // c2 sends bytes that are no message at SHARE_KEYS of round 1
        b.put(2, (task, honest) -> {
            FederationNode.Answer a = honest.get();
            if (task.round() != 1 || !task.phase().equals(SecAggPhases.phase(Stage.SHARE_KEYS))) {
                return a;
            }
            return new FederationNode.Answer(0, Map.of(), Map.of(SecAggPhases.TENSOR,
                    HostTensor.ofBytes(DType.U8, new byte[] {1, 2, 3, 4, 5, 6, 7}, 7)));
        });
        // c0 replays its masked input of round 1 in round 2 (the masked vector of another session)
        List<FederationNode.Answer> recorded = new ArrayList<>();
        b.put(0, (task, honest) -> {
            boolean masked = task.phase().equals(SecAggPhases.phase(Stage.MASKED_INPUT));
            if (masked && task.round() == 2) {
                honest.get();
                return recorded.get(0);
            }
            FederationNode.Answer a = honest.get();
            if (masked) {
                recorded.add(a);
            }
            return a;
        });
        // c5 sends a masked input one word short in round 2 (another length than the others)
        b.put(5, (task, honest) -> {
            FederationNode.Answer a = honest.get();
            if (task.round() != 2 || !task.phase().equals(SecAggPhases.phase(Stage.MASKED_INPUT))) {
                return a;
            }
            Message m = SecAggPhases.message(a.tensors(), "test");
            TreeMap<String, byte[]> p = new TreeMap<>(m.payload());
            p.put("masked", java.util.Arrays.copyOf(p.get("masked"), p.get("masked").length - BITS / 8));
            return answer(new Message(m.session(), m.stage(), m.sender(), m.receiver(), p));
        });
        try (Fixture f = new Fixture(6, 4, b)) {
            List<RoundReport> reports = f.run(2);

            RoundReport first = reports.get(0);
            double[] afterFirst = expected(doubles(global().get("w")), List.of(0, 3, 4, 5));
            assertWithinBound(first, afterFirst, step(6));
            SortedMap<String, String> dropped = f.sessions.get(0).dropped();
            assertThat(dropped).containsOnlyKeys("c1", "c2");
            assertThat(dropped.get("c1")).contains("SETUP").contains("claims to be from c2");
            assertThat(dropped.get("c2")).contains("SHARE_KEYS").contains("malformed secure-aggregation message");
            RoundReport second = reports.get(1);
            assertWithinBound(second, expected(doubles(first.parameters().get("w")), List.of(1, 2, 3, 4)), step(6));
            assertThat(f.sessions.get(1).dropped()).containsOnlyKeys("c0", "c5");
            assertThat(f.sessions.get(1).dropped().get("c0")).contains("MASKED_INPUT").contains("replayed");
            assertThat(f.sessions.get(1).dropped().get("c5")).contains("another layout or length");
        }
    }

    private static Fixture fixture(AtomicReference<Fixture> ref, int clients, int threshold,
                                   Map<Integer, Behaviour> b) {
        // the behaviours need the fixture (to end a node); they only run once the round starts
        Fixture f = new Fixture(clients, threshold, b);
        ref.set(f);
        return f;
    }

    static FederationNode.Answer answer(Message m) {
        return new FederationNode.Answer(0, Map.of(), SecAggPhases.tensors(m));
    }

    static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
