package org.fedqlora.fed.privacy;

import org.fedqlora.fed.Aggregator;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.Parameters;
import org.fedqlora.fed.UpdateSum;
import org.fedqlora.tensor.HostTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.random.RandomGenerator;

/**
 * Client-level DP-FedAvg (McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models",
 * Algorithm 1, with uniform client weights) as an {@link Aggregator}, so that it works with every strategy built on
 * FedAvg and every transport. Per round t, with clip norm C_t, noise multiplier z and m = qN expected clients:
 * <pre>
 * sample        every available client independently with probability q (Poisson; may be none)
 * clients i     Δ_i = x_i − x_t over the shared tensors they send (all jointly), b_i = 1[‖Δ_i‖ ≤ C_t]
 * central       Δ̄ = (Σ_i Δ_i · min(1, C_t/‖Δ_i‖) + N(0, (z_Δ C_t)² I)) / m        (server-side clipping)
 * local         Δ̄ = Σ_i Δ̃_i / m, Δ̃_i clipped and noised by the client ({@link DpClient#local})
 * mean          x_t + Δ̄, handed to the server optimizer (fedavg: x_{t+1} = x_t + Δ̄)
 * adaptive      b̃ = (Σ_i b_i + N(0, σ_b²)) / m;  C_{t+1} = C_t · exp(−η_C (b̃ − γ))
 * </pre>
 * (adaptive clipping: Andrew et al. 2021, "Differentially Private Learning with Adaptive Clipping", Algorithm 1 with
 * the geometric update, {@link #geometricClipUpdate}; fixed clipping: z_Δ = z, C_t = S.) The private QA adapters never
 * reach the server, so they are outside Δ and cost nothing. Clients that clip themselves ({@link DpClient#clipping},
 * e.g. under secure aggregation) are not changed by the server-side clip (clipping is idempotent).
 *
 * <p>ε after round t is the accountant's ({@link DpSettings#accountant}) for t rounds; every round counts, also
 * one in which no client was sampled (noise is then added to the tensors of the last round with answers, so the
 * output does not reveal that the sample was empty). {@link #stopBefore} ends the run before a round would exceed
 * the target ε. Weights by example count are not used: they would change the sensitivity.
 */
public final class DpAggregator implements Aggregator {
    /** FitIns config key of the clip norm a client must apply (as a decimal string). */
    public static final String CLIP_KEY = "dp_clip_norm";
    /** FitRes metric a clipping client reports: 1 if its update was within the clip norm, else 0. */
    public static final String UNCLIPPED_KEY = "dp_unclipped";

    private static final String STATE_CLIP = "agg/dp/clip";
    private static final String STATE_SHAPE = "agg/dp/shape/";

    private final DpSettings settings;
    private final NoiseSource noise;
    private final RdpAccountant accountant;
    private double clip;
    /** The shared tensors (name → shape) of the last round with answers, for noise in empty rounds. */
    private final SortedMap<String, long[]> shared = new TreeMap<>();

    public DpAggregator(DpSettings settings, NoiseSource noise) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.noise = Objects.requireNonNull(noise, "noise");
        this.accountant = settings.accountant();
        this.clip = (float) settings.clip();
    }

    public DpSettings settings() {
        return settings;
    }

    /**
     * The clip norm the next round uses. It is kept rounded to float32 (as checkpoints store it), so that a resumed
     * run uses exactly the clip of the uninterrupted one.
     */
    public double clip() {
        return clip;
    }

    /** ε after {@code rounds} rounds at the settings' δ. */
    public double epsilonAfter(int rounds) {
        return accountant.epsilon(rounds, settings.delta());
    }

    /** Poisson sampling: each available client independently with probability q, ascending ids (maybe none). */
    @Override
    public List<String> sample(int round, List<String> available, double fraction, int minClients,
                               RandomGenerator random) {
        return poissonSample(available, settings.samplingProbability(), random);
    }

    /** Each id of {@code available} (sorted first) kept independently with probability q. */
    public static List<String> poissonSample(List<String> available, double q, RandomGenerator random) {
        List<String> ids = new ArrayList<>(available);
        ids.sort(null);
        List<String> out = new ArrayList<>();
        for (String id : ids) {
            if (q >= 1 || random.nextDouble() < q) {
                out.add(id);
            }
        }
        return List.copyOf(out);
    }

    @Override
    public Map<String, String> fitConfig(int round) {
        return Map.of(CLIP_KEY, Double.toString(clip));
    }

    @Override
    public boolean aggregatesEmptyRounds() {
        return true;
    }

    @Override
    public Optional<String> stopBefore(int round) {
        double target = settings.targetEpsilon();
        double next = epsilonAfter(round);
        if (target <= 0 || next <= target * (1 + 1e-12)) {
            return Optional.empty();
        }
        return Optional.of(String.format(Locale.ROOT, "privacy budget: round %d would raise ε from %.4f to %.4f, "
                        + "above privacy.target_epsilon = %.4g (δ = %.3g); stopped after round %d. To train longer, "
                        + "raise the budget, add noise (privacy.noise_multiplier) or sample fewer clients per round "
                        + "(fraction)", round, epsilonAfter(round - 1), next, target, settings.delta(), round - 1));
    }

    @Override
    public Result aggregate(int round, Map<String, HostTensor> global, List<FitRes> results) {
        SortedMap<String, double[]> sum = new TreeMap<>();
        int unclipped = 0;
        for (FitRes r : results) {
            SortedMap<String, double[]> delta = Updates.delta(global, r.parameters(), "client '" + r.clientId() + "'");
            requireSameTensors(results.get(0), r);
            if (settings.mode() == DpSettings.Mode.CENTRAL) {
                double norm = Updates.clipInPlace(delta, clip);
                // a client that clipped itself knows whether it had to; its already clipped update cannot tell
                Double bit = r.metrics().get(UNCLIPPED_KEY);
                unclipped += bit != null ? (bit == 1.0 ? 1 : 0) : norm <= clip ? 1 : 0;
            }
            Updates.accumulate(sum, delta);
        }
        if (!results.isEmpty()) {
            shared.clear();
            results.get(0).parameters().forEach((name, t) -> shared.put(name, t.shape().clone()));
        }
        return release(round, global, sum, unclipped);
    }

    /**
     * Under secure aggregation ({@link org.fedqlora.fed.AveragingStrategy#aggregateSum}): the server holds only the
     * sum of the updates, which the clients clipped themselves ({@link DpClient#clipping}, weight 1 each), and the
     * securely summed count of {@link #UNCLIPPED_KEY}; the release is the same as after {@link #aggregate}'s own
     * (then idempotent) clipping.
     */
    @Override
    public Result aggregateSum(int round, Map<String, HostTensor> global, UpdateSum secure) {
        if (secure.totalWeight() != secure.clients()) {
            throw new IllegalArgumentException("round " + round + ": DP-FedAvg weighs every client 1, but "
                    + secure.clients() + " clients sent weights summing to " + secure.totalWeight());
        }
        shared.clear();
        secure.sums().keySet().forEach(name -> shared.put(name, global.get(name).shape().clone()));
        return release(round, global, secure.sums(),
                Math.toIntExact(secure.counts().getOrDefault(UNCLIPPED_KEY, 0L)));
    }

    /**
     * The DP release of one round from the sum of the clients' clipped updates (each clipped to {@link #clip()})
     * and the number of them that were within the clip: adds the central noise (central mode), divides by m, updates
     * the adaptive clip and reports ε. {@link #aggregate} calls it with the sum it computes; an aggregation that
     * only learns the sum (secure aggregation of updates clipped by {@link DpClient#clipping}, with the unclipped
     * bits {@link #UNCLIPPED_KEY} summed the same way) calls it directly. An empty {@code clippedSum} stands for
     * zeros on the shared tensors of the last round with answers.
     */
    public Result release(int round, Map<String, HostTensor> global, SortedMap<String, double[]> clippedSum,
                          int unclippedCount) {
        double m = settings.expectedClients();
        double usedClip = clip;
        SortedMap<String, double[]> sum = new TreeMap<>(clippedSum);
        if (sum.isEmpty()) {
            shared.forEach((name, shape) -> sum.put(name, new double[(int) HostTensor.numel(shape)]));
        }
        Map<String, Double> metrics = new TreeMap<>();
        if (settings.mode() == DpSettings.Mode.CENTRAL) {
            double stddev = settings.updateNoiseMultiplier() * usedClip;
            Updates.addGaussianNoise(sum, stddev, noise.stream(round, "central"));
            metrics.put("dp_noise_stddev", stddev / m);
            if (settings.adaptive()) {
                double noisyFraction = (unclippedCount + settings.countNoise() * noise.stream(round, "count").next())
                        / m;
                clip = (float) geometricClipUpdate(usedClip, noisyFraction, settings.targetQuantile(),
                        settings.clipLearningRate());
                metrics.put("dp_unclipped_estimate", noisyFraction);
            }
        }
        metrics.put("dp_clip", usedClip);
        metrics.put("dp_epsilon", epsilonAfter(round));
        metrics.put("dp_delta", settings.delta());
        metrics.put("dp_noise_multiplier", settings.noiseMultiplier());
        return new Result(Updates.addToGlobal(global, sum, m), metrics);
    }

    /**
     * The geometric clip update of Andrew et al. 2021 (§2.2, "geometric update"): C ← C · exp(−η (b̃ − γ)), where
     * b̃ is the (noisy) share of updates that were not clipped and γ the target quantile. It moves C towards the
     * γ-quantile of the update norms: up when fewer than γ fit, down when more do.
     */
    public static double geometricClipUpdate(double clip, double unclippedFraction, double targetQuantile,
                                             double learningRate) {
        return clip * Math.exp(-learningRate * (unclippedFraction - targetQuantile));
    }

    @Override
    public Map<String, HostTensor> state() {
        SortedMap<String, HostTensor> state = new TreeMap<>();
        state.put(STATE_CLIP, HostTensor.ofFloats(new float[] {(float) clip}, 1));
        shared.forEach((name, shape) -> {
            float[] dims = new float[shape.length];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = shape[i];
            }
            state.put(STATE_SHAPE + name, HostTensor.ofFloats(dims, dims.length));
        });
        return state;
    }

    /** Restores the clip norm and the shared tensor shapes. */
    @Override
    public void restoreState(Map<String, HostTensor> state) {
        shared.clear();
        state.forEach((key, tensor) -> {
            float[] v = Parameters.floats(key, tensor, "the checkpointed DP state");
            if (key.equals(STATE_CLIP)) {
                clip = v[0];
            } else if (key.startsWith(STATE_SHAPE)) {
                long[] shape = new long[v.length];
                for (int i = 0; i < v.length; i++) {
                    shape[i] = (long) v[i];
                }
                shared.put(key.substring(STATE_SHAPE.length()), shape);
            } else {
                throw new IllegalArgumentException("unknown DP state key '" + key + "' in the checkpoint");
            }
        });
    }

    private static void requireSameTensors(FitRes first, FitRes r) {
        if (!first.parameters().keySet().equals(r.parameters().keySet())) {
            throw new IllegalArgumentException("client '" + r.clientId() + "' sent tensors " + r.parameters().keySet()
                    + " but client '" + first.clientId() + "' sent " + first.parameters().keySet()
                    + "; every client of a DP round must send the same tensors");
        }
    }
}
