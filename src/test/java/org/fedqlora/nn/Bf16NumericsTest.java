package org.fedqlora.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The BF16 linear layer against float32, element by element, within the rounding-error bound of a bf16 product.
 *
 * <p>Error bound. bfloat16 keeps 8 significant bits, so rounding to nearest has unit roundoff u = 2⁻⁸ ≈ 3.9e-3:
 * fl(a) = a(1 + δ), |δ| ≤ u. A bf16 product y = Σₖ x̂ₖŵₖ (K terms) rounds x and w (one δ each), forms each product
 * exactly in float32 (8 + 8 significant bits fit in 24), accumulates in float32 (at most K·2⁻²⁴ relative to
 * Σ|xₖwₖ|) and rounds the result to bf16 once more (δ ≤ u relative to |y| ≤ Σ|xₖwₖ|). To first order:
 * <pre>  |ŷ − y| ≤ (3u + K·2⁻²⁴) · Σₖ |xₖ|·|wₖ|     (per output element)</pre>
 * The input gradient dx = dy·W is a product of the same kind over the `out` axis (dy arrives in float32 and is
 * rounded to bf16 by the cast's backward), so the same bound holds with K = out and |dy|·|W|. A bias added inside
 * the product adds u·|b|.
 */
class Bf16NumericsTest {
    /** bf16 unit roundoff, 2⁻⁸. */
    static final double U_BF16 = 1.0 / 256;
    /** float32 unit roundoff, 2⁻²⁴. */
    static final double U_FP32 = 1.0 / (1 << 24);

    /** The bound's factor on Σ|x||w| for a K-term product, with 1 % for second-order terms. */
    static double bound(long k) {
        return 1.01 * (3 * U_BF16 + k * U_FP32);
    }

    @ParameterizedTest(name = "({0}, {1}) x ({2}, {1})ᵀ")
    @CsvSource({"256, 384, 384", "64, 1536, 384", "33, 96, 17"})
    void linearAndInputGradientWithinBf16Bound(int rows, int in, int out) {
        try (NDManager m = Engines.newManager()) {
            Engine.getInstance().setRandomSeed(11);
            NDArray w = m.randomNormal(new Shape(out, in));
            NDArray b = m.randomNormal(new Shape(out));
            NDArray x = m.randomNormal(new Shape(rows, in));
            NDArray dy = m.randomNormal(new Shape(rows, out));
            x.setRequiresGradient(true);

            NDArray y16;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                y16 = Gemm.linear(Compute.BF16, x, w, b);
                gc.backward(y16.mul(dy).sum());
            }
            NDArray dx16 = x.getGradient();
            // references in float32 (exact enough: K·2⁻²⁴ ≪ 3u), with the bound's Σ|x||w| alongside
            NDArray y = x.matMul(w.transpose()).add(b);
            NDArray dx = dy.matMul(w);
            NDArray yScale = x.abs().matMul(w.abs().transpose()).add(b.abs());
            NDArray dxScale = dy.abs().matMul(w.abs());

            double yWorst = worstRatio(y16, y, yScale);
            double dxWorst = worstRatio(dx16, dx, dxScale);
            System.out.printf("bf16 linear (%d,%d)x(%d,%d)ᵀ: max err / Σ|x||w| = %.2e (bound %.2e), dx %.2e (bound %.2e)%n",
                    rows, in, out, in, yWorst, bound(in), dxWorst, bound(out));
            assertThat(yWorst).as("forward: max |ŷ−y| / Σ|x||w|").isLessThanOrEqualTo(bound(in));
            assertThat(dxWorst).as("input gradient: max |dx̂−dx| / Σ|dy||w|").isLessThanOrEqualTo(bound(out));
            // the product really ran in bf16: float32 would be ~1e-7 here
            assertThat(yWorst).as("bf16 rounding is visible").isGreaterThan(U_BF16 / 64);
            assertThat(dxWorst).isGreaterThan(U_BF16 / 64);
        }
    }

    @Test
    void fp32RouteIsUntouched() {
        try (NDManager m = Engines.newManager()) {
            Engine.getInstance().setRandomSeed(12);
            NDArray w = m.randomNormal(new Shape(48, 32));
            NDArray x = m.randomNormal(new Shape(9, 32));
            float[] a = Gemm.linear(Compute.FP32, x, w, null).toFloatArray();
            float[] r = Gemm.linear(x, w, null).toFloatArray();
            assertThat(a).containsExactly(r);
        }
    }

    @Test
    void attentionWithinBf16Bound() {
        // s = q·kᵀ is a D-term product (bound as above); softmax is 1-Lipschitz in the max norm of its input up to a
        // factor 2 (|Δp_j| ≤ 2·p_j·max|Δs|, so Σ_j |Δp_j| ≤ 2 max|Δs|); p is rounded to bf16 (u·p) and p·v is an
        // S-term product. Hence per element: |Δctx| ≤ (2·max|Δs| + u + 3u + S·2⁻²⁴)·max|v| (p sums to 1).
        try (NDManager m = Engines.newManager()) {
            Engine.getInstance().setRandomSeed(13);
            int B = 2, H = 3, T = 17, D = 16;
            NDArray q = m.randomNormal(new Shape(B, H, T, D)).mul(0.25f);
            NDArray k = m.randomNormal(new Shape(B, H, T, D));
            NDArray v = m.randomNormal(new Shape(B, H, T, D));
            NDArray bias = m.zeros(new Shape(B, 1, 1, T));
            bias.set(new ai.djl.ndarray.index.NDIndex("1, :, :, 12:"), -1e9f);   // padding keys of example 1

            NDArray ctx16 = Attention.attend(Compute.BF16, q, k, v, bias);
            NDArray ctx = Attention.attend(Compute.FP32, q, k, v, bias);

            double maxDs = bound(D) * q.abs().matMul(k.abs().swapAxes(-1, -2)).max().getFloat();
            double allowed = (2 * maxDs + 4 * U_BF16 + T * U_FP32) * v.abs().max().getFloat() * 1.01;
            double err = ctx16.sub(ctx).abs().max().getFloat();
            System.out.printf("bf16 attention: max |Δctx| = %.2e (bound %.2e)%n", err, allowed);
            assertThat(err).isLessThanOrEqualTo(allowed).isGreaterThan(0.0);
        }
    }

    @Test
    void fusedFeedForwardMatchesTheUnfusedBf16Route() {
        // The fused block keeps h = gelu(x·W1ᵀ + b1) in bf16 where the unfused route keeps it as the float32 widening
        // of the same bf16 product, applies GELU in float32 and rounds h to bf16 before its second product. The two
        // can differ by at most one bf16 rounding of h (u·|h| per element) and of y (u·|y|), so per output element
        // |Δy| ≤ u·Σ_f |h_f|·|W2_f| + u·|y| ≤ 2u·Σ_f |h_f|·|W2_f| + u·|b2| (to first order). Backward likewise: the
        // gradient g = gelu'(z)⊙(dy·W2) is rounded to bf16 once on both routes, so |Δdx| ≤ 2u·Σ_f |g_f|·|W1_f|.
        try (NDManager m = Engines.newManager()) {
            Engine.getInstance().setRandomSeed(14);
            int rows = 64, c = 96, f = 384;
            NDArray w1 = m.randomNormal(new Shape(f, c)).mul(0.1f);
            NDArray b1 = m.randomNormal(new Shape(f)).mul(0.1f);
            NDArray w2 = m.randomNormal(new Shape(c, f)).mul(0.1f);
            NDArray b2 = m.randomNormal(new Shape(c)).mul(0.1f);
            NDArray x = m.randomNormal(new Shape(rows, c));
            NDArray dy = m.randomNormal(new Shape(rows, c));

            // the profiling executor optimizes and differentiates a method its own way after the first calls
            for (int warm = 0; warm < 3; warm++) {
                ffnAndGradient(x, dy, xx -> Bf16.ffn(xx, w1, b1, w2, b2));
            }
            NDArray[] fused = ffnAndGradient(x, dy, xx -> Bf16.ffn(xx, w1, b1, w2, b2));
            NDArray[] unfused = ffnAndGradient(x, dy, xx -> Gemm.linear(Compute.BF16,
                    ai.djl.nn.Activation.gelu(Gemm.linear(Compute.BF16, xx, w1, b1)), w2, b2));

            NDArray z = x.matMul(w1.transpose()).add(b1);
            NDArray h = ai.djl.nn.Activation.gelu(z);
            NDArray yScale = h.abs().matMul(w2.abs().transpose()).mul(2).add(b2.abs());
            // gelu'(z) = Φ(z) + z·φ(z), with Φ from GELU itself: gelu(z) = z·Φ(z)
            NDArray phi = z.square().mul(-0.5f).exp().div((float) Math.sqrt(2 * Math.PI));
            NDArray geluPrime = h.div(z.add(1e-30f)).add(z.mul(phi));
            NDArray g = dy.matMul(w2).mul(geluPrime);
            NDArray dxScale = g.abs().matMul(w1.abs()).mul(2);

            double yWorst = worstRatio(fused[0], unfused[0], yScale);
            double dxWorst = worstRatio(fused[1], unfused[1], dxScale);
            System.out.printf("fused bf16 FFN vs unfused: max |Δy| / scale = %.2e, dx %.2e (bound %.2e)%n",
                    yWorst, dxWorst, 1.01 * U_BF16);
            assertThat(yWorst).as("forward").isLessThanOrEqualTo(1.01 * U_BF16);
            assertThat(dxWorst).as("input gradient").isLessThanOrEqualTo(1.01 * U_BF16);
        }
    }

    /** f(x) and the gradient of Σ f(x)·dy with respect to x. */
    private static NDArray[] ffnAndGradient(NDArray x0, NDArray dy, java.util.function.UnaryOperator<NDArray> f) {
        NDArray x = x0.duplicate();
        x.setRequiresGradient(true);
        NDArray y;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            y = f.apply(x);
            gc.backward(y.mul(dy).sum());
        }
        return new NDArray[] {y, x.getGradient()};
    }

    /** max over elements of |a − ref| / scale. */
    private static double worstRatio(NDArray a, NDArray ref, NDArray scale) {
        return a.sub(ref).abs().div(scale.add(1e-30f)).max().getFloat();
    }
}
