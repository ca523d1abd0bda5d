package org.fedqlora.fed;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What secure aggregation reveals of a round: sums over the clients, never a client's own values.
 *
 * @param sums        tensor name → Σ_i w_i Δ_i (row-major), Δ_i = x_i − x_global the client's update
 * @param totalWeight Σ_i w_i (w_i = the example count, or 1 under differential privacy)
 * @param clients     how many clients the sums are over
 * @param counts      integer metrics summed the same way (e.g. "dp_unclipped": how many updates were within the clip)
 */
public record UpdateSum(SortedMap<String, double[]> sums, long totalWeight, int clients, Map<String, Long> counts) {
    public UpdateSum {
        sums = Collections.unmodifiableSortedMap(new TreeMap<>(sums));
        counts = Parameters.sortedCopy(counts);
    }
}
