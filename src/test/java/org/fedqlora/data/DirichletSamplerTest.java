package org.fedqlora.data;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class DirichletSamplerTest {
    /** Draws per moment check; the sample mean's standard error is sqrt(shape / DRAWS). */
    private static final int DRAWS = 200_000;
    /** Allowed relative error of the sample mean and variance of Gamma(shape, 1) (both equal shape). */
    private static final double MOMENT_TOLERANCE = 0.03;

    @ParameterizedTest
    @ValueSource(doubles = {0.1, 0.5, 1.0, 3.5, 20.0})
    void gammaHasMeanAndVarianceEqualToItsShape(double shape) {
        SplittableRandom random = new SplittableRandom(42);
        double sum = 0;
        double sumSq = 0;
        for (int i = 0; i < DRAWS; i++) {
            double x = DirichletSampler.gamma(random, shape);
            sum += x;
            sumSq += x * x;
        }
        double mean = sum / DRAWS;
        double variance = sumSq / DRAWS - mean * mean;

        System.out.printf("gamma(%.1f): mean %.4f (rel err %.4f), variance %.4f (rel err %.4f)%n", shape, mean,
                Math.abs(mean - shape) / shape, variance, Math.abs(variance - shape) / shape);
        assertThat(Math.abs(mean - shape) / shape).isLessThan(MOMENT_TOLERANCE);
        assertThat(Math.abs(variance - shape) / shape).isLessThan(MOMENT_TOLERANCE * 2);
    }

    @Test
    void dirichletSumsToOneEvenForTinyAlpha() {
        SplittableRandom random = new SplittableRandom(1);
        for (double alpha : new double[]{0.001, 0.1, 1, 100}) {
            double[] p = DirichletSampler.dirichlet(random, alpha, 10);
            double sum = 0;
            for (double v : p) {
                assertThat(v).isBetween(0.0, 1.0);
                sum += v;
            }
            assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    @Test
    void smallAlphaConcentratesMassLargeAlphaSpreadsIt() {
        SplittableRandom random = new SplittableRandom(3);
        double maxSmall = 0;
        double maxLarge = 0;
        int trials = 200;
        for (int t = 0; t < trials; t++) {
            maxSmall += max(DirichletSampler.dirichlet(random, 0.05, 10)) / trials;
            maxLarge += max(DirichletSampler.dirichlet(random, 100, 10)) / trials;
        }

        System.out.printf("mean largest share over 10: alpha 0.05 -> %.3f, alpha 100 -> %.3f%n", maxSmall, maxLarge);
        assertThat(maxSmall).isGreaterThan(0.7);
        assertThat(maxLarge).isLessThan(0.15);
    }

    private static double max(double[] p) {
        double m = 0;
        for (double v : p) {
            m = Math.max(m, v);
        }
        return m;
    }
}
