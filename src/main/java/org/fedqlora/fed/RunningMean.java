package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The example-weighted mean of client updates, folded one update at a time (streaming aggregation):
 * <pre>
 *   S = Σ_i n_i x_i,  N = Σ_i n_i     (accumulated in double as updates arrive)
 *   x̄ = S / N                         (rounded once to float32 by {@link #mean()})
 * </pre>
 * Memory is one double array per tensor, O(model), whatever the number of clients; an update is dropped as soon as
 * it is folded. The first update fixes the tensor names and shapes; a later one that differs is refused with an
 * error naming the client and leaves the sum unchanged (it is checked before anything is added). The result equals
 * {@link Aggregation#weightedMean} up to the rounding order of the double sums (well below float32 precision).
 * Thread-safe: transports may fold from several threads.
 */
public final class RunningMean {
    private final SortedMap<String, double[]> sums = new TreeMap<>();
    private final SortedMap<String, long[]> shapes = new TreeMap<>();
    private String firstClient;
    private long totalWeight;
    private int count;

    /** Adds {@code weight} · parameters, after checking names, shapes and dtype against the first update. */
    public synchronized void add(String clientId, Map<String, HostTensor> parameters, long weight) {
        if (weight < 0) {
            throw new IllegalArgumentException("client '" + clientId + "' reports " + weight + " examples; must be ≥ 0");
        }
        if (firstClient != null) {
            requireSame(clientId, parameters);
        }
        SortedMap<String, float[]> values = new TreeMap<>();
        parameters.forEach((name, t) -> values.put(name, Parameters.floats(name, t, "client '" + clientId + "'")));
        if (firstClient == null) {
            firstClient = clientId;
            parameters.forEach((name, t) -> {
                shapes.put(name, t.shape().clone());
                sums.put(name, new double[values.get(name).length]);
            });
        }
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            double[] s = sums.get(e.getKey());
            float[] v = e.getValue();
            for (int j = 0; j < v.length; j++) {
                s[j] += (double) weight * v[j];
            }
        }
        totalWeight = Math.addExact(totalWeight, weight);
        count++;
    }

    /** Updates folded so far. */
    public synchronized int count() {
        return count;
    }

    /** Σ n_i so far. */
    public synchronized long totalWeight() {
        return totalWeight;
    }

    /** S / N per tensor, sorted by name; an error if nothing was folded or every weight was 0. */
    public synchronized SortedMap<String, HostTensor> mean() {
        if (count == 0) {
            throw new IllegalArgumentException("no client results to aggregate");
        }
        if (totalWeight == 0) {
            throw new IllegalArgumentException("every client reported 0 examples, so the weighted mean is undefined; "
                    + "FitRes.numExamples must count the examples each client trained on");
        }
        SortedMap<String, HostTensor> out = new TreeMap<>();
        sums.forEach((name, s) -> {
            float[] m = new float[s.length];
            for (int j = 0; j < s.length; j++) {
                m[j] = (float) (s[j] / totalWeight);
            }
            out.put(name, HostTensor.ofFloats(m, shapes.get(name)));
        });
        return Collections.unmodifiableSortedMap(out);
    }

    private void requireSame(String clientId, Map<String, HostTensor> parameters) {
        if (!shapes.keySet().equals(parameters.keySet())) {
            TreeSet<String> extra = new TreeSet<>(parameters.keySet());
            extra.removeAll(shapes.keySet());
            TreeSet<String> missing = new TreeSet<>(shapes.keySet());
            missing.removeAll(parameters.keySet());
            throw new IllegalArgumentException("client '" + clientId + "' sent different tensors than client '"
                    + firstClient + "': extra " + extra + ", missing " + missing
                    + "; every client of a round must send the same tensor names");
        }
        parameters.forEach((name, t) -> {
            if (!Arrays.equals(shapes.get(name), t.shape())) {
                throw new IllegalArgumentException("tensor '" + name + "' from client '" + clientId + "' has shape "
                        + Arrays.toString(t.shape()) + " but client '" + firstClient + "' sent "
                        + Arrays.toString(shapes.get(name)) + "; every participant must use the same shapes");
            }
        });
    }
}
