package org.fedqlora.fed.privacy;

import java.util.function.LongSupplier;

/**
 * Standard normal samples from a source of uniform 64-bit words (a {@link NoiseSource} stream), by the polar method
 * (Marsaglia and Bray 1964): draw u, v uniform on (−1, 1) until s = u² + v² is in (0, 1); then u·f and v·f with
 * f = √(−2 ln s / s) are two independent N(0, 1) samples. Uniforms have 53 random bits (u = (w &gt;&gt;&gt; 11) · 2^−52 − 1).
 * This is the method of {@code java.util.Random.nextGaussian}, here fed by a cryptographic generator. Not thread-safe.
 *
 * <p>Known limit: floating-point Gaussian samples are not exactly Gaussian in their lowest bits (Mironov 2012,
 * "On Significance of the Least Significant Bits for Differential Privacy", for the Laplace case); the noised values
 * are rounded to float32 before they leave the server, which removes most such low-order structure but is not a
 * proof. Discrete (e.g. Canonne et al. 2020) or snapped samplers would close this gap.
 */
public final class GaussianSampler {
    private final LongSupplier bits;
    private double spare;
    private boolean hasSpare;

    public GaussianSampler(LongSupplier bits) {
        this.bits = bits;
    }

    /** The next N(0, 1) sample. */
    public double next() {
        if (hasSpare) {
            hasSpare = false;
            return spare;
        }
        double u;
        double v;
        double s;
        do {
            u = uniformSigned();
            v = uniformSigned();
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.sqrt(-2 * Math.log(s) / s);
        spare = v * f;
        hasSpare = true;
        return u * f;
    }

    /** Adds N(0, stddev²) independently to every element of {@code values}. */
    public void addTo(double[] values, double stddev) {
        for (int i = 0; i < values.length; i++) {
            values[i] += stddev * next();
        }
    }

    /** Uniform on [−1, 1) with 53 random bits. */
    private double uniformSigned() {
        return (bits.getAsLong() >>> 11) * 0x1.0p-52 - 1;
    }
}
