package org.fedqlora.fed.secagg;

import java.util.Map;
import java.util.SortedMap;

/**
 * Where differential privacy plugs into secure aggregation (central DP, DP-FedAvg): the client clips its update
 * before it is quantized and masked, the server adds the Gaussian noise to the unmasked sum and divides by the
 * public expected number of clients instead of the sum of the weights. The server never sees an individual
 * (clipped or not) update, so clipping must happen on the client. {@link #NONE} is plain example-weighted FedAvg.
 * The privacy package (org.fedqlora.fed.privacy) provides the clipping, the noise and the accountant; this interface
 * is the seam, implemented there or by the simulation when both are enabled.
 */
public interface SecAggPrivacy {
    /** No clipping, no noise: the example-weighted mean. */
    SecAggPrivacy NONE = new SecAggPrivacy() {
    };

    /** Client side, before quantization: e.g. scale the update to L2 norm ≤ S. Returns the update to mask. */
    default Map<String, double[]> clientUpdate(int round, String clientId, Map<String, double[]> update) {
        return update;
    }

    /** Client side: the weight of an update with {@code examples} examples (DP-FedAvg: 1 for every client). */
    default long clientWeight(long examples) {
        return examples;
    }

    /** Server side: noise added in place to the unmasked weighted sums Σ w_i Δx_i, name → values. */
    default void noiseSum(int round, SortedMap<String, double[]> weightedSums) {
    }

    /** Server side: what the sum is divided by (default Σ w_i; DP-FedAvg: the fixed expected client count). */
    default double denominator(int round, long totalWeight, int survivors) {
        return totalWeight;
    }
}
