package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import org.fedqlora.engine.ScriptModule;

/**
 * The {@link Compute#BF16} kernels: one TorchScript module whose methods take and return float32 arrays and cast to
 * bfloat16 inside (DJL cannot hold a bfloat16 array: DJL-NOTES trap 5; a cast through DJL detaches the graph:
 * trap 4; a cast inside a TorchScript method is an ordinary autograd op). PyTorch runs bfloat16 products on oneDNN,
 * which uses the CPU's bf16 dot-product instructions and accumulates in float32; each output is rounded to
 * bfloat16 once, then widened back to float32. The backward pass of a product is a bfloat16 product too (the
 * gradient arrives in float32, is cast to bfloat16 by the cast's backward, and leaves as float32), as under
 * {@code torch.autocast}. Inside {@link #attention} the scores stay bfloat16: softmax reads them in bfloat16,
 * computes in float32 (PyTorch's reduced-precision CPU kernels widen internally) and rounds its output to bfloat16,
 * the same rounding the probabilities get anyway before the p·v product; the mask is added in bfloat16 (−1e9 stays a
 * large negative number, 0 adds nothing). Everything outside these calls stays float32.
 *
 * <p>Shapes: B = batch, H = heads, T = sequence, D = head size.
 */
final class Bf16 {
    static final int BF16 = 15;   // c10::ScalarType::BFloat16 (TorchScript source writes dtypes as ints)
    static final int FP32 = 6;    // c10::ScalarType::Float

    private static final String SOURCE = """
              def linear(self: __torch__.Bf16Kernels, x: Tensor, w: Tensor) -> Tensor:
                return torch.to(torch.linear(torch.to(x, BF16), torch.to(w, BF16)), FP32)
              def linear_bias(self: __torch__.Bf16Kernels, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
                return torch.to(torch.linear(torch.to(x, BF16), torch.to(w, BF16), torch.to(b, BF16)), FP32)
              def ffn(self: __torch__.Bf16Kernels, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
                h = torch.gelu(torch.linear(torch.to(x, BF16), torch.to(w1, BF16), torch.to(b1, BF16)))
                return torch.to(torch.linear(h, torch.to(w2, BF16), torch.to(b2, BF16)), FP32)
              def attention(self: __torch__.Bf16Kernels, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                s = torch.matmul(torch.to(q, BF16), torch.transpose(torch.to(k, BF16), -1, -2))
                return torch.to(torch.matmul(torch.softmax(s, -1), torch.to(v, BF16)), FP32)
              def attention_bias(self: __torch__.Bf16Kernels, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
                s = torch.matmul(torch.to(q, BF16), torch.transpose(torch.to(k, BF16), -1, -2))
                p = torch.softmax(torch.add(s, torch.to(bias, BF16)), -1)
                return torch.to(torch.matmul(p, torch.to(v, BF16)), FP32)
            """.replace("BF16", String.valueOf(BF16)).replace("FP32", String.valueOf(FP32));

    private Bf16() {
    }

    private static final class Holder {
        static final ScriptModule MODULE = ScriptModule.compile("Bf16Kernels", SOURCE);
    }

    /** x (..., in) · w (out, in)ᵀ + bias (out, or null) → (..., out), in x's manager. */
    static NDArray linear(NDArray x, NDArray w, NDArray bias) {
        return bias == null ? Holder.MODULE.call("linear", x, w) : Holder.MODULE.call("linear_bias", x, w, bias);
    }

    /**
     * softmax(q·kᵀ + bias)·v: q (B, H, T, D) already scaled by 1/√D, k and v (B, H, T, D), bias broadcastable to
     * (B, H, T, T) or null → (B, H, T, D), in q's manager.
     */
    static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray bias) {
        return bias == null ? Holder.MODULE.call("attention", q, k, v)
                : Holder.MODULE.call("attention_bias", q, k, v, bias);
    }

    /**
     * The feed-forward block W2·gelu(W1·x + b1) + b2 in one call: x (..., in), W1 (F, in), W2 (out, F) float32 →
     * (..., out) float32, with the (..., F) intermediate kept in bfloat16 inside. The rounding is that of
     * {@link #linear}, exact GELU, {@link #linear}: GELU of a bf16 product, rounded to bf16, is what the unfused
     * route feeds its second product too (which casts to bf16 first); only the float32 round trips of the widest
     * activation (and its float32 GELU and GELU backward) go.
     */
    static NDArray ffn(NDArray x, NDArray w1, NDArray b1, NDArray w2, NDArray b2) {
        return Holder.MODULE.call("ffn", x, w1, b1, w2, b2);
    }
}
