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
 * {@code torch.autocast}. Softmax, its mask and everything outside these calls stay float32.
 *
 * <p>Shapes: B = batch, H = heads, T = sequence, D = head size.
 */
final class Bf16 {
    private static final int BF16 = 15;   // c10::ScalarType::BFloat16 (TorchScript source writes dtypes as ints)
    private static final int FP32 = 6;    // c10::ScalarType::Float

    private static final String SOURCE = """
              def linear(self: __torch__.Bf16Kernels, x: Tensor, w: Tensor) -> Tensor:
                return torch.to(torch.linear(torch.to(x, BF16), torch.to(w, BF16)), FP32)
              def linear_bias(self: __torch__.Bf16Kernels, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
                return torch.to(torch.linear(torch.to(x, BF16), torch.to(w, BF16), torch.to(b, BF16)), FP32)
              def attention(self: __torch__.Bf16Kernels, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                s = torch.matmul(torch.to(q, BF16), torch.transpose(torch.to(k, BF16), -1, -2))
                p = torch.softmax(torch.to(s, FP32), -1)
                return torch.to(torch.matmul(torch.to(p, BF16), torch.to(v, BF16)), FP32)
              def attention_bias(self: __torch__.Bf16Kernels, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
                s = torch.matmul(torch.to(q, BF16), torch.transpose(torch.to(k, BF16), -1, -2))
                p = torch.softmax(torch.add(torch.to(s, FP32), bias), -1)
                return torch.to(torch.matmul(torch.to(p, BF16), torch.to(v, BF16)), FP32)
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
}
