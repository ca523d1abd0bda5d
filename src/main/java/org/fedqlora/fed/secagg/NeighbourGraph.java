package org.fedqlora.fed.secagg;

import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * SecAgg+'s sparse communication graph (Bell et al. 2020): each client exchanges keys, shares and pairwise masks only
 * with its k neighbours instead of all n − 1, so a round costs O(n k) = O(n log n) instead of O(n²).
 *
 * <p>Construction: a Harary graph H(n, k) over a random ring: the clients are put in the order of a uniformly
 * random permutation π (Fisher–Yates driven by AES-CTR keyed by the public graph seed), and each is linked to the
 * k / 2 clients on either side of it on that ring. The graph is k-regular; removing a set of clients disconnects the
 * rest only if the removed ones form at least two runs of ≥ k / 2 consecutive ring positions. With k ≥ n − 1 it is
 * the complete graph of the original SecAgg (Bonawitz et al. 2017).
 */
public final class NeighbourGraph {
    private final SortedMap<String, SortedSet<String>> neighbours;

    private NeighbourGraph(SortedMap<String, SortedSet<String>> neighbours) {
        this.neighbours = neighbours;
    }

    /** k as used for n clients: k itself, or n − 1 (complete) when k ≥ n − 1. */
    public static int effectiveNeighbours(int n, int k) {
        if (k >= n - 1) {
            return n - 1;
        }
        if (k < 2 || k % 2 != 0) {
            throw new SecAggException("neighbours must be an even number ≥ 2 (k / 2 on each side of the ring), or ≥ "
                    + (n - 1) + " for the complete graph of " + n + " clients; got " + k);
        }
        return k;
    }

    /**
     * The default k for n clients: 2·⌈log₂ n⌉ + 2 (even, O(log n)), or the complete graph when that is ≥ n − 1.
     * See the package documentation for the failure probabilities this gives.
     */
    public static int defaultNeighbours(int n) {
        int log = 32 - Integer.numberOfLeadingZeros(Math.max(1, n - 1)); // ⌈log₂ n⌉
        return Math.min(n - 1, 2 * log + 2);
    }

    /** The default threshold for k neighbours: a strict majority of the k + 1 holders (the client and its neighbours). */
    public static int defaultThreshold(int k) {
        return Math.max(2, (k + 1) / 2 + 1);
    }

    /** The graph of {@code clients} (sorted, distinct) with k neighbours each, from the public seed. */
    public static NeighbourGraph of(List<String> clients, int k, byte[] seed) {
        int n = clients.size();
        int kk = effectiveNeighbours(n, k);
        String[] ring = clients.toArray(String[]::new);
        long[] random = Prg.expand(seed, Math.max(1, n), 62);
        for (int i = n - 1; i > 0; i--) {                      // Fisher–Yates; bias of mod is < n / 2^62
            int j = (int) Long.remainderUnsigned(random[i], i + 1);
            String tmp = ring[i];
            ring[i] = ring[j];
            ring[j] = tmp;
        }
        SortedMap<String, SortedSet<String>> out = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            SortedSet<String> set = new TreeSet<>();
            if (kk == n - 1) {
                set.addAll(clients);
                set.remove(ring[i]);
            } else {
                for (int d = 1; d <= kk / 2; d++) {
                    set.add(ring[Math.floorMod(i + d, n)]);
                    set.add(ring[Math.floorMod(i - d, n)]);
                }
            }
            out.put(ring[i], Collections.unmodifiableSortedSet(set));
        }
        return new NeighbourGraph(Collections.unmodifiableSortedMap(out));
    }

    /** The neighbours of {@code client} (not itself). */
    public SortedSet<String> neighbours(String client) {
        SortedSet<String> set = neighbours.get(client);
        if (set == null) {
            throw new SecAggException("client '" + client + "' is not in the graph");
        }
        return set;
    }

    /** The clients holding shares of {@code client}'s secrets: itself and its neighbours. */
    public SortedSet<String> holders(String client) {
        SortedSet<String> set = new TreeSet<>(neighbours(client));
        set.add(client);
        return set;
    }

    /** Whether the subgraph induced by {@code members} is connected (the server learns one sum per component). */
    public boolean connected(Set<String> members) {
        if (members.isEmpty()) {
            return true;
        }
        Set<String> seen = new TreeSet<>();
        java.util.ArrayDeque<String> todo = new java.util.ArrayDeque<>();
        String first = members.iterator().next();
        todo.add(first);
        seen.add(first);
        while (!todo.isEmpty()) {
            for (String v : neighbours(todo.poll())) {
                if (members.contains(v) && seen.add(v)) {
                    todo.add(v);
                }
            }
        }
        return seen.size() == members.size();
    }
}
