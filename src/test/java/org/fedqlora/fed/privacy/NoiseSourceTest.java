package org.fedqlora.fed.privacy;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The noise streams: reproducible when seeded, independent across rounds and purposes, standard normal. */
class NoiseSourceTest {
    private static final int N = 100_000;

    @Test
    void seededStreamsDependOnlyOnSeedRoundAndPurpose() {
        double[] a = draw(NoiseSource.seeded(7).stream(3, "central"), 1000);
        double[] b = draw(NoiseSource.seeded(7).stream(3, "central"), 1000);
        double[] otherRound = draw(NoiseSource.seeded(7).stream(4, "central"), 1000);
        double[] otherPurpose = draw(NoiseSource.seeded(7).stream(3, "count"), 1000);
        double[] otherSeed = draw(NoiseSource.seeded(8).stream(3, "central"), 1000);

        assertThat(a).isEqualTo(b);
        assertThat(a).isNotEqualTo(otherRound).isNotEqualTo(otherPurpose).isNotEqualTo(otherSeed);
    }

    @Test
    void secureStreamsAreNotReproducible() {
        NoiseSource s = NoiseSource.secure();

        assertThat(draw(s.stream(1, "central"), 100)).isNotEqualTo(draw(s.stream(1, "central"), 100));
        assertThat(s.describe()).contains("secure");
    }

    /** Kolmogorov–Smirnov against Φ, mean and variance, each at false-failure probability 1e-6 ({@link Stats}). */
    @Test
    void seededSamplesAreStandardNormal() {
        checkStandardNormal(draw(NoiseSource.seeded(1).stream(1, "central"), N));
    }

    @Test
    void secureSamplesAreStandardNormal() {
        checkStandardNormal(draw(NoiseSource.secure().stream(1, "central"), N));
    }

    /** Lag-1 correlation of a stream: |r| √n ~ N(0, 1) for independent samples. */
    @Test
    void consecutiveSamplesAreUncorrelated() {
        double[] x = draw(NoiseSource.seeded(2).stream(1, "central"), N);
        double r = 0;
        for (int i = 1; i < N; i++) {
            r += x[i] * x[i - 1];
        }
        assertThat(Math.abs(r / N) * Math.sqrt(N)).isLessThan(Stats.Z);
    }

    static void checkStandardNormal(double[] x) {
        double sum = 0;
        double squares = 0;
        for (double v : x) {
            sum += v;
            squares += v * v;
        }
        int n = x.length;
        assertThat(Math.abs(sum) / Math.sqrt(n)).as("standardised mean").isLessThan(Stats.Z);
        double[] chi = Stats.chiSquareBounds(n);
        assertThat(squares).as("Σ x² ~ χ²_n").isBetween(chi[0], chi[1]);
        assertThat(Stats.ksStatistic(x)).as("KS distance to Φ").isLessThan(Stats.ksBound(n));
    }

    static double[] draw(GaussianSampler g, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = g.next();
        }
        return x;
    }
}
