package org.fedqlora.fed.privacy;

import org.fedqlora.fed.Parameters;
import org.fedqlora.tensor.HostTensor;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Client updates as vectors: Δ = x_client − x_global over the tensors a client shares (all of them jointly, in name
 * order), their L2 norm, clipping, sums and the step back to parameters. Values are held in double so that sums of
 * many clipped updates and the noise are exact to double precision; they become float32 only in
 * {@link #addToGlobal}.
 */
public final class Updates {
    private Updates() {
    }

    /** Δ = local − global for every tensor of {@code local} (each must be in {@code global} with its shape). */
    public static SortedMap<String, double[]> delta(Map<String, HostTensor> global, Map<String, HostTensor> local,
                                                    String source) {
        SortedMap<String, double[]> delta = new TreeMap<>();
        for (Map.Entry<String, HostTensor> e : local.entrySet()) {
            String name = e.getKey();
            HostTensor reference = global.get(name);
            if (reference == null) {
                throw new IllegalArgumentException(source + " sent tensor '" + name + "' that the global parameters "
                        + "lack (global has " + global.keySet() + ")");
            }
            Parameters.requireSameShape(name, reference, "the global parameters", e.getValue(), source);
            float[] x = Parameters.floats(name, e.getValue(), source);
            float[] g = Parameters.floats(name, reference, "the global parameters");
            double[] d = new double[x.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = (double) x[i] - g[i];
            }
            delta.put(name, d);
        }
        return delta;
    }

    /** ‖Δ‖₂ over all tensors jointly: √(Σ_tensors Σ_i Δ_i²). */
    public static double l2Norm(Map<String, double[]> update) {
        double squares = 0;
        for (double[] d : update.values()) {
            for (double v : d) {
                squares += v * v;
            }
        }
        return Math.sqrt(squares);
    }

    /**
     * Clips Δ in place to L2 norm at most {@code clip}: Δ ← Δ · min(1, S / ‖Δ‖) (Abadi et al. 2016, eq. in §3.1;
     * McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models", Algorithm 1, per client).
     *
     * @return ‖Δ‖ before clipping
     */
    public static double clipInPlace(Map<String, double[]> update, double clip) {
        if (!(clip > 0) || Double.isInfinite(clip)) {
            throw new IllegalArgumentException("clip norm must be a finite number > 0, got " + clip);
        }
        double norm = l2Norm(update);
        if (norm > clip) {
            double factor = clip / norm;
            for (double[] d : update.values()) {
                for (int i = 0; i < d.length; i++) {
                    d[i] *= factor;
                }
            }
        }
        return norm;
    }

    /** sum += update, tensor by tensor; a tensor new to {@code sum} is added; lengths must agree. */
    public static void accumulate(Map<String, double[]> sum, Map<String, double[]> update) {
        update.forEach((name, d) -> {
            double[] s = sum.computeIfAbsent(name, k -> new double[d.length]);
            if (s.length != d.length) {
                throw new IllegalArgumentException("tensor '" + name + "' has " + d.length + " elements in one "
                        + "update and " + s.length + " in another");
            }
            for (int i = 0; i < d.length; i++) {
                s[i] += d[i];
            }
        });
    }

    /** Adds independent N(0, stddev²) to every element, tensor by tensor in name order. */
    public static void addGaussianNoise(SortedMap<String, double[]> values, double stddev, GaussianSampler noise) {
        if (stddev > 0) {
            values.values().forEach(v -> noise.addTo(v, stddev));
        }
    }

    /**
     * x_global + sum / divisor for every tensor of {@code sum}, rounded once to float32, with the global shapes.
     * (The DP mean divides by the expected number of clients, not the realised one.)
     */
    public static SortedMap<String, HostTensor> addToGlobal(Map<String, HostTensor> global,
                                                           Map<String, double[]> sum, double divisor) {
        SortedMap<String, HostTensor> out = new TreeMap<>();
        sum.forEach((name, s) -> {
            HostTensor g = global.get(name);
            float[] x = Parameters.floats(name, g, "the global parameters");
            float[] next = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                next[i] = (float) (x[i] + s[i] / divisor);
            }
            out.put(name, HostTensor.ofFloats(next, g.shape()));
        });
        return out;
    }

    /** A zero vector with the tensors and lengths of {@code shapeOf}. */
    public static SortedMap<String, double[]> zerosLike(Map<String, HostTensor> shapeOf) {
        SortedMap<String, double[]> out = new TreeMap<>();
        shapeOf.forEach((name, t) -> out.put(name, new double[(int) HostTensor.numel(t.shape())]));
        return out;
    }
}
