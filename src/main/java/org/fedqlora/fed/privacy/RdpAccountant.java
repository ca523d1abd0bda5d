package org.fedqlora.fed.privacy;

import java.util.List;

/**
 * The privacy spent by {@code steps} compositions of the Poisson-subsampled Gaussian mechanism SGM(q, σ), over a
 * fixed list of Rényi orders ({@link Rdp#DEFAULT_ORDERS}, as Opacus), and the noise multiplier that meets a target
 * ε. RDP composes additively: after T steps the RDP at order α is T · ε_step(α) (Mironov 2017, Proposition 1), then
 * converted to (ε, δ) by {@link Rdp#epsilon}. Immutable.
 *
 * <p>Assumption (stated wherever ε is reported): participants are included in each step independently with
 * probability q (Poisson sampling) under add/remove-one adjacency, and each step is a Gaussian sum with noise
 * standard deviation σ · (L2 sensitivity). For DP-FedAvg the participants are clients, q is the client sampling
 * probability per round, the sensitivity is the clip norm S, and a step is a round.
 */
public final class RdpAccountant {
    /** Upper end of the noise-multiplier search; a target that needs more noise than this is refused. */
    public static final double MAX_NOISE_MULTIPLIER = 1e4;

    private final List<Double> orders;
    private final double q;
    private final double sigma;
    private final double[] stepRdp;

    /** SGM(q, σ) at the default orders. */
    public RdpAccountant(double q, double sigma) {
        this(q, sigma, Rdp.DEFAULT_ORDERS);
    }

    public RdpAccountant(double q, double sigma, List<Double> orders) {
        this.orders = List.copyOf(orders);
        this.q = q;
        this.sigma = sigma;
        this.stepRdp = new double[this.orders.size()];
        for (int i = 0; i < stepRdp.length; i++) {
            stepRdp[i] = Rdp.sampledGaussianRdp(q, sigma, this.orders.get(i));
        }
    }

    /** The RDP after {@code steps} steps, one value per order. */
    public double[] rdp(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be ≥ 0, got " + steps);
        }
        double[] out = new double[stepRdp.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = steps == 0 ? 0 : stepRdp[i] * steps;
        }
        return out;
    }

    /** ε after {@code steps} steps at the given δ (0 after no step). */
    public double epsilon(long steps, double delta) {
        return steps == 0 ? 0 : Rdp.epsilon(orders, rdp(steps), delta)[0];
    }

    /** The order at which {@link #epsilon} is attained. */
    public double optimalOrder(long steps, double delta) {
        return Rdp.epsilon(orders, rdp(steps), delta)[1];
    }

    public double samplingProbability() {
        return q;
    }

    public double noiseMultiplier() {
        return sigma;
    }

    /**
     * The smallest noise multiplier σ (to a relative precision of 1e-4, rounded up) for which {@code steps} steps of
     * SGM(q, σ) spend at most {@code targetEpsilon} at δ, by bisection: ε is decreasing in σ. The result always
     * satisfies ε(σ) ≤ targetEpsilon (the upper end of the bracket is returned).
     *
     * @throws IllegalArgumentException if even σ = {@link #MAX_NOISE_MULTIPLIER} spends more than the target
     */
    public static double noiseMultiplierFor(double targetEpsilon, double delta, double q, long steps) {
        if (!(targetEpsilon > 0) || Double.isInfinite(targetEpsilon)) {
            throw new IllegalArgumentException("target epsilon must be a finite number > 0, got " + targetEpsilon);
        }
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be ≥ 1, got " + steps);
        }
        double lo = 0;
        double hi = 1;
        while (new RdpAccountant(q, hi).epsilon(steps, delta) > targetEpsilon) {
            lo = hi;
            hi *= 2;
            if (hi > MAX_NOISE_MULTIPLIER) {
                throw new IllegalArgumentException("no noise multiplier up to " + MAX_NOISE_MULTIPLIER + " reaches ε = "
                        + targetEpsilon + " at δ = " + delta + " in " + steps + " steps with q = " + q);
            }
        }
        while (hi - lo > 1e-4 * hi) {
            double mid = (lo + hi) / 2;
            if (new RdpAccountant(q, mid).epsilon(steps, delta) > targetEpsilon) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return hi;
    }

    /**
     * The number of steps of SGM(q, σ) that stay within {@code targetEpsilon} at δ: the largest T with
     * ε(T) ≤ target (0 if even one step exceeds it), searched up to {@code maxSteps}.
     */
    public long stepsWithin(double targetEpsilon, double delta, long maxSteps) {
        long lo = 0;
        long hi = maxSteps;
        if (epsilon(hi, delta) <= targetEpsilon) {
            return hi;
        }
        while (hi - lo > 1) { // ε(lo) ≤ target < ε(hi)
            long mid = lo + (hi - lo) / 2;
            if (epsilon(mid, delta) <= targetEpsilon) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
