package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;

/** Scaled dot-product attention on separate heads, at a model's {@link Compute} precision. */
public final class Attention {
    private Attention() {
    }

    /**
     * softmax(q·kᵀ + bias)·v.
     *
     * @param q    (B, H, T, D), already multiplied by 1/√D
     * @param k    (B, H, S, D)
     * @param v    (B, H, S, D)
     * @param bias additive, broadcastable to (B, H, T, S) (0 to keep, a large negative number to mask), or null
     * @return (B, H, T, D), in q's manager
     */
    public static NDArray attend(Compute compute, NDArray q, NDArray k, NDArray v, NDArray bias) {
        if (compute == Compute.BF16) {
            return Bf16.attention(q, k, v, bias);
        }
        NDArray scores = q.matMul(k.swapAxes(-1, -2));                     // (B, H, T, S)
        return (bias == null ? scores : scores.add(bias)).softmax(-1).matMul(v);
    }
}
