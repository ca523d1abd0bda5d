package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Pure aggregation maths, no I/O: the example-weighted mean of client tensors and metrics.
 *
 * <p>For clients i = 1..K with example counts n_i and tensors x_i, the mean of every tensor is
 * <pre>
 *   x̄ = Σ_i n_i x_i / Σ_i n_i          (accumulated in double, rounded once to float32)
 * </pre>
 * so K identical updates average to themselves, and a client with twice the examples weighs twice as much.
 * All clients must send the same tensor names, shapes and dtype F32; anything else is an error naming the client
 * and the tensor. Metrics are averaged the same way, each over the clients that report it.
 */
public final class Aggregation {
    private Aggregation() {
    }

    /** The example-weighted mean of the parameters of {@code results} (see the class comment). */
    public static SortedMap<String, HostTensor> weightedMean(List<FitRes> results) {
        if (results.isEmpty()) {
            throw new IllegalArgumentException("no client results to aggregate");
        }
        FitRes first = results.get(0);
        for (FitRes r : results) {
            requireSameTensors(first, r);
        }
        long[] weights = results.stream().mapToLong(FitRes::numExamples).toArray();
        checkWeights(weights, results.stream().map(FitRes::clientId).toList());
        SortedMap<String, HostTensor> mean = new TreeMap<>();
        for (Map.Entry<String, HostTensor> e : first.parameters().entrySet()) {
            String name = e.getKey();
            List<float[]> values = new ArrayList<>(results.size());
            for (FitRes r : results) {
                values.add(Parameters.floats(name, r.parameters().get(name), "client '" + r.clientId() + "'"));
            }
            mean.put(name, HostTensor.ofFloats(weightedMean(values, weights), e.getValue().shape()));
        }
        return mean;
    }

    /** Σ_i w_i v_i / Σ_i w_i element-wise, in double; all arrays must have the same length and Σ w_i > 0. */
    public static float[] weightedMean(List<float[]> values, long[] weights) {
        if (values.size() != weights.length || values.isEmpty()) {
            throw new IllegalArgumentException(values.size() + " arrays but " + weights.length + " weights");
        }
        int n = values.get(0).length;
        double total = 0;
        for (long w : weights) {
            total += w;
        }
        double[] sum = new double[n];
        for (int i = 0; i < weights.length; i++) {
            float[] v = values.get(i);
            if (v.length != n) {
                throw new IllegalArgumentException("array " + i + " has " + v.length + " elements, expected " + n);
            }
            double w = weights[i] / total;
            for (int j = 0; j < n; j++) {
                sum[j] += w * v[j];
            }
        }
        float[] out = new float[n];
        for (int j = 0; j < n; j++) {
            out[j] = (float) sum[j];
        }
        return out;
    }

    /** Example-weighted mean of each training metric over the clients that report it. */
    public static SortedMap<String, Double> fitMetrics(List<FitRes> results) {
        return weightedMetrics(results.stream().mapToLong(FitRes::numExamples).toArray(),
                results.stream().map(FitRes::metrics).toList());
    }

    /** Example-weighted mean of each evaluation metric over the clients that report it. */
    public static SortedMap<String, Double> evaluateMetrics(List<EvaluateRes> results) {
        return weightedMetrics(results.stream().mapToLong(EvaluateRes::numExamples).toArray(),
                results.stream().map(EvaluateRes::metrics).toList());
    }

    /**
     * For each metric name m: Σ_{i reports m} w_i m_i / Σ_{i reports m} w_i. A metric whose reporters all have
     * weight 0 is the plain mean of their values.
     */
    public static SortedMap<String, Double> weightedMetrics(long[] weights, List<Map<String, Double>> metrics) {
        SortedMap<String, double[]> sums = new TreeMap<>(); // name -> {Σ w·m, Σ w, Σ m, count}
        for (int i = 0; i < weights.length; i++) {
            for (Map.Entry<String, Double> m : metrics.get(i).entrySet()) {
                double[] s = sums.computeIfAbsent(m.getKey(), k -> new double[4]);
                s[0] += weights[i] * m.getValue();
                s[1] += weights[i];
                s[2] += m.getValue();
                s[3] += 1;
            }
        }
        SortedMap<String, Double> out = new TreeMap<>();
        sums.forEach((name, s) -> out.put(name, s[1] > 0 ? s[0] / s[1] : s[2] / s[3]));
        return out;
    }

    /** Same names, shapes and dtype as the reference result, or an error naming the client and the tensor. */
    private static void requireSameTensors(FitRes reference, FitRes other) {
        Set<String> expected = reference.parameters().keySet();
        Set<String> actual = other.parameters().keySet();
        if (!expected.equals(actual)) {
            Set<String> extra = new TreeSet<>(actual);
            extra.removeAll(expected);
            Set<String> missing = new TreeSet<>(expected);
            missing.removeAll(actual);
            throw new IllegalArgumentException("client '" + other.clientId() + "' sent different tensors than client '"
                    + reference.clientId() + "': extra " + extra + ", missing " + missing
                    + "; every client of a round must send the same tensor names, e.g. " + expected);
        }
        for (String name : expected) {
            HostTensor ref = reference.parameters().get(name);
            HostTensor t = other.parameters().get(name);
            Parameters.requireSameShape(name, ref, "client '" + reference.clientId() + "'", t,
                    "client '" + other.clientId() + "'");
        }
    }

    private static void checkWeights(long[] weights, List<String> clientIds) {
        long total = 0;
        for (long w : weights) {
            total = Math.addExact(total, w);
        }
        if (total == 0) {
            throw new IllegalArgumentException("every client " + clientIds + " reported 0 examples, so the weighted "
                    + "mean is undefined; FitRes.numExamples must count the examples each client trained on");
        }
    }
}
