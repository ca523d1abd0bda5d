package org.fedqlora.fed.privacy;

import java.util.Locale;

/**
 * The parameters of client-level DP-FedAvg, every one explicit (no default here changes the guarantee).
 *
 * @param mode                 where the noise is added: by the server to the sum ({@link Mode#CENTRAL}) or by each
 *                             client to its own update ({@link Mode#LOCAL})
 * @param clip                 S, the L2 clip norm of a client update (over all shared tensors jointly); with
 *                             adaptive clipping the initial value C_0
 * @param adaptive             adapt the clip norm to a quantile of the update norms (Andrew et al. 2021); central
 *                             mode only
 * @param targetQuantile       γ ∈ (0, 1): the share of updates that should end up unclipped
 * @param clipLearningRate     η_C &gt; 0 of the geometric update C ← C · exp(−η_C (b̃ − γ))
 * @param countNoise           σ_b &gt; z/2, the noise standard deviation of the unclipped count (adaptive only)
 * @param noiseMultiplier      z &gt; 0: the privacy-relevant noise multiplier. Central: the sum gets N(0, (z S)²)
 *                             per coordinate (with adaptive clipping the update gets z_Δ, see
 *                             {@link #updateNoiseMultiplier}, so that update and count together cost what z costs).
 *                             Local: each client adds N(0, (z S)²) per coordinate to its clipped update
 * @param delta                δ ∈ (0, 1) of the reported (ε, δ)
 * @param targetEpsilon        the budget: a run stops before a round would exceed it; 0 = no budget
 * @param samplingProbability  q ∈ (0, 1]: every client takes part in a round independently with probability q
 *                             (Poisson sampling, which the accountant assumes)
 * @param population           N, the number of clients of the federation (public); the mean divides by the
 *                             expected number of participants m = q N, not by the realised count
 */
public record DpSettings(Mode mode, double clip, boolean adaptive, double targetQuantile, double clipLearningRate,
                         double countNoise, double noiseMultiplier, double delta, double targetEpsilon,
                         double samplingProbability, int population) {
    /** Where the Gaussian noise is added. */
    public enum Mode {
        /** The (trusted) server clips and adds noise to the sum; ε is about what the released models reveal. */
        CENTRAL,
        /** Each client clips and noises its own update; ε is about what each client's message reveals. */
        LOCAL;

        public static Mode parse(String text) {
            return switch (text.toLowerCase(Locale.ROOT)) {
                case "central" -> CENTRAL;
                case "local" -> LOCAL;
                default -> throw new IllegalArgumentException("privacy mode must be central or local, got " + text);
            };
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public DpSettings {
        positive("clip", clip);
        positive("noise multiplier", noiseMultiplier);
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0, 1), got " + delta);
        }
        if (!(targetEpsilon >= 0) || Double.isInfinite(targetEpsilon)) {
            throw new IllegalArgumentException("target epsilon must be ≥ 0 (0 = no budget), got " + targetEpsilon);
        }
        if (!(samplingProbability > 0 && samplingProbability <= 1)) {
            throw new IllegalArgumentException("sampling probability must be in (0, 1], got " + samplingProbability);
        }
        if (population < 1) {
            throw new IllegalArgumentException("population must be ≥ 1, got " + population);
        }
        if (adaptive) {
            if (mode != Mode.CENTRAL) {
                throw new IllegalArgumentException("adaptive clipping needs central mode: in local mode the "
                        + "clients would have to randomise their clipped bits too; use a fixed clip");
            }
            if (!(targetQuantile > 0 && targetQuantile < 1)) {
                throw new IllegalArgumentException("target quantile must be in (0, 1), got " + targetQuantile);
            }
            positive("clip learning rate", clipLearningRate);
            if (!(2 * countNoise > noiseMultiplier)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "the count noise σ_b = %.4g must "
                        + "exceed z/2 = %.4g (Andrew et al. 2021: z_Δ = (z^-2 - (2σ_b)^-2)^(-1/2)); the paper suggests"
                        + " σ_b = m/20 for m = %.4g expected clients, which needs more clients or less noise",
                        countNoise, noiseMultiplier / 2, expectedClients()));
            }
        }
    }

    /** m = q N, the public expected number of clients per round. */
    public double expectedClients() {
        return samplingProbability * population;
    }

    /**
     * The noise multiplier of the update sum. Fixed clipping: z. Adaptive clipping (Andrew et al. 2021, §3.1,
     * Theorem 1: a step with update noise z_Δ and count noise σ_b is as private as one Gaussian step with
     * z = (z_Δ^−2 + (2σ_b)^−2)^−1/2): z_Δ = (z^−2 − (2σ_b)^−2)^−1/2.
     */
    public double updateNoiseMultiplier() {
        return adaptive ? splitUpdateNoise(noiseMultiplier, countNoise) : noiseMultiplier;
    }

    /** z_Δ = (z^−2 − (2σ_b)^−2)^−1/2 (Andrew et al. 2021, Theorem 1 solved for z_Δ). */
    static double splitUpdateNoise(double z, double countNoise) {
        return 1 / Math.sqrt(1 / (z * z) - 1 / (4 * countNoise * countNoise));
    }

    /**
     * The accountant of the guarantee. Central: SGM(q, z) per round, add/remove-one client adjacency. Local: each
     * client's message is a Gaussian mechanism on its clipped update; two datasets of one client give updates at
     * most 2S apart (replace-one adjacency), so the noise multiplier relative to that sensitivity is z/2, and the
     * server knows who took part (no amplification by sampling, q = 1); every round is counted, so the ε is an
     * upper bound for a client that took part in all of them.
     */
    public RdpAccountant accountant() {
        return mode == Mode.CENTRAL ? new RdpAccountant(samplingProbability, noiseMultiplier)
                : new RdpAccountant(1.0, noiseMultiplier / 2);
    }

    /** One line for logs and reports. */
    public String describe() {
        return String.format(Locale.ROOT, "%s DP: clip %s%.4g, noise multiplier z = %.4g%s, q = %.4g (Poisson), "
                        + "m = %.4g expected clients, δ = %.3g%s", mode.id(), adaptive ? "C0 = " : "S = ", clip,
                noiseMultiplier, adaptive ? String.format(Locale.ROOT, " (update z_Δ = %.4g, count σ_b = %.4g, "
                        + "γ = %.3g, η = %.3g)", updateNoiseMultiplier(), countNoise, targetQuantile,
                        clipLearningRate) : "", samplingProbability, expectedClients(), delta,
                targetEpsilon > 0 ? String.format(Locale.ROOT, ", budget ε ≤ %.4g", targetEpsilon) : "");
    }

    /**
     * The noise multiplier z for which {@code rounds} rounds spend exactly (at most) {@code targetEpsilon} at δ
     * under the accountant of {@code mode} (binary search, {@link RdpAccountant#noiseMultiplierFor}).
     */
    public static double calibrate(Mode mode, double targetEpsilon, double delta, double samplingProbability,
                                   int rounds) {
        return mode == Mode.CENTRAL
                ? RdpAccountant.noiseMultiplierFor(targetEpsilon, delta, samplingProbability, rounds)
                : 2 * RdpAccountant.noiseMultiplierFor(targetEpsilon, delta, 1.0, rounds);
    }

    private static void positive(String what, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(what + " must be a finite number > 0, got " + value);
        }
    }
}
