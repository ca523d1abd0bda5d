package org.fedqlora.fed.privacy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Rényi-DP formulas for the (Poisson-)subsampled Gaussian mechanism and the conversion to (ε, δ), one small function
 * per formula, as in Opacus' {@code accountants/analysis/rdp.py} and TF-Privacy's {@code rdp_accountant.py}.
 *
 * <p>Notation: q = sampling probability (each participant is included independently with probability q), σ = noise
 * multiplier (noise standard deviation / L2 sensitivity), α = Rényi order &gt; 1. The sampled Gaussian mechanism
 * SGM(q, σ) applied to a sum query of sensitivity 1 is (α, ε(α))-RDP with ε(α) = log(A_α) / (α − 1), where
 * <pre>
 *   A_α = E_{z ~ μ0} [ (μ(z) / μ0(z))^α ],   μ0 = N(0, σ²),  μ = (1 − q) N(0, σ²) + q N(1, σ²)
 * </pre>
 * (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", arXiv:1908.10530,
 * Section 3: add/remove-one adjacency). Everything is computed in log space to avoid overflow.
 */
public final class Rdp {
    /**
     * Opacus' default orders (RDPAccountant.DEFAULT_ALPHAS): 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
     */
    public static final List<Double> DEFAULT_ORDERS = defaultOrders();

    private static final double LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

    private Rdp() {
    }

    private static List<Double> defaultOrders() {
        List<Double> orders = new ArrayList<>();
        for (int x = 1; x < 100; x++) {
            orders.add(1 + x / 10.0);
        }
        for (int a = 12; a < 64; a++) {
            orders.add((double) a);
        }
        return Collections.unmodifiableList(orders);
    }

    // ---- the RDP of one step --------------------------------------------------------------------------------

    /**
     * ε(α) of one step of SGM(q, σ): 0 if q = 0; ∞ if σ = 0 or α = ∞; α / (2σ²) if q = 1 (the plain Gaussian
     * mechanism, {@link #gaussianRdp}); otherwise log(A_α) / (α − 1) (Mironov et al. 2019, Section 3).
     */
    public static double sampledGaussianRdp(double q, double sigma, double alpha) {
        checkArguments(q, sigma, alpha);
        if (q == 0) {
            return 0;
        }
        if (sigma == 0 || Double.isInfinite(alpha)) {
            return Double.POSITIVE_INFINITY;
        }
        if (q == 1) {
            return gaussianRdp(sigma, alpha);
        }
        return logA(q, sigma, alpha) / (alpha - 1);
    }

    /**
     * The Gaussian mechanism with sensitivity 1 and noise N(0, σ²) is (α, α / (2σ²))-RDP
     * (Mironov 2017, "Rényi Differential Privacy", Proposition 7 / Table II).
     */
    public static double gaussianRdp(double sigma, double alpha) {
        return alpha / (2 * sigma * sigma);
    }

    /** log A_α, by the integer-order sum when α is an integer and the fractional-order series otherwise. */
    static double logA(double q, double sigma, double alpha) {
        if (alpha == Math.rint(alpha) && alpha < Integer.MAX_VALUE) {
            return logAIntegerOrder(q, sigma, (int) alpha);
        }
        return logAFractionalOrder(q, sigma, alpha);
    }

    /**
     * Integer α (Mironov et al. 2019, Section 3.3, "integer α"): the binomial expansion of A_α,
     * <pre>
     *   A_α = Σ_{k=0}^{α} C(α, k) (1 − q)^{α−k} q^k exp((k² − k) / (2σ²))
     * </pre>
     * summed in log space.
     */
    static double logAIntegerOrder(double q, double sigma, int alpha) {
        double logA = Double.NEGATIVE_INFINITY;
        for (int k = 0; k <= alpha; k++) {
            double logTerm = logBinomial(alpha, k) + k * Math.log(q) + (alpha - k) * Math.log1p(-q)
                    + (k * (double) k - k) / (2 * sigma * sigma);
            logA = logAdd(logA, logTerm);
        }
        return logA;
    }

    /**
     * Fractional α (Mironov et al. 2019, Section 3.3, "fractional α"): A_α = A_α,0 + A_α,1 with
     * z0 = σ² log(1/q − 1) + 1/2 and
     * <pre>
     *   A_α,0 = Σ_{i≥0} C(α, i) q^i (1 − q)^{α−i} exp((i² − i) / (2σ²)) · ½ erfc((i − z0) / (√2 σ))
     *   A_α,1 = Σ_{i≥0} C(α, i) q^{α−i} (1 − q)^i exp(((α−i)² − (α−i)) / (2σ²)) · ½ erfc((z0 − (α−i)) / (√2 σ))
     * </pre>
     * where C(α, i) = α(α−1)…(α−i+1) / i! is a generalised binomial coefficient, negative for some i &gt; α: those
     * terms are subtracted in log space. The series is cut when both terms fall below e^−30, as Opacus and
     * TF-Privacy do.
     */
    static double logAFractionalOrder(double q, double sigma, double alpha) {
        double logA0 = Double.NEGATIVE_INFINITY;
        double logA1 = Double.NEGATIVE_INFINITY;
        double z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
        double coefficient = 1; // C(alpha, i), updated by the ratio (alpha - i) / (i + 1)
        double logCoefficient = 0;
        for (int i = 0; i < 100_000; i++) {
            double j = alpha - i;
            double logT0 = logCoefficient + i * Math.log(q) + j * Math.log1p(-q);
            double logT1 = logCoefficient + j * Math.log(q) + i * Math.log1p(-q);
            double logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.sqrt(2) * sigma));
            double logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.sqrt(2) * sigma));
            double logS0 = logT0 + (i * (double) i - i) / (2 * sigma * sigma) + logE0;
            double logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
            if (coefficient > 0) {
                logA0 = logAdd(logA0, logS0);
                logA1 = logAdd(logA1, logS1);
            } else {
                logA0 = logSub(logA0, logS0);
                logA1 = logSub(logA1, logS1);
            }
            if (Math.max(logS0, logS1) < -30) {
                break;
            }
            coefficient *= (alpha - i) / (i + 1);
            logCoefficient = Math.log(Math.abs(coefficient));
        }
        return logAdd(logA0, logA1);
    }

    // ---- (ε, δ) from RDP ----------------------------------------------------------------------------------

    /**
     * The smallest ε over the orders for which RDP values rdp[i] at orders[i] give (ε, δ)-DP, by the conversion
     * of Canonne, Kamath, Steinke 2020 ("The Discrete Gaussian for Differential Privacy", arXiv:2004.00010,
     * Proposition 12; the same bound as Balle et al. 2020, "Hypothesis Testing Interpretations and Renyi
     * Differential Privacy", Theorem 21), which TF-Privacy and Google's dp_accounting use
     * ({@link #epsilonAtOrder}). Returns {ε, optimal order}; ε = ∞ when no order gives a finite bound.
     */
    public static double[] epsilon(List<Double> orders, double[] rdp, double delta) {
        if (orders.size() != rdp.length || rdp.length == 0) {
            throw new IllegalArgumentException(orders.size() + " orders but " + rdp.length + " RDP values");
        }
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0, 1), got " + delta);
        }
        double best = Double.POSITIVE_INFINITY;
        double bestOrder = orders.get(0);
        for (int i = 0; i < rdp.length; i++) {
            double eps = epsilonAtOrder(orders.get(i), rdp[i], delta);
            if (eps < best) {
                best = eps;
                bestOrder = orders.get(i);
            }
        }
        return new double[] {Math.max(0, best), bestOrder};
    }

    /**
     * One order's bound (Canonne, Kamath, Steinke 2020, Proposition 12):
     * <pre>
     *   ε = r + log(1 − 1/α) − log(δ α) / (α − 1)
     * </pre>
     * with two special cases as in TF-Privacy's {@code compute_eps}: ε = 0 when δ² + expm1(−r) &gt; 0 (then
     * δ ≥ √(1 − e^−r) bounds δ through the KL divergence), and ε = ∞ for α ≤ 1.01 (numerically unstable there,
     * and never the best order in practice).
     */
    static double epsilonAtOrder(double alpha, double r, double delta) {
        if (r < 0 || alpha < 1) {
            throw new IllegalArgumentException("RDP must be ≥ 0 at an order ≥ 1, got " + r + " at " + alpha);
        }
        if (delta * delta + Math.expm1(-r) > 0) {
            return 0;
        }
        if (alpha > 1.01) {
            return r + Math.log1p(-1 / alpha) - Math.log(delta * alpha) / (alpha - 1);
        }
        return Double.POSITIVE_INFINITY;
    }

    // ---- numerics -------------------------------------------------------------------------------------------

    /** log(e^a + e^b) without overflow. */
    static double logAdd(double a, double b) {
        double lo = Math.min(a, b);
        double hi = Math.max(a, b);
        if (lo == Double.NEGATIVE_INFINITY) {
            return hi;
        }
        return Math.log1p(Math.exp(lo - hi)) + hi;
    }

    /** log(e^a − e^b) for a ≥ b; −∞ when a = b. */
    static double logSub(double a, double b) {
        if (a < b) {
            throw new ArithmeticException("log_sub: the result would be the log of a negative number");
        }
        if (b == Double.NEGATIVE_INFINITY) {
            return a;
        }
        if (a == b) {
            return Double.NEGATIVE_INFINITY;
        }
        double d = Math.expm1(a - b);
        return Double.isInfinite(d) ? a : Math.log(d) + b;
    }

    /** log C(n, k) = Σ_{i=1}^{k} log((n − k + i) / i), exact enough for the orders used (n ≤ a few hundred). */
    static double logBinomial(int n, int k) {
        int kk = Math.min(k, n - k);
        double s = 0;
        for (int i = 1; i <= kk; i++) {
            s += Math.log((double) (n - kk + i) / i);
        }
        return s;
    }

    /**
     * log erfc(x) for every real x, without underflow for large x (erfc(30) ≈ 1e−393 is below the double range):
     * <ul>
     *   <li>x &lt; 0: erfc(x) = 2 − erfc(−x);</li>
     *   <li>0 ≤ x &lt; 1.5: erfc(x) = 1 − erf(x), erf(x) = (2/√π) e^{−x²} Σ_{n≥0} 2^n x^{2n+1} / (1·3·…·(2n+1))
     *       (a series of positive terms, Abramowitz and Stegun 7.1.6);</li>
     *   <li>x ≥ 1.5: erfc(x) = (e^{−x²}/√π) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) (the continued fraction
     *       A&amp;S 7.1.14), evaluated by the modified Lentz method, so log erfc = −x² − log √π − log(CF).</li>
     * </ul>
     * Relative error of erfc below 1e−13 (tested against reference values).
     */
    static double logErfc(double x) {
        if (Double.isNaN(x)) {
            return Double.NaN;
        }
        if (x < 0) {
            return Math.log(2 - Math.exp(logErfc(-x)));
        }
        if (x < 1.5) {
            return Math.log1p(-erfSeries(x));
        }
        return -x * x - LOG_SQRT_PI - Math.log(erfcContinuedFractionDenominator(x));
    }

    /** erf(x) by A&amp;S 7.1.6, for 0 ≤ x &lt; 1.5. */
    private static double erfSeries(double x) {
        double term = x;
        double sum = x;
        for (int n = 1; n < 200; n++) {
            term *= 2 * x * x / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) {
                break;
            }
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x * x) * sum;
    }

    /** The denominator x + (1/2)/(x + 1/(x + (3/2)/(x + …))) of A&amp;S 7.1.14, by modified Lentz, x ≥ 1.5. */
    private static double erfcContinuedFractionDenominator(double x) {
        double tiny = 1e-300;
        double f = x;
        double c = f;
        double d = 0;
        for (int n = 1; n < 100_000; n++) {
            double a = n / 2.0;
            d = x + a * d;
            d = d == 0 ? tiny : d;
            c = x + a / c;
            c = c == 0 ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return f;
    }

    private static void checkArguments(double q, double sigma, double alpha) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("sampling probability q must be in [0, 1], got " + q);
        }
        if (!(sigma >= 0)) {
            throw new IllegalArgumentException("noise multiplier must be ≥ 0, got " + sigma);
        }
        if (!(alpha > 1)) {
            throw new IllegalArgumentException("Rényi order must be > 1, got " + alpha);
        }
    }
}
