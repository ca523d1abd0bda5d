package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Activation;

/** The feed-forward block {@code out(gelu(inter(x)))} of an encoder layer, fused where the precision allows. */
public final class FeedForward {
    private FeedForward() {
    }

    /**
     * x (..., C) → (..., C) = out(gelu(inter(x))), exact (erf) GELU. At {@link Compute#BF16}, when neither layer has
     * an unfolded adapter and both have biases (a packed weight is dequantized into the step first), the whole block
     * is one call ({@link Bf16#ffn}) that keeps the (..., F) intermediate in bfloat16: the same rounding as the two
     * products and the GELU in between (see there), without the float32 round trips of the widest activation.
     * Otherwise the two layers run as they are, with their adapters.
     */
    public static NDArray gelu(NDManager step, Linear inter, Linear out, NDArray x, boolean training) {
        if (inter.compute() == Compute.BF16 && out.compute() == Compute.BF16 && inter.plain() && out.plain()
                && inter.bias() != null && out.bias() != null) {
            return Bf16.ffn(x, inter.denseWeight(step), inter.bias(), out.denseWeight(step), out.bias());
        }
        return out.forward(step, Activation.gelu(inter.forward(step, x, training)), training);
    }
}
