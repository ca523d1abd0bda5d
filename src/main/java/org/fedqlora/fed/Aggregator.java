package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.random.RandomGenerator;

/**
 * The statistical part of a training round that a strategy delegates: which clients take part, what extra
 * instructions they get, and how their answers combine into the mean the server optimizer steps to. The default,
 * {@link #WEIGHTED_MEAN}, is plain FedAvg (uniform sampling of a fixed number of clients, example-weighted mean);
 * differentially private aggregation ({@code org.fedqlora.fed.privacy}) replaces it with Poisson sampling, clipping
 * and noise. Works on named tensors only, like the rest of this package.
 */
public interface Aggregator {
    /** FedAvg: {@link ClientSampling#sample} and {@link Aggregation#weightedMean}. */
    Aggregator WEIGHTED_MEAN = (round, global, results) ->
            new Result(Aggregation.weightedMean(results), Map.of());

    /**
     * @param mean    the tensors the server optimizer steps to (each must exist in the global parameters)
     * @param metrics extra round metrics (e.g. the privacy spent so far), merged into the round's metrics
     */
    record Result(SortedMap<String, HostTensor> mean, Map<String, Double> metrics) {
        public Result {
            mean = Parameters.sortedCopy(mean);
            metrics = Parameters.sortedCopy(metrics);
        }
    }

    /** Combines this round's successful answers (ascending client id, possibly none if {@link #aggregatesEmptyRounds}). */
    Result aggregate(int round, Map<String, HostTensor> global, List<FitRes> results);

    /**
     * Combines a round's securely aggregated updates (the server holds only their sum). Default: the weighted mean
     * x_global + Σ w_i Δ_i / Σ w_i. Differential privacy overrides it (its clients clip, it adds the noise).
     */
    default Result aggregateSum(int round, Map<String, HostTensor> global, UpdateSum sum) {
        if (sum.totalWeight() <= 0) {
            throw new IllegalArgumentException("round " + round + ": the clients' weights sum to "
                    + sum.totalWeight() + " (every client reported 0 examples?), so there is no mean");
        }
        SortedMap<String, HostTensor> mean = new java.util.TreeMap<>();
        sum.sums().forEach((name, s) -> {
            HostTensor g = global.get(name);
            if (g == null || HostTensor.numel(g.shape()) != s.length) {
                throw new IllegalArgumentException("clients aggregated tensor '" + name + "' that the global "
                        + "parameters " + (g == null ? "lack" : "have with another shape"));
            }
            float[] x = Parameters.floats(name, g, "the global parameters");
            for (int j = 0; j < x.length; j++) {
                x[j] = (float) (x[j] + s[j] / sum.totalWeight());
            }
            mean.put(name, HostTensor.ofFloats(x, g.shape()));
        });
        return new Result(mean, Map.of());
    }

    /** The clients of this training round, ascending. Default: {@link ClientSampling#sample}. */
    default List<String> sample(int round, List<String> available, double fraction, int minClients,
                                RandomGenerator random) {
        return ClientSampling.sample(Failure.FIT, available, fraction, minClients, random);
    }

    /** Entries added to every FitIns config of this round (e.g. a clip norm clients must apply). */
    default Map<String, String> fitConfig(int round) {
        return Map.of();
    }

    /**
     * Whether a round in which no client was sampled and none failed is still aggregated (DP releases noise in
     * every round, so that an empty sample is indistinguishable from a full one); otherwise such a round is rejected.
     */
    default boolean aggregatesEmptyRounds() {
        return false;
    }

    /** Why the run must stop before {@code round} (e.g. it would exceed a privacy budget), or empty to go on. */
    default Optional<String> stopBefore(int round) {
        return Optional.empty();
    }

    /** State to checkpoint, as named tensors whose names start with "agg/". */
    default Map<String, HostTensor> state() {
        return Map.of();
    }

    /** Restores what {@link #state()} returned. */
    default void restoreState(Map<String, HostTensor> state) {
        if (!state.isEmpty()) {
            throw new IllegalArgumentException("this aggregation keeps no state but the checkpoint has "
                    + state.keySet() + "; was it written with differential privacy on?");
        }
    }
}
