package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.engine.ScriptModule;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The self-attention sublayer o(softmax(q(x)·k(x)ᵀ·s + mask)·v(x)) at {@link Compute#BF16} in one TorchScript call
 * per layer, instead of four products, an attention call and the float32 casts, head reshapes and adds between them.
 *
 * <p>It applies when the output projection and every unfolded adapter are such that the call can take them as
 * inputs: adapters on q, k and v see the layer input x, so their float32 sum is computed outside (by the adapters
 * themselves, with their gradients) and passed in; the output projection must be plain (no unfolded adapter), and
 * all four layers need biases (a packed weight is dequantized into the step first). Otherwise {@link #bf16} returns
 * null and the caller runs the layers one by one.
 *
 * <p>The rounding is that of the unfused route, operation for operation: each product's output is rounded to
 * bfloat16; q, k, v with an adapter are widened to float32, the adapter's float32 output added (and q scaled) in
 * float32, then rounded to bfloat16 as the attention call rounds them; without an adapter the bf16 product goes on
 * as it is (widening and rounding back is the identity); the context enters the output projection in bfloat16,
 * where the unfused route widens it and the projection rounds it back. (With two unfolded adapters on one layer their
 * outputs are summed before the add, not added one after the other: float32 rounding apart, the same.) One call is
 * compiled per combination of adapters, mask and head count, when first needed.
 */
public final class AttentionBlock {
    private static final ConcurrentHashMap<String, ScriptModule> MODULES = new ConcurrentHashMap<>();

    private AttentionBlock() {
    }

    /**
     * @param x     (B, T, C) float32, the layer input
     * @param scale the 0-d float32 1/√D the queries are multiplied by
     * @param mask  additive, broadcastable to (B, H, T, T), or null
     * @return (B, T, C) float32 = the output projection of the attention context, or null where the fused call does
     *         not apply (see the class comment)
     */
    public static NDArray bf16(NDManager step, Linear q, Linear k, Linear v, Linear o, NDArray x, NDArray scale,
                               NDArray mask, int heads, boolean training) {
        Linear[] qkvo = {q, k, v, o};
        for (Linear l : qkvo) {
            if (l.compute() != Compute.BF16 || l.bias() == null) {
                return null;
            }
        }
        if (!o.plain()) {
            return null;
        }
        List<NDArray> args = new ArrayList<>(List.of(x, q.denseWeight(step), q.bias(), k.denseWeight(step), k.bias(),
                v.denseWeight(step), v.bias(), o.denseWeight(step), o.bias(), scale));
        NDArray dq = q.adapterDelta(x, training);
        NDArray dk = k.adapterDelta(x, training);
        NDArray dv = v.adapterDelta(x, training);
        for (NDArray extra : new NDArray[] {dq, dk, dv, mask}) {
            if (extra != null) {
                args.add(extra);
            }
        }
        String key = (dq != null) + "," + (dk != null) + "," + (dv != null) + "," + (mask != null) + "," + heads;
        ScriptModule m = MODULES.computeIfAbsent(key, unused -> ScriptModule.compile("Bf16Attention",
                source(dq != null, dk != null, dv != null, mask != null, heads)));
        return m.call("block", args.toArray(NDArray[]::new));
    }

    /** The TorchScript source of one combination. */
    static String source(boolean dq, boolean dk, boolean dv, boolean mask, int heads) {
        StringBuilder s = new StringBuilder();
        s.append("  def block(self: __torch__.Bf16Attention, x: Tensor, wq: Tensor, bq: Tensor, wk: Tensor, bk: Tensor,"
                + " wv: Tensor, bv: Tensor, wo: Tensor, bo: Tensor, scale: Tensor");
        if (dq) {
            s.append(", dq: Tensor");
        }
        if (dk) {
            s.append(", dk: Tensor");
        }
        if (dv) {
            s.append(", dv: Tensor");
        }
        if (mask) {
            s.append(", mask: Tensor");
        }
        s.append(") -> Tensor:\n");
        s.append("    b = torch.size(x, 0)\n    t = torch.size(x, 1)\n    c = torch.size(x, 2)\n");
        // x is cast once per product, not once for all three: the backward then sums the three input gradients
        // in float32 (each cast's backward widens its own), as the unfused route does, not in bfloat16. The three
        // casts differ in flags that change nothing on CPU (copy, non_blocking), or the graph executor would merge them
        s.append("    q = torch.linear(torch.to(x, BF16), torch.to(wq, BF16), torch.to(bq, BF16))\n");
        // q is scaled in float32 on the unfused route (the scale multiplies the widened product plus adapter)
        // (a bf16 tensor times a 0-d float32 tensor stays bf16, computed in float32 and rounded once, as the unfused
        // widen-multiply-round does. The adds widen explicitly: the graph executor's own backward of a mixed-dtype
        // add, used once a method has run a few times, hands a float32 gradient to the bf16 product and fails)
        s.append(dq ? "    q = torch.to(torch.mul(torch.add(torch.to(q, FP32), dq), scale), BF16)\n"
                : "    q = torch.mul(q, scale)\n");
        s.append("    k = torch.linear(torch.to(x, BF16, False, True), torch.to(wk, BF16), torch.to(bk, BF16))\n");
        if (dk) {
            s.append("    k = torch.to(torch.add(torch.to(k, FP32), dk), BF16)\n");
        }
        s.append("    v = torch.linear(torch.to(x, BF16, True, True), torch.to(wv, BF16), torch.to(bv, BF16))\n");
        if (dv) {
            s.append("    v = torch.to(torch.add(torch.to(v, FP32), dv), BF16)\n");
        }
        s.append("    q = torch.transpose(torch.view(q, [b, t, " + heads + ", -1]), 1, 2)\n");
        s.append("    k = torch.transpose(torch.view(k, [b, t, " + heads + ", -1]), 1, 2)\n");
        s.append("    v = torch.transpose(torch.view(v, [b, t, " + heads + ", -1]), 1, 2)\n");
        s.append("    s = torch.matmul(q, torch.transpose(k, -1, -2))\n");
        if (mask) {
            s.append("    s = torch.add(s, torch.to(mask, BF16))\n");
        }
        s.append("    ctx = torch.matmul(torch.softmax(s, -1), v)\n");
        s.append("    ctx = torch.reshape(torch.transpose(ctx, 1, 2), [b, t, c])\n");
        s.append("    return torch.to(torch.linear(ctx, torch.to(wo, BF16), torch.to(bo, BF16)), FP32)\n");
        return s.toString().replace("BF16", String.valueOf(Bf16.BF16)).replace("FP32", String.valueOf(Bf16.FP32));
    }
}
