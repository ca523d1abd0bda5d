package org.fedqlora.fed;

import org.fedqlora.UserException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.random.RandomGenerator;

/** Uniform client sampling without replacement, as in Flower: n = max(minClients, ⌊fraction · available⌋). */
public final class ClientSampling {
    private ClientSampling() {
    }

    /**
     * Samples clients for one phase.
     *
     * @param phase     named in the error message ("fit", "evaluate")
     * @param available the reachable client ids (any order; they are sorted first, so the result depends only on
     *                  the set of ids and the random stream)
     * @param fraction  in (0, 1]
     * @param minClients ≥ 1
     * @return the sampled ids, ascending
     * @throws UserException if fewer than {@code minClients} clients are available
     */
    public static List<String> sample(String phase, List<String> available, double fraction, int minClients,
                                      RandomGenerator random) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException(phase + ": the client fraction must be in (0, 1], e.g. 0.5, got "
                    + fraction);
        }
        if (minClients < 1) {
            throw new IllegalArgumentException(phase + ": the minimum number of clients must be ≥ 1, got "
                    + minClients);
        }
        int n = available.size();
        if (n < minClients) {
            throw new UserException(phase + ": " + n + " clients are available but at least " + minClients
                    + " are required: lower the minimum or start more clients");
        }
        int count = Math.max(minClients, (int) Math.floor(fraction * n));
        List<String> ids = new ArrayList<>(available);
        Collections.sort(ids);
        for (int i = 0; i < count; i++) {
            Collections.swap(ids, i, i + random.nextInt(n - i));
        }
        List<String> sampled = new ArrayList<>(ids.subList(0, count));
        Collections.sort(sampled);
        return List.copyOf(sampled);
    }
}
