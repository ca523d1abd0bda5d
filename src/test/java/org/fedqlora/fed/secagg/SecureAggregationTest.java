package org.fedqlora.fed.secagg;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.fedqlora.UserException;
import org.fedqlora.fed.Aggregation;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateAggregate;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.FitAggregate;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.InMemoryTransport;
import org.fedqlora.fed.RoundListener;
import org.fedqlora.fed.RoundReport;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.Strategy;
import org.fedqlora.fed.UpdateSum;
import org.fedqlora.fed.privacy.DpAggregator;
import org.fedqlora.fed.privacy.DpClient;
import org.fedqlora.fed.privacy.DpSettings;
import org.fedqlora.fed.privacy.NoiseSource;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Secure aggregation in the federated core: the secure mean against plain FedAvg within the fixed-point bound,
 * drop-outs as failures, aborted rounds, refused strategies, and the server never holding a client's tensors.
 *
 * <p>Error bound (SecAggConfig): every client rounds w·q with |q − x/Δ| ≤ 1/2, so the weighted sum is within
 * Σ w_i · Δ/2 and the weighted mean within Δ/2 of the exact mean of the clamped updates; the result is then rounded
 * to float32 (half an ulp of the result). {@link #bound} is Δ/2 + one ulp.
 */
class SecureAggregationTest {
    /** A client that moves every global tensor by its own fixed update. */
    record ShiftClient(String id, SortedMap<String, float[]> delta, long examples) implements Client {
        @Override
        public FitRes fit(FitIns ins) {
            Map<String, HostTensor> out = new TreeMap<>();
            delta.forEach((name, d) -> {
                HostTensor g = ins.parameters().get(name);
                float[] x = g.toFloats();
                for (int j = 0; j < x.length; j++) {
                    x[j] += d[j];
                }
                out.put(name, HostTensor.ofFloats(x, g.shape()));
            });
            return new FitRes(id, out, examples, Map.of("train_loss", 1.0 + examples));
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            return new EvaluateRes(id, examples, Map.of());
        }
    }

    record Case(int clients, int bits, double clip, long[] weights, List<float[]> a, List<float[]> b, long seed) {
    }

    static final long[] SHAPE_A = {3, 5};
    static final long[] SHAPE_B = {7};

    @Provide
    Arbitrary<Case> cases() {
        return Combinators.combine(Arbitraries.integers().between(2, 7), Arbitraries.of(20, 32, 48),
                        Arbitraries.of(0.05, 1.0, 4.0), Arbitraries.longs())
                .flatAs((n, bits, clip, seed) -> {
                    Arbitrary<float[]> a = Arbitraries.floats().between((float) (-1.3 * clip), (float) (1.3 * clip)).ofScale(6)
                            .array(float[].class).ofSize(15);
                    Arbitrary<float[]> b = Arbitraries.floats().between((float) (-1.3 * clip), (float) (1.3 * clip)).ofScale(6)
                            .array(float[].class).ofSize(7);
                    return Combinators.combine(Arbitraries.longs().between(0, 400).array(long[].class).ofSize(n),
                                    a.list().ofSize(n), b.list().ofSize(n))
                            .as((w, as, bs) -> new Case(n, bits, clip, w, as, bs, seed));
                });
    }

    /** The secure mean is within Δ/2 (+ float rounding) of the exact weighted mean of the clamped updates. */
    @Property(tries = 60)
    void secureMeanEqualsPlainMeanWithinTheFixedPointBound(@ForAll("cases") Case c) throws Exception {
        if (java.util.Arrays.stream(c.weights()).sum() == 0) {
            c.weights()[0] = 1;
        }
        SortedMap<String, HostTensor> global = new TreeMap<>();
        global.put("a", HostTensor.ofFloats(new float[15], SHAPE_A));
        float[] g = new float[7];
        for (int j = 0; j < 7; j++) {
            g[j] = 0.25f * j;
        }
        global.put("b", HostTensor.ofFloats(g, SHAPE_B));
        Map<String, Client> clients = new TreeMap<>();
        for (int i = 0; i < c.clients(); i++) {
            SortedMap<String, float[]> d = new TreeMap<>(Map.of("a", c.a().get(i), "b", c.b().get(i)));
            clients.put("c" + i, new ShiftClient("c" + i, d, c.weights()[i]));
        }
        SecAggSettings settings = new SecAggSettings(0, 0, c.bits(), c.clip(), 400);
        Fixture f = new Fixture(clients, settings, global, InProcessChannel.Faults.NONE, c.seed());

        FitAggregate agg = f.round(1);

        double step = settings.config("s", 1, List.copyOf(clients.keySet()), new byte[32]).step();
        long total = java.util.Arrays.stream(c.weights()).sum();
        List<FitRes> trained = clients.values().stream().map(cl -> cl.fit(new FitIns(1, global, Map.of()))).toList();
        for (String name : List.of("a", "b")) {
            float[] secure = agg.parameters().orElseThrow().get(name).toFloats();
            float[] start = global.get(name).toFloats();
            for (int j = 0; j < secure.length; j++) {
                double mean = 0;
                for (int i = 0; i < c.clients(); i++) {
                    double d = (double) trained.get(i).parameters().get(name).toFloats()[j] - start[j];
                    mean += c.weights()[i] * Math.max(-c.clip(), Math.min(c.clip(), d));
                }
                double exact = start[j] + mean / total;
                assertThat(Math.abs(secure[j] - exact)).as("%s[%d]", name, j).isLessThanOrEqualTo(bound(step, exact));
            }
        }
    }

    static double bound(double step, double value) {
        return step / 2 + Math.ulp((float) value);
    }

    /** The same round with plain FedAvg and with secure aggregation: equal within the bound, metrics equal. */
    @Test
    void secureRoundMatchesPlainFedAvgAndTheServerGetsNoTensors() throws Exception {
        Map<String, Client> clients = shiftClients(5);
        SecAggSettings settings = new SecAggSettings(0, 0, 32, 1.0, 1000);
        Fixture f = new Fixture(clients, settings, global(), InProcessChannel.Faults.NONE, 3);
        List<FitRes> plain = new ArrayList<>();
        clients.values().forEach(cl -> plain.add(cl.fit(new FitIns(1, global(), Map.of()))));

        FitAggregate secure = f.round(1);

        Map<String, HostTensor> mean = Aggregation.weightedMean(plain);
        double step = settings.config("s", 1, List.copyOf(clients.keySet()), new byte[32]).step();
        float[] s = secure.parameters().orElseThrow().get("w").toFloats();
        float[] p = mean.get("w").toFloats();
        for (int j = 0; j < s.length; j++) {
            assertThat((double) Math.abs(s[j] - p[j])).isLessThanOrEqualTo(bound(step, p[j]) + Math.ulp(p[j]));
        }
        assertThat(f.fitResults).allSatisfy(r -> assertThat(r.parameters()).isEmpty());
        assertThat(f.fitResults).allSatisfy(r -> assertThat(r.numExamples()).isZero());
        assertThat(secure.metrics().get("train_loss")).isEqualTo(Aggregation.fitMetrics(plain.stream()
                .map(r -> new FitRes(r.clientId(), Map.of(), 0, r.metrics())).toList()).get("train_loss"));
        assertThat(f.view).noneMatch(m -> m.payload().values().stream().anyMatch(b -> containsFloats(b, clients)));
    }

    @Test
    void clientsDroppingAfterMaskingBecomeFailuresAndTheOthersAverageExactly() throws Exception {
        Map<String, Client> clients = shiftClients(6);
        SecAggSettings settings = new SecAggSettings(3, 0, 48, 1.0, 1000);
        InProcessChannel.Faults drop = (c, m) -> (c.equals("c1") || c.equals("c4"))
                && m.stage().ordinal() >= Stage.MASKED_INPUT.ordinal();
        Fixture f = new Fixture(clients, settings, global(), drop, 4);

        FitAggregate agg = f.round(1);

        assertAveragesExactly(clients, settings, agg, List.of("c0", "c2", "c3", "c5"));
        assertThat(f.inner.failures).extracting(Failure::clientId).containsExactly("c1", "c4");
        assertThat(f.inner.results).extracting(FitRes::clientId).containsExactly("c0", "c2", "c3", "c5");
    }

    @Test
    void aMaskedInputWithAWordNotBelow2PowBitsBecomesAFailureAndTheOthersAverageExactly() throws Exception {
        Map<String, Client> clients = shiftClients(5);
        SecAggSettings settings = new SecAggSettings(3, 0, 42, 1.0, 1000); // 6-byte words, 6 spare bits
        Fixture f = new Fixture(clients, settings, global(), InProcessChannel.Faults.NONE, 6,
                (id, p) -> id.equals("c2") ? SecAggStreamingTest.withTopBitsSet(p, 3, 42) : p);

        FitAggregate agg = f.round(1);

        assertAveragesExactly(clients, settings, agg, List.of("c0", "c1", "c3", "c4"));
        assertThat(f.inner.results).extracting(FitRes::clientId).containsExactly("c0", "c1", "c3", "c4");
        assertThat(f.inner.failures).extracting(Failure::clientId).containsExactly("c2");
        assertThat(f.inner.failures.get(0).reason())
                .startsWith("secure aggregation MASKED_INPUT: word 3 of its masked input is ")
                .endsWith(", not below 2^42 = 4398046511104; it is left out");
    }

    @Test
    void tooFewSurvivorsRejectTheRoundAndKeepTheGlobalModel() throws Exception {
        Map<String, Client> clients = shiftClients(4);
        SecAggSettings settings = new SecAggSettings(3, 0, 32, 1.0, 1000);
        InProcessChannel.Faults drop = (c, m) -> (c.equals("c0") || c.equals("c1"))
                && m.stage() == Stage.MASKED_INPUT;
        Fixture f = new Fixture(clients, settings, global(), drop, 5);

        FitAggregate agg = f.round(1);

        assertThat(agg.isAccepted()).isFalse();
        assertThat(agg.rejection().orElseThrow()).contains("secure aggregation failed").contains("threshold 3");
        assertThat(f.view).noneMatch(m -> m.stage() == Stage.UNMASK);
    }

    @Test
    void aStrategyThatNeedsIndividualUpdatesIsRefused() {
        Strategy median = new Strategy() {
            public Map<String, HostTensor> initialParameters() {
                return Map.of();
            }

            public Map<String, FitIns> configureFit(int r, Map<String, HostTensor> g, List<String> a,
                                                    RandomGenerator rnd) {
                return Map.of();
            }

            public FitAggregate aggregateFit(int r, Map<String, HostTensor> g, List<FitRes> res, List<Failure> f) {
                return null;
            }

            public Map<String, EvaluateIns> configureEvaluate(int r, Map<String, HostTensor> g, List<String> a,
                                                              RandomGenerator rnd) {
                return Map.of();
            }

            public EvaluateAggregate aggregateEvaluate(int r, List<EvaluateRes> res, List<Failure> f) {
                return null;
            }
        };
        assertThatThrownBy(() -> new SecureAggregationStrategy(median, new InProcessChannel(Map.of()),
                SecAggSettings.defaults(), new SecureRandom(), m -> { }))
                .isInstanceOf(UserException.class).hasMessageContaining("needs the individual updates");
    }

    /** Three rounds of the real round loop with fedadam: the same globals as without secure aggregation. */
    @Test
    void theRoundLoopWithSecureAggregationFollowsThePlainRun() throws Exception {
        Map<String, Client> clients = shiftClients(4);
        ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3);
        FedAvg plainStrategy = new FedAvg(FedAvg.Config.defaults(), global(), ServerOptimizer.adam(0.1, 0.9, 0.99,
                1e-3));
        Server.Result plain = new Server(plainStrategy, new InMemoryTransport(clients), new Server.Config(3, 0, 1))
                .run(RoundListener.NONE);

        Map<String, SecureClient> secure = new TreeMap<>();
        clients.forEach((id, c) -> secure.put(id, new SecureClient(id, c, new SecureRandom())));
        FedAvg inner = new FedAvg(FedAvg.Config.defaults(), global(), ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3));
        SecureAggregationStrategy strategy = new SecureAggregationStrategy(inner, new InProcessChannel(secure),
                new SecAggSettings(0, 0, 48, 1.0, 1000), new SecureRandom(), m -> { });
        Server.Result masked = new Server(strategy, new InMemoryTransport(new TreeMap<>(secure)),
                new Server.Config(3, 0, 1)).run(RoundListener.NONE);

        float[] p = plain.parameters().get("w").toFloats();
        float[] s = masked.parameters().get("w").toFloats();
        for (int j = 0; j < p.length; j++) {
            assertThat(s[j]).isCloseTo(p[j], org.assertj.core.data.Offset.offset(1e-5f));
        }
        assertThat(masked.rounds()).allSatisfy(r -> assertThat(r.bytesUp()).isZero());
    }

    /** The round loop's report counts a client that dropped out after masking as failed, not as a success. */
    @Test
    void roundReportListsSecureAggregationDropOutsAsFailures() throws Exception {
        Map<String, SecureClient> secure = new TreeMap<>();
        shiftClients(5).forEach((id, c) -> secure.put(id, new SecureClient(id, c, new SecureRandom())));
        InProcessChannel.Faults drop = (c, m) -> c.equals("c3") && m.stage().ordinal() >= Stage.MASKED_INPUT.ordinal();
        FedAvg inner = new FedAvg(FedAvg.Config.defaults(), global(), ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3));
        SecureAggregationStrategy strategy = new SecureAggregationStrategy(inner,
                new InProcessChannel(secure, drop, java.util.function.UnaryOperator.identity()),
                new SecAggSettings(3, 0, 48, 1.0, 1000), new SecureRandom(), m -> { });

        Server.Result r = new Server(strategy, new InMemoryTransport(new TreeMap<>(secure)),
                new Server.Config(1, 0, 1)).run(RoundListener.NONE);

        RoundReport report = r.rounds().get(0);
        assertThat(report.isAccepted()).isTrue();
        assertThat(report.successes()).containsExactly("c0", "c1", "c2", "c4");
        assertThat(report.failures()).extracting(Failure::clientId).containsExactly("c3");
        assertThat(report.failures().get(0).reason()).startsWith("secure aggregation MASKED_INPUT");
    }

    /**
     * Central DP under secure aggregation: clients clip (DpClient.clipping) and mask, the server noises the unmasked
     * sum. With the same noise stream this is DP-FedAvg with server-side clipping up to the fixed-point error (the sum
     * of n roundings ≤ n Δ/2, divided by m = n) and the float32 rounding of the clipped client tensors; the adaptive
     * clip, fed by the securely summed unclipped count, is identical.
     */
    @Test
    void centralDpUnderSecureAggregationMatchesServerSideDp() throws Exception {
        Map<String, Client> clients = shiftClients(5);
        DpSettings dp = new DpSettings(DpSettings.Mode.CENTRAL, 0.05, true, 0.5, 0.2, 1.0, 1.0, 1e-5, 0, 1.0, 5);
        FedAvg plain = new FedAvg(FedAvg.Config.defaults(), global(), ServerOptimizer.average(),
                new DpAggregator(dp, NoiseSource.seeded(11)));
        FedAvg inner = new FedAvg(FedAvg.Config.defaults(), global(), ServerOptimizer.average(),
                new DpAggregator(dp, NoiseSource.seeded(11)));
        SecureRandom random = PrimitivesTest.seeded(12);
        Map<String, SecureClient> secure = new TreeMap<>();
        clients.forEach((id, c) -> secure.put(id, new SecureClient(id, DpClient.clipping(c, id), random)));
        SecAggSettings settings = new SecAggSettings(0, 0, 48, 1.0, 1000);
        SecureAggregationStrategy strategy = new SecureAggregationStrategy(inner, new InProcessChannel(secure),
                settings, random, m -> { });
        Map<String, FitIns> ins = plain.configureFit(1, global(), List.copyOf(clients.keySet()),
                new java.util.SplittableRandom(1));
        assertThat(ins.get("c0").config()).containsKey(DpAggregator.CLIP_KEY);

        List<FitRes> clear = new ArrayList<>();
        List<FitRes> masked = new ArrayList<>();
        clients.forEach((id, c) -> clear.add(c.fit(ins.get(id))));
        secure.forEach((id, c) -> masked.add(c.fit(ins.get(id))));
        FitAggregate a = plain.aggregateFit(1, global(), clear, List.of());
        FitAggregate b = strategy.aggregateFit(1, global(), masked, List.of());

        assertThat(masked).allSatisfy(r -> assertThat(r.metrics()).doesNotContainKey(DpAggregator.UNCLIPPED_KEY));
        double step = settings.config("s", 1, List.copyOf(clients.keySet()), new byte[32]).step();
        float[] x = a.parameters().orElseThrow().get("w").toFloats();
        float[] y = b.parameters().orElseThrow().get("w").toFloats();
        for (int j = 0; j < x.length; j++) {
            assertThat((double) Math.abs(x[j] - y[j])).isLessThanOrEqualTo(step / 2 + 4 * Math.ulp(3f));
        }
        for (String k : List.of("dp_clip", "dp_unclipped_estimate", "dp_epsilon", "dp_noise_stddev")) {
            assertThat(b.metrics().get(k)).as(k).isNotNull().isEqualTo(a.metrics().get(k));
        }
    }

    /** The round's average equals the plain weighted mean of {@code survivors}' fits within the fixed-point bound. */
    static void assertAveragesExactly(Map<String, Client> clients, SecAggSettings settings, FitAggregate agg,
                                      List<String> survivors) throws Exception {
        List<FitRes> others = new ArrayList<>();
        for (String id : survivors) {
            others.add(clients.get(id).fit(new FitIns(1, global(), Map.of())));
        }
        float[] expected = Aggregation.weightedMean(others).get("w").toFloats();
        float[] got = agg.parameters().orElseThrow().get("w").toFloats();
        double step = settings.config("s", 1, List.copyOf(clients.keySet()), new byte[32]).step();
        for (int j = 0; j < got.length; j++) {
            assertThat((double) Math.abs(got[j] - expected[j])).isLessThanOrEqualTo(bound(step, expected[j]) * 2);
        }
    }

    static Map<String, HostTensor> global() {
        return Map.of("w", HostTensor.ofFloats(new float[] {0.5f, -1f, 2f, 0f, 0.125f, 3f}, 2, 3));
    }

    static Map<String, Client> shiftClients(int n) {
        Map<String, Client> clients = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            float[] d = new float[6];
            for (int j = 0; j < 6; j++) {
                d[j] = (float) (0.01 * (i + 1) * (j - 2.5) + 0.003 * i);
            }
            clients.put("c" + i, new ShiftClient("c" + i, new TreeMap<>(Map.of("w", d)), 10L * (i + 1)));
        }
        return clients;
    }

    /** True if the float32 bytes of some client's update or trained tensor appear in the payload. */
    static boolean containsFloats(byte[] payload, Map<String, Client> clients) {
        for (Client c : clients.values()) {
            FitRes r = c.fit(new FitIns(1, global(), Map.of()));
            byte[] x = r.parameters().get("w").toBytes();
            byte[] d = HostTensor.ofFloats(((ShiftClient) c).delta().get("w"), 2, 3).toBytes();
            if (indexOf(payload, x) >= 0 || indexOf(payload, d) >= 0) {
                return true;
            }
        }
        return false;
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Records what the averaging strategy is handed. */
    static final class Recording implements org.fedqlora.fed.AveragingStrategy {
        final FedAvg fedAvg;
        List<FitRes> results;
        List<Failure> failures;

        Recording(Map<String, HostTensor> global) {
            fedAvg = new FedAvg(FedAvg.Config.defaults().withFailurePolicy(new FailurePolicy(1, 0)), global,
                    ServerOptimizer.average());
        }

        public FitAggregate aggregateSum(int round, Map<String, HostTensor> global, UpdateSum sum,
                                         List<FitRes> results, List<Failure> failures) {
            this.results = results;
            this.failures = failures;
            return fedAvg.aggregateSum(round, global, sum, results, failures);
        }

        public Map<String, HostTensor> initialParameters() {
            return fedAvg.initialParameters();
        }

        public Map<String, FitIns> configureFit(int r, Map<String, HostTensor> g, List<String> a, RandomGenerator x) {
            return fedAvg.configureFit(r, g, a, x);
        }

        public FitAggregate aggregateFit(int r, Map<String, HostTensor> g, List<FitRes> res, List<Failure> f) {
            return fedAvg.aggregateFit(r, g, res, f);
        }

        public Map<String, EvaluateIns> configureEvaluate(int r, Map<String, HostTensor> g, List<String> a,
                                                          RandomGenerator x) {
            return fedAvg.configureEvaluate(r, g, a, x);
        }

        public EvaluateAggregate aggregateEvaluate(int r, List<EvaluateRes> res, List<Failure> f) {
            return fedAvg.aggregateEvaluate(r, res, f);
        }
    }

    /** Secure clients, a channel, the decorated strategy; one round by hand (fit, then aggregate). */
    static final class Fixture {
        final Map<String, SecureClient> secure = new TreeMap<>();
        final Map<String, HostTensor> global;
        final Recording inner;
        final SecureAggregationStrategy strategy;
        final List<Message> view = new ArrayList<>();
        final List<FitRes> fitResults = new ArrayList<>();

        Fixture(Map<String, Client> clients, SecAggSettings settings, Map<String, HostTensor> global,
                InProcessChannel.Faults faults, long seed) throws Exception {
            this(clients, settings, global, faults, seed, (id, p) -> p);
        }

        /** wrap: what the channel reaches instead of each secure client (a test's hostile variant, or itself). */
        Fixture(Map<String, Client> clients, SecAggSettings settings, Map<String, HostTensor> global,
                InProcessChannel.Faults faults, long seed,
                BiFunction<String, InProcessChannel.Participant, InProcessChannel.Participant> wrap) throws Exception {
            SecureRandom random = PrimitivesTest.seeded(seed);
            clients.forEach((id, c) -> secure.put(id, new SecureClient(id, c, random)));
            this.global = global;
            inner = new Recording(global);
            Map<String, InProcessChannel.Participant> reached = new TreeMap<>();
            secure.forEach((id, c) -> reached.put(id, wrap.apply(id, c)));
            strategy = new SecureAggregationStrategy(inner, new InProcessChannel(reached, faults,
                    UnaryOperator.identity()), settings, random, view::add);
        }

        FitAggregate round(int round) {
            secure.values().forEach(c -> fitResults.add(c.fit(new FitIns(round, global, Map.of()))));
            return strategy.aggregateFit(round, global, fitResults, List.of());
        }
    }
}
