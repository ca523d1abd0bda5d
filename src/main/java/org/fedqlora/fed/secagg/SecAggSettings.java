package org.fedqlora.fed.secagg;

import java.util.List;

/**
 * The user's secure-aggregation settings ({@code secagg.*} of a config), resolved into a {@link SecAggConfig} for
 * each round's clients.
 *
 * @param threshold  t, or 0 for {@link NeighbourGraph#defaultThreshold} (a majority of each client's holders)
 * @param neighbours k, or 0 for {@link NeighbourGraph#defaultNeighbours} (2⌈log₂ n⌉ + 2, complete when ≥ n − 1)
 * @param bits       modulus 2^bits, 16..62
 * @param clip       coordinates of an update are clamped to [−clip, clip]
 * @param maxWeight  example counts are capped at this before weighting
 */
public record SecAggSettings(int threshold, int neighbours, int bits, double clip, long maxWeight) {
    /** t = auto, k = auto, 32 bits, clip 1, weights up to 10 000 examples. */
    public static SecAggSettings defaults() {
        return new SecAggSettings(0, 0, 32, 1.0, 10_000);
    }

    /** k for n clients. */
    public int neighboursFor(int n) {
        return neighbours == 0 ? NeighbourGraph.defaultNeighbours(n) : NeighbourGraph.effectiveNeighbours(n, neighbours);
    }

    /** t for n clients. */
    public int thresholdFor(int n) {
        return threshold == 0 ? NeighbourGraph.defaultThreshold(neighboursFor(n)) : threshold;
    }

    /** The config of one session over {@code clients} (sorted). */
    public SecAggConfig config(String session, int round, List<String> clients, byte[] graphSeed) {
        int n = clients.size();
        return new SecAggConfig(session, round, clients, thresholdFor(n), neighboursFor(n), bits, clip, maxWeight,
                graphSeed);
    }
}
