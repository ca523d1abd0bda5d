package org.fedqlora.adapter;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.fedqlora.engine.GraphConstants;
import org.fedqlora.nn.Attention;
import org.fedqlora.nn.AttentionBlock;
import org.fedqlora.nn.Compute;
import org.fedqlora.nn.DenseWeight;
import org.fedqlora.nn.Linear;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fused bf16 attention sublayer ({@link AttentionBlock}) against the same layers run one by one at BF16 (each
 * already checked against float32 in {@code Bf16NumericsTest}): outputs, the input gradient and the LoRA gradients.
 *
 * <p>Tolerance. Both routes round the same values to bfloat16 at the same points (see {@link AttentionBlock}); what
 * may differ is the order in which autograd sums float32 gradient contributions (base product and LoRA, q, k and v),
 * a few float32 ulps, which can move a later bf16 rounding by one step (u = 2⁻⁸) in rare elements. So every element
 * is bounded by u times the largest magnitude of its tensor (a one-step flip anywhere), and 99 % of the elements must
 * agree to 2⁻²⁰ of that magnitude (float32 order effects only). Measured: forward outputs are identical, gradients
 * differ by at most 1e-6 (of magnitudes ~3).
 */
class AttentionBlockTest {
    private static final int B = 2, T = 12, C = 48, H = 4;
    private static final double U = 1.0 / 256;
    /** Runs before the compared one: the optimized graph is in use by the third call (measured). */
    private static final int WARM_RUNS = 3;

    @ParameterizedTest(name = "LoRA on q,v: {0}, on k: {1}, padding mask: {2}")
    @CsvSource({"true, false, false", "true, false, true", "false, false, false", "true, true, true"})
    void fusedEqualsUnfusedBf16Route(boolean loraQv, boolean loraK, boolean mask) {
        try (NDManager m = Engines.newManager()) {
            Engine.getInstance().setRandomSeed(21);
            Linear q = linear(m, "q", 1), k = linear(m, "k", 2), v = linear(m, "v", 3), o = linear(m, "o", 4);
            LoraConfig lc = new LoraConfig(4, 8, 0, List.of("all"));
            List<LoraAdapter> loras = new java.util.ArrayList<>();
            for (Linear l : loraK ? List.of(q, k, v) : loraQv ? List.of(q, v) : List.<Linear>of()) {
                LoraAdapter a = LoraAdapter.of(m, l.name(), random(4 * C, 7, 0.2f), random(C * 4, 8, 0.2f), C, C, lc);
                a.aT().setRequiresGradient(true);
                a.bT().setRequiresGradient(true);
                l.addAdapter(a);
                loras.add(a);
            }
            for (Linear l : List.of(q, k, v, o)) {
                l.setCompute(Compute.BF16);
            }
            NDArray x0 = m.randomNormal(new Shape(B, T, C));
            NDArray dy = m.randomNormal(new Shape(B, T, C));
            NDArray bias = null;
            if (mask) {
                bias = m.zeros(new Shape(B, 1, 1, T));
                bias.set(new NDIndex("1, :, :, 9:"), -1e9f);
            }
            NDArray finalBias = bias;
            Block fusedBlock = (x, s) -> {
                NDArray y = AttentionBlock.bf16(m, q, k, v, o, x, s, finalBias, H, true);
                assertThat(y).as("the fused call applies").isNotNull();
                return y;
            };
            // TorchScript's profiling executor runs a method as written the first times, then optimizes it and
            // differentiates the optimized graph with its own backward formulas: compare after that has happened
            for (int warm = 0; warm < WARM_RUNS; warm++) {
                run(m, x0, dy, loras, fusedBlock);
            }
            Result fused = run(m, x0, dy, loras, fusedBlock);
            Result unfused = run(m, x0, dy, loras, (x, s) -> {
                NDArray qq = heads(q.forward(m, x, true).mul(s));
                NDArray kk = heads(k.forward(m, x, true));
                NDArray vv = heads(v.forward(m, x, true));
                NDArray ctx = Attention.attend(Compute.BF16, qq, kk, vv, finalBias).transpose(0, 2, 1, 3)
                        .reshape(B, T, C);
                return o.forward(m, ctx, true);
            });
            for (int i = 0; i < fused.values.size(); i++) {
                NDArray a = fused.values.get(i), r = unfused.values.get(i);
                double scale = r.abs().max().getFloat();
                double diff = a.sub(r).abs().max().getFloat();
                double same = a.sub(r).abs().lte((float) (scale / (1 << 20)))
                        .toType(ai.djl.ndarray.types.DataType.FLOAT32, false).mean().getFloat();
                System.out.printf("fused attention, tensor %d: max |Δ| = %.2e (bound %.2e), within 2⁻²⁰: %.4f%n",
                        i, diff, U * scale, same);
                assertThat(diff).as("tensor %d: max |Δ|", i).isLessThanOrEqualTo(U * scale);
                assertThat(same).as("tensor %d: share within 2⁻²⁰ of the magnitude", i).isGreaterThan(0.99);
            }
        }
    }

    private interface Block {
        NDArray apply(NDArray x, NDArray scale);
    }

    private record Result(List<NDArray> values) {
    }

    /** Output, input gradient and every LoRA factor's gradient of Σ y·dy. */
    private static Result run(NDManager m, NDArray x0, NDArray dy, List<LoraAdapter> loras, Block f) {
        NDArray x = x0.duplicate();
        x.setRequiresGradient(true);
        NDArray s = GraphConstants.scalar(m, 1f / (float) Math.sqrt(C / H));
        NDArray y;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            y = f.apply(x, s);
            gc.backward(y.mul(dy).sum());
        }
        List<NDArray> out = new java.util.ArrayList<>(List.of(y, x.getGradient().duplicate()));
        for (LoraAdapter a : loras) {
            for (NDArray factor : List.of(a.aT(), a.bT())) {
                NDArray g = factor.getGradient();
                out.add(g.duplicate());
                g.muli(0f);   // gradients accumulate: the next run starts from zero
            }
        }
        return new Result(out);
    }

    private static NDArray heads(NDArray y) {
        return y.reshape(B, T, H, C / H).transpose(0, 2, 1, 3);
    }

    private static Linear linear(NDManager m, String name, int seed) {
        NDArray bias = m.create(random(C, seed + 100, 0.1f));
        return new Linear(name, name, new DenseWeight(m, random(C * C, seed, 0.15f), C, C, "fp32"), bias);
    }

    private static float[] random(int n, long seed, float scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * scale);
        }
        return a;
    }
}
