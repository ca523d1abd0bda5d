package org.fedqlora.data;

import java.util.SplittableRandom;

/**
 * Gamma and Dirichlet sampling on a caller's {@link SplittableRandom}, so partitions are reproducible from a seed.
 *
 * <p>Gamma(shape, 1) by Marsaglia and Tsang (2000), "A simple method for generating gamma variables": for shape
 * {@code a >= 1}, d = a - 1/3, c = 1/sqrt(9d); draw x ~ N(0,1), v = (1 + c x)^3, u ~ U(0,1) until v > 0 and
 * log u < x^2/2 + d (1 - v + log v); return d v. For {@code a < 1}, Gamma(a) = Gamma(a + 1) * U^(1/a). Samples are
 * kept as logarithms so that tiny shapes (alpha = 0.01), whose draws underflow a double, still normalise.
 * Dirichlet(alpha, ..., alpha) = independent Gamma(alpha) draws divided by their sum.
 */
final class DirichletSampler {
    private DirichletSampler() {
    }

    /** One draw of Gamma(shape, scale 1). */
    static double gamma(SplittableRandom random, double shape) {
        return Math.exp(logGamma(random, shape));
    }

    /** One draw of a symmetric Dirichlet(alpha) over {@code n} components: non-negative, summing to 1. */
    static double[] dirichlet(SplittableRandom random, double alpha, int n) {
        double[] logs = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            logs[i] = logGamma(random, alpha);
            max = Math.max(max, logs[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            logs[i] = Math.exp(logs[i] - max);
            sum += logs[i];
        }
        for (int i = 0; i < n; i++) {
            logs[i] /= sum;
        }
        return logs;
    }

    /** log of one draw of Gamma(shape, 1). */
    static double logGamma(SplittableRandom random, double shape) {
        if (!(shape > 0)) {
            throw new IllegalArgumentException("gamma shape must be > 0, got " + shape);
        }
        if (shape < 1) {
            double u = 1.0 - random.nextDouble(); // in (0, 1]
            return logGamma(random, shape + 1) + Math.log(u) / shape;
        }
        double d = shape - 1.0 / 3.0;
        double c = 1.0 / Math.sqrt(9.0 * d);
        while (true) {
            double x = random.nextGaussian();
            double v = 1.0 + c * x;
            if (v <= 0) {
                continue;
            }
            v = v * v * v;
            double u = 1.0 - random.nextDouble();
            if (u < 1.0 - 0.0331 * x * x * x * x
                    || Math.log(u) < 0.5 * x * x + d * (1.0 - v + Math.log(v))) {
                return Math.log(d * v);
            }
        }
    }
}
