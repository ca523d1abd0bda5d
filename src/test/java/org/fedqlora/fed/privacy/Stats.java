package org.fedqlora.fed.privacy;

/**
 * Acceptance bounds of the statistical tests, each at a stated false-failure probability (the probability that a
 * correct implementation fails the check).
 */
final class Stats {
    /** Per check: a correct implementation fails with probability at most this (two-sided). */
    static final double FALSE_FAILURE = 1e-6;
    /** The standard normal quantile z with P(|N(0,1)| > z) = 1e-6: Φ^-1(1 − 5e-7). */
    static final double Z = 4.891638;

    private Stats() {
    }

    /**
     * Two-sided bounds of χ²_d at {@link #FALSE_FAILURE} by the Wilson–Hilferty approximation
     * (χ²_d / d)^(1/3) ≈ N(1 − 2/(9d), 2/(9d)), accurate to well under 1 % of the bounds for d ≥ 1000.
     */
    static double[] chiSquareBounds(int d) {
        double v = 2.0 / (9 * d);
        return new double[] {d * Math.pow(1 - v - Z * Math.sqrt(v), 3), d * Math.pow(1 - v + Z * Math.sqrt(v), 3)};
    }

    /** Φ(x) = ½ erfc(−x/√2). */
    static double normalCdf(double x) {
        return 0.5 * Math.exp(Rdp.logErfc(-x / Math.sqrt(2)));
    }

    /**
     * The Kolmogorov–Smirnov statistic D_n = sup |F_n − Φ| of standard-normal samples, to compare with
     * {@link #ksBound}.
     */
    static double ksStatistic(double[] samples) {
        double[] x = samples.clone();
        java.util.Arrays.sort(x);
        double d = 0;
        int n = x.length;
        for (int i = 0; i < n; i++) {
            double f = normalCdf(x[i]);
            d = Math.max(d, Math.max((i + 1.0) / n - f, f - (double) i / n));
        }
        return d;
    }

    /** P(D_n &gt; b) ≤ 2 exp(−2 n b²) (Dvoretzky–Kiefer–Wolfowitz, Massart's constant): b at {@link #FALSE_FAILURE}. */
    static double ksBound(int n) {
        return Math.sqrt(Math.log(2 / FALSE_FAILURE) / (2 * n));
    }
}
