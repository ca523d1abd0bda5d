package org.fedqlora.fed.privacy;

import org.fedqlora.fed.Aggregator;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * DP-FedAvg aggregation: the clipped, noised aggregate has the norm bound and the noise variance of the mechanism
 * (statistical checks at false-failure probability 1e-6 each, see {@link Stats}), divides by the expected number of
 * clients, adapts the clip, and stops before the budget is exceeded.
 */
class DpAggregatorTest {
    private static final long[] SHAPE_A = {40, 250};   // 10 000 elements
    private static final long[] SHAPE_B = {100, 100};  // 10 000 elements
    private static final int D = 20_000;

    private static DpSettings central(double clip, double z, double q, int population) {
        return new DpSettings(DpSettings.Mode.CENTRAL, clip, false, 0, 0, 0, z, 1e-5, 0, q, population);
    }

    private static Map<String, HostTensor> zeros() {
        return Map.of("a.lora_B", HostTensor.ofFloats(new float[10_000], SHAPE_A),
                "head.weight", HostTensor.ofFloats(new float[10_000], SHAPE_B));
    }

    /** A client update with i.i.d. N(0, scale²) entries (over both tensors). */
    private static FitRes update(String id, Random random, double scale) {
        float[] a = new float[10_000];
        float[] b = new float[10_000];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (scale * random.nextGaussian());
            b[i] = (float) (scale * random.nextGaussian());
        }
        return new FitRes(id, Map.of("a.lora_B", HostTensor.ofFloats(a, SHAPE_A),
                "head.weight", HostTensor.ofFloats(b, SHAPE_B)), 10, Map.of());
    }

    /** Σ_i Δ_i · min(1, S/‖Δ_i‖) / m, computed here directly from the definition. */
    private static double[] expectedMean(List<FitRes> results, double clip, double m) {
        double[] sum = new double[D];
        for (FitRes r : results) {
            double[] v = flat(r.parameters());
            double norm = 0;
            for (double x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            double f = Math.min(1, clip / norm);
            for (int i = 0; i < D; i++) {
                sum[i] += v[i] * f / m;
            }
        }
        return sum;
    }

    private static double[] flat(Map<String, HostTensor> p) {
        double[] out = new double[D];
        int k = 0;
        for (String name : new TreeMap<>(p).keySet()) {
            for (float x : p.get(name).toFloats()) {
                out[k++] = x;
            }
        }
        return out;
    }

    @Test
    void clippedNoisedAggregateHasTheNormBoundAndNoiseVariance() {
        // Prepare: 5 clients, 3 with updates far above the clip (norm ≈ 14) and 2 below it (norm ≈ 0.14)
        double clip = 0.5;
        double z = 1.3;
        Random random = new Random(11);
        List<FitRes> results = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            results.add(update("c" + i, random, i < 3 ? 0.1 : 0.001));
        }
        DpAggregator dp = new DpAggregator(central(clip, z, 1.0, 5), NoiseSource.seeded(3));

        // Execute
        Aggregator.Result r = dp.aggregate(1, zeros(), results);

        // Assert: the noise-free part is the clipped mean, of norm ≤ K·S/m; the rest is N(0, (zS/m)²) per coordinate
        double m = 5;
        double[] signal = expectedMean(results, clip, m);
        double signalNorm = 0;
        for (double s : signal) {
            signalNorm += s * s;
        }
        assertThat(Math.sqrt(signalNorm)).isLessThanOrEqualTo(5 * clip / m * (1 + 1e-9));
        double[] got = flat(r.mean());
        double sigma = z * clip / m;
        double[] standardised = new double[D];
        double squares = 0;
        for (int i = 0; i < D; i++) {
            standardised[i] = (got[i] - signal[i]) / sigma;
            squares += standardised[i] * standardised[i];
        }
        double[] chi = Stats.chiSquareBounds(D);
        assertThat(squares).as("Σ (noise/σ)² ~ χ²_%d", D).isBetween(chi[0], chi[1]);
        assertThat(Stats.ksStatistic(standardised)).as("KS distance to Φ").isLessThan(Stats.ksBound(D));
        assertThat(r.metrics()).containsEntry("dp_clip", clip).containsEntry("dp_noise_stddev", sigma);
    }

    @Test
    void everyClippedUpdateIsWithinTheClipNorm() {
        Random random = new Random(5);
        for (int i = 0; i < 20; i++) {
            SortedMap<String, double[]> delta = Updates.delta(zeros(), update("c", random, Math.exp(random.nextGaussian()
                    * 3)).parameters(), "c");
            double before = Updates.l2Norm(delta);

            double reported = Updates.clipInPlace(delta, 0.7);

            assertThat(reported).isEqualTo(before);
            assertThat(Updates.l2Norm(delta)).isLessThanOrEqualTo(0.7 * (1 + 1e-12));
            if (before <= 0.7) {
                assertThat(Updates.l2Norm(delta)).isEqualTo(before);
            }
        }
    }

    @Test
    void meanDividesByTheExpectedNotTheRealisedNumberOfClients() {
        // q = 0.5 of 8 clients: m = 4, whatever the sample; one small update (unclipped), negligible noise
        DpAggregator dp = new DpAggregator(central(10, 1e-9, 0.5, 8), NoiseSource.seeded(1));
        FitRes one = update("c0", new Random(1), 0.01);

        Aggregator.Result r = dp.aggregate(1, zeros(), List.of(one));

        double[] expected = flat(one.parameters());
        double[] got = flat(r.mean());
        for (int i = 0; i < D; i += 997) {
            assertThat(got[i]).isCloseTo(expected[i] / 4, within(1e-7));
        }
    }

    @Test
    void anEmptyRoundStillAddsNoiseToTheSharedTensors() {
        DpAggregator dp = new DpAggregator(central(1, 1, 0.5, 4), NoiseSource.seeded(1));
        Map<String, HostTensor> global = zeros();
        dp.aggregate(1, global, List.of(update("c0", new Random(2), 0.01)));

        Aggregator.Result empty = dp.aggregate(2, global, List.of());

        assertThat(empty.mean().keySet()).isEqualTo(global.keySet());
        double squares = 0;
        for (double v : flat(empty.mean())) {
            squares += v * v;
        }
        double sigma = 1.0 / 2; // z S / m
        double[] chi = Stats.chiSquareBounds(D);
        assertThat(squares / (sigma * sigma)).isBetween(chi[0], chi[1]);
    }

    @Test
    void seededNoiseIsReproducible() {
        List<FitRes> results = List.of(update("c0", new Random(1), 0.1), update("c1", new Random(2), 0.1));

        var a = new DpAggregator(central(1, 1, 1, 2), NoiseSource.seeded(9)).aggregate(3, zeros(), results);
        var b = new DpAggregator(central(1, 1, 1, 2), NoiseSource.seeded(9)).aggregate(3, zeros(), results);
        var c = new DpAggregator(central(1, 1, 1, 2), NoiseSource.seeded(10)).aggregate(3, zeros(), results);

        assertThat(flat(a.mean())).isEqualTo(flat(b.mean())).isNotEqualTo(flat(c.mean()));
    }

    /** The number of Poisson-sampled clients is Binomial(N, q): within ±Z standard deviations. */
    @Test
    void poissonSamplingIncludesEachClientWithProbabilityQ() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            ids.add(String.format("c%04d", i));
        }

        List<String> sampled = DpAggregator.poissonSample(ids, 0.3, new SplittableRandom(4));

        assertThat((double) sampled.size()).isCloseTo(300, within(Stats.Z * Math.sqrt(1000 * 0.3 * 0.7)));
        assertThat(sampled).isSorted().doesNotHaveDuplicates();
        assertThat(DpAggregator.poissonSample(ids, 1.0, new SplittableRandom(4))).hasSize(1000);
    }

    @Test
    void geometricUpdateMovesTheClipTowardsTheTargetQuantile() {
        // Andrew et al. 2021: C ← C exp(−η (b̃ − γ)); all unclipped → shrink, none unclipped → grow
        assertThat(DpAggregator.geometricClipUpdate(1, 1.0, 0.5, 0.2)).isCloseTo(Math.exp(-0.1), within(1e-15));
        assertThat(DpAggregator.geometricClipUpdate(1, 0.0, 0.5, 0.2)).isCloseTo(Math.exp(0.1), within(1e-15));

        // 100 clients with update norms 0.1, 0.2, ..., 10: the clip settles near the median norm 5
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 0.5, true, 0.5, 0.2, 5, 0.5, 1e-5, 0, 1.0, 100);
        DpAggregator dp = new DpAggregator(s, NoiseSource.seeded(1));
        Map<String, HostTensor> global = Map.of("w", HostTensor.ofFloats(new float[1], 1));
        List<FitRes> results = new ArrayList<>();
        for (int i = 1; i <= 100; i++) {
            results.add(new FitRes(String.format("c%03d", i), Map.of("w", HostTensor.ofFloats(new float[] {i / 10f}, 1)),
                    1, Map.of()));
        }
        for (int round = 1; round <= 300; round++) {
            dp.aggregate(round, global, results);
        }
        assertThat(dp.clip()).isCloseTo(5.0, within(1.0));
    }

    /** Andrew et al. 2021 Theorem 1: update noise z_Δ and count noise σ_b together cost z. */
    @Test
    void adaptiveClippingSplitsTheNoiseAsThePaper() {
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 1, true, 0.5, 0.2, 2, 1.0, 1e-5, 0, 1.0, 40);

        double zDelta = s.updateNoiseMultiplier();

        assertThat(1 / Math.sqrt(1 / (zDelta * zDelta) + 1 / (4.0 * 2 * 2))).isCloseTo(1.0, within(1e-12));
        assertThat(zDelta).isGreaterThan(1.0);
        assertThatThrownBy(() -> new DpSettings(DpSettings.Mode.CENTRAL, 1, true, 0.5, 0.2, 0.4, 1.0, 1e-5, 0, 1, 8))
                .hasMessageContaining("must exceed z/2");
    }

    @Test
    void stateRestoresTheAdaptedClipExactly() {
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 0.5, true, 0.5, 0.2, 2, 1.0, 1e-5, 0, 1.0, 4);
        List<FitRes> results = List.of(update("c0", new Random(1), 0.1), update("c1", new Random(2), 0.001));
        DpAggregator first = new DpAggregator(s, NoiseSource.seeded(5));
        first.aggregate(1, zeros(), results);

        DpAggregator resumed = new DpAggregator(s, NoiseSource.seeded(5));
        resumed.restoreState(first.state());

        assertThat(resumed.clip()).isEqualTo(first.clip()).isNotEqualTo(0.5);
        assertThat(flat(resumed.aggregate(2, zeros(), results).mean()))
                .isEqualTo(flat(first.aggregate(2, zeros(), results).mean()));
    }

    @Test
    void runStopsBeforeARoundWouldExceedTheTargetEpsilon() {
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 1, false, 0, 0, 0, 1.0, 1e-5, 3.0, 0.5, 10);
        DpAggregator dp = new DpAggregator(s, NoiseSource.seeded(1));
        long last = s.accountant().stepsWithin(3.0, 1e-5, 10_000);

        assertThat(dp.stopBefore((int) last)).isEmpty();
        assertThat(dp.stopBefore((int) last + 1)).hasValueSatisfying(m -> assertThat(m)
                .contains("privacy budget", "round " + (last + 1), "target_epsilon", "stopped after round " + last));
        assertThat(dp.epsilonAfter((int) last)).isLessThanOrEqualTo(3.0);
    }

    @Test
    void calibratedNoiseSpendsTheTargetInThePlannedRounds() {
        double z = DpSettings.calibrate(DpSettings.Mode.CENTRAL, 2.0, 1e-5, 0.25, 50);
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 1, false, 0, 0, 0, z, 1e-5, 2.0, 0.25, 40);

        assertThat(s.accountant().epsilon(50, 1e-5)).isLessThanOrEqualTo(2.0).isGreaterThan(1.99);
        assertThat(new DpAggregator(s, NoiseSource.seeded(1)).stopBefore(50)).isEmpty();
    }

    /** A client that returns x_global + Δ with a large Δ of i.i.d. entries. */
    private record FixedClient(String id, double scale) implements Client {
        @Override
        public FitRes fit(FitIns ins) {
            FitRes u = update(id, new Random(1), scale);
            Map<String, HostTensor> out = new TreeMap<>();
            u.parameters().forEach((n, t) -> {
                float[] g = ins.parameters().get(n).toFloats();
                float[] d = t.toFloats();
                for (int i = 0; i < d.length; i++) {
                    d[i] += g[i];
                }
                out.put(n, HostTensor.ofFloats(d, t.shape()));
            });
            return new FitRes(id, out, 10, Map.of("train_loss", 1.0));
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void localDpClientSendsAClippedUpdateWithItsOwnNoise() {
        double clip = 0.3;
        double z = 2;
        Client c = DpClient.local(new FixedClient("c0", 0.1), "c0", clip, z, NoiseSource.seeded(4));

        FitRes res = c.fit(new FitIns(1, zeros(), Map.of()));

        double[] signal = expectedMean(List.of(update("c0", new Random(1), 0.1)), clip, 1);
        double[] got = flat(res.parameters());
        double squares = 0;
        for (int i = 0; i < D; i++) {
            double e = (got[i] - signal[i]) / (z * clip);
            squares += e * e;
        }
        double[] chi = Stats.chiSquareBounds(D);
        assertThat(squares).isBetween(chi[0], chi[1]);
        assertThat(res.metrics()).isEmpty();
        assertThat(res.numExamples()).isZero();
    }

    @Test
    void clippingClientClipsToTheServersNormAndReportsTheBit() {
        Client c = DpClient.clipping(new FixedClient("c0", 0.1), "c0");

        FitRes res = c.fit(new FitIns(1, zeros(), Map.of(DpAggregator.CLIP_KEY, "0.25")));

        double norm = 0;
        for (double v : flat(res.parameters())) {
            norm += v * v;
        }
        assertThat(Math.sqrt(norm)).isCloseTo(0.25, within(1e-6));
        assertThat(res.metrics()).containsEntry(DpAggregator.UNCLIPPED_KEY, 0.0).containsEntry("train_loss", 1.0);
        assertThatThrownBy(() -> c.fit(new FitIns(1, zeros(), Map.of())))
                .hasMessageContaining(DpAggregator.CLIP_KEY);
    }

    @Test
    void localAccountingUsesTwiceTheClipAsSensitivityWithoutAmplification() {
        DpSettings local = new DpSettings(DpSettings.Mode.LOCAL, 1, false, 0, 0, 0, 4.0, 1e-5, 0, 0.5, 10);

        // Gaussian mechanism, sensitivity 2S, σ = zS: RDP α / (2 (z/2)²) per round, no subsampling
        assertThat(local.accountant().rdp(3)[0]).isCloseTo(3 * Rdp.DEFAULT_ORDERS.get(0) / (2 * 2.0 * 2.0),
                within(1e-12));
    }

    /** Secure aggregation's path: clients clip, only the sum reaches {@link DpAggregator#release}; same result. */
    @Test
    void releasingAClientClippedSumEqualsServerSideClipping() {
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 0.25, true, 0.5, 0.2, 2, 1.0, 1e-5, 0, 1.0, 2);
        List<Client> clients = List.of(DpClient.clipping(new FixedClient("c0", 0.1), "c0"),
                DpClient.clipping(new FixedClient("c1", 0.0001), "c1"));
        DpAggregator server = new DpAggregator(s, NoiseSource.seeded(8));
        DpAggregator secure = new DpAggregator(s, NoiseSource.seeded(8));
        FitIns ins = new FitIns(1, zeros(), secure.fitConfig(1));
        List<FitRes> results = clients.stream().map(c -> c.fit(ins)).toList();
        SortedMap<String, double[]> sum = new TreeMap<>();
        int unclipped = 0;
        for (FitRes r : results) {
            Updates.accumulate(sum, Updates.delta(zeros(), r.parameters(), r.clientId()));
            unclipped += r.metrics().get(DpAggregator.UNCLIPPED_KEY).intValue();
        }

        double[] viaSum = flat(secure.release(1, zeros(), sum, unclipped).mean());
        double[] viaServer = flat(server.aggregate(1, zeros(), results).mean());

        assertThat(unclipped).isEqualTo(1);
        for (int i = 0; i < D; i++) {
            assertThat(viaSum[i]).isCloseTo(viaServer[i], within(1e-6));
        }
        assertThat(secure.clip()).isEqualTo(server.clip());
    }
}
