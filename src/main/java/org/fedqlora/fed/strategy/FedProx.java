package org.fedqlora.fed.strategy;

import org.fedqlora.fed.Parameters;
import org.fedqlora.tensor.HostTensor;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * FedProx (Li et al. 2020) is a client-side change: local training minimises loss(w) + μ/2 ‖w − w_global‖², which
 * keeps heterogeneous clients near the global model. The server only tells clients μ, under {@link #MU_KEY} in the
 * {@link org.fedqlora.fed.FitIns} config ({@link FedAvg.Config#proximalMu()}); aggregation is FedAvg's.
 * The helpers here are the term and its gradient on host tensors, over the tensors the client trains and shares.
 */
public final class FedProx {
    /** The FitIns config key holding μ as a decimal string; absent means μ = 0. */
    public static final String MU_KEY = "proximal_mu";

    private FedProx() {
    }

    /** μ from a FitIns config: 0 when absent; an error when it is not a number ≥ 0. */
    public static double mu(Map<String, String> config) {
        String text = config.get(MU_KEY);
        if (text == null) {
            return 0;
        }
        double mu;
        try {
            mu = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(MU_KEY + " = '" + text + "' is not a number, e.g. 0.01");
        }
        if (!(mu >= 0) || Double.isInfinite(mu)) {
            throw new IllegalArgumentException(MU_KEY + " must be a finite number ≥ 0, got " + text);
        }
        return mu;
    }

    /** μ/2 Σ_names ‖w − w_global‖², over the tensors of {@code local} (each must be in {@code global}). */
    public static double penalty(Map<String, HostTensor> local, Map<String, HostTensor> global, double mu) {
        double squares = 0;
        for (Map.Entry<String, HostTensor> e : local.entrySet()) {
            float[][] pair = pair(e.getKey(), e.getValue(), global);
            for (int i = 0; i < pair[0].length; i++) {
                double d = (double) pair[0][i] - pair[1][i];
                squares += d * d;
            }
        }
        return mu / 2 * squares;
    }

    /** The gradient of {@link #penalty}: μ (w − w_global) for each tensor of {@code local}. */
    public static SortedMap<String, HostTensor> gradient(Map<String, HostTensor> local,
                                                         Map<String, HostTensor> global, double mu) {
        SortedMap<String, HostTensor> grads = new TreeMap<>();
        for (Map.Entry<String, HostTensor> e : local.entrySet()) {
            float[][] pair = pair(e.getKey(), e.getValue(), global);
            float[] g = new float[pair[0].length];
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) (mu * ((double) pair[0][i] - pair[1][i]));
            }
            grads.put(e.getKey(), HostTensor.ofFloats(g, e.getValue().shape()));
        }
        return grads;
    }

    /** {w, w_global} values of one tensor, checked for presence and shape. */
    private static float[][] pair(String name, HostTensor local, Map<String, HostTensor> global) {
        HostTensor reference = global.get(name);
        if (reference == null) {
            throw new IllegalArgumentException("proximal term: tensor '" + name + "' is not in the global "
                    + "parameters " + global.keySet() + "; the term applies to shared tensors only");
        }
        Parameters.requireSameShape(name, reference, "the global parameters", local, "the local model");
        return new float[][] {Parameters.floats(name, local, "the local model"),
                Parameters.floats(name, reference, "the global parameters")};
    }
}
