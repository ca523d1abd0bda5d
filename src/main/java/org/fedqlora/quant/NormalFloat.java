package org.fedqlora.quant;

import java.util.Arrays;

/**
 * Normal-float (NF-k) codebooks: QLoRA's {@code create_normal_map} generalised to k bits.
 *
 * <p>With m = 2^(k-1): m positive standard-normal quantiles at {@code linspace(0.9677083, 0.5, m + 1)[:-1]},
 * m - 1 negative ones, {@code -quantile(linspace(0.9677083, 0.5, m)[:-1])}, and an exact 0; sorted and divided by
 * the largest, so the table runs from -1 to 1 and holds 2^k values. k = 4 is QLoRA's NF4 table. Computed in double
 * precision and rounded once to float.
 */
public final class NormalFloat {
    /** The outermost probability, QLoRA's offset: the mean of the two choices 1 - 1/(2*15) and 1 - 1/(2*16). */
    static final double OFFSET = 0.9677083;

    private NormalFloat() {
    }

    /** The 2^bits sorted codebook values in [-1, 1]. */
    public static float[] codebook(int bits) {
        if (bits < 2 || bits > 8) {
            throw new IllegalArgumentException("normal-float codebooks have 2..8 bits, got " + bits);
        }
        int m = 1 << (bits - 1);
        double[] v = new double[2 * m];
        int n = 0;
        for (double p : linspaceWithoutLast(OFFSET, 0.5, m + 1)) {
            v[n++] = inverseNormalCdf(p);
        }
        for (double p : linspaceWithoutLast(OFFSET, 0.5, m)) {
            v[n++] = -inverseNormalCdf(p);
        }
        v[n] = 0.0;
        Arrays.sort(v);
        double max = v[v.length - 1];
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] / max);
        }
        return out;
    }

    /** {@code numpy.linspace(from, to, count)[:-1]}. */
    private static double[] linspaceWithoutLast(double from, double to, int count) {
        double step = (to - from) / (count - 1);
        double[] out = new double[count - 1];
        for (int i = 0; i < out.length; i++) {
            out[i] = from + i * step;
        }
        return out;
    }

    /**
     * The standard normal quantile Φ⁻¹(p) for 0 < p < 1: Wichura's algorithm AS 241 (PPND16), relative error
     * about 1e-16 (Applied Statistics 37, 1988, 477-484).
     */
    public static double inverseNormalCdf(double p) {
        if (!(p > 0.0 && p < 1.0)) {
            throw new IllegalArgumentException("normal quantile needs 0 < p < 1, got " + p);
        }
        double q = p - 0.5;
        if (Math.abs(q) <= 0.425) {
            return q * central(0.180625 - q * q);
        }
        double r = Math.sqrt(-Math.log(q < 0 ? p : 1.0 - p));
        double tail = r <= 5.0 ? intermediateTail(r - 1.6) : farTail(r - 5.0);
        return q < 0 ? -tail : tail;
    }

    private static double central(double r) {
        double num = ((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r
                + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
                + 133.14166789178437745) * r + 3.387132872796366608;
        double den = ((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r
                + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
                + 42.313330701600911252) * r + 1.0;
        return num / den;
    }

    private static double intermediateTail(double r) {
        double num = ((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
                + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r
                + 4.6303378461565452959) * r + 1.42343711074968357734;
        double den = ((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
                + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r
                + 2.05319162663775882187) * r + 1.0;
        return num / den;
    }

    private static double farTail(double r) {
        double num = ((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
                + 0.0012426609473880784386) * r + 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r
                + 5.4637849111641143699) * r + 6.6579046435011037772;
        double den = ((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
                + 0.59983220655588793769) * r + 1.0;
        return num / den;
    }
}
