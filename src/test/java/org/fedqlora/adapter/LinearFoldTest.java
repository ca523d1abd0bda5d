package org.fedqlora.adapter;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.fedqlora.engine.HostArrays;
import org.fedqlora.nn.Compute;
import org.fedqlora.nn.DenseWeight;
import org.fedqlora.nn.Linear;
import org.fedqlora.quant.PackedWeight;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.Quantizer;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Linear#fold}: W + Σ ΔW in one product must give the outputs (and, for the adapters left unfolded, the
 * gradients) of the base product plus each adapter's own, and unfolding must restore the unfolded computation
 * exactly.
 */
class LinearFoldTest {
    /**
     * Max |difference| relative to the reference's largest magnitude. Folding changes only the order of float32
     * sums (x·W + x·(L·R) against x·(W + L·R)) over in = 96 terms: a few ulps of 2^-24 each, far below 1e-5.
     */
    static final double RELATIVE_TOLERANCE = 1e-5;
    static final int IN = 96;
    static final int OUT = 80;

    @Test
    void foldedForwardMatchesBasePlusAdaptersAndUnfoldRestoresIt() {
        Engines.get();
        try (NDManager root = Engines.newManager(); NDManager step = Engines.newManager()) {
            Linear l = linear(root);
            NDArray x = step.randomNormal(new Shape(2, 50, IN));
            float[] unfolded = l.forward(step, x, false).toFloatArray();
            int managed = root.getManagedArrays().size();

            assertThat(l.fold(a -> true, root)).isTrue();
            assertThat(l.isFolded()).isTrue();
            float[] folded = l.forward(step, x, false).toFloatArray();
            assertThat(Fixtures.maxAbsDiff("y", folded, unfolded) / Fixtures.maxAbs(unfolded))
                    .isLessThan(RELATIVE_TOLERANCE);
            assertThat(Fixtures.maxAbsDiff("y", folded, unfolded)).as("the adapters matter: not a vacuous check")
                    .isGreaterThan(0);

            l.unfold();
            assertThat(l.isFolded()).isFalse();
            assertThat(l.forward(step, x, false).toFloatArray()).isEqualTo(unfolded);
            assertThat(root.getManagedArrays()).as("unfold frees the folded weight").hasSize(managed);
        }
    }

    @Test
    void adaptersMatter() {
        Engines.get();
        try (NDManager root = Engines.newManager(); NDManager step = root.newSubManager()) {
            Linear l = linear(root);
            NDArray x = step.randomNormal(new Shape(3, IN));
            float[] with = l.forward(step, x, false).toFloatArray();
            List.copyOf(l.adapters()).forEach(l::removeAdapter);
            float[] bare = l.forward(step, x, false).toFloatArray();
            assertThat(Fixtures.maxAbsDiff("adapters' part", with, bare) / Fixtures.maxAbs(bare))
                    .as("QA + LoRA change the output by far more than the tolerance").isGreaterThan(1e-2);
        }
    }

    @Test
    void foldingTheFrozenQaAdapterKeepsLoraGradients() {
        Engines.get();
        try (NDManager root = Engines.newManager(); NDManager step = root.newSubManager()) {
            Linear l = linear(root);
            LoraAdapter lora = (LoraAdapter) l.adapters().stream().filter(a -> a.kind().equals("lora")).findFirst()
                    .orElseThrow();
            NDArray x = step.randomNormal(new Shape(4, 30, IN));
            NDArray upstream = step.randomNormal(new Shape(4, 30, OUT));

            float[][] unfolded = loraGradients(l, lora, x, upstream, step);
            assertThat(l.fold(a -> a.kind().equals("qa"), root)).isTrue();
            float[][] folded = loraGradients(l, lora, x, upstream, step);
            l.unfold();

            for (int i = 0; i < 2; i++) {
                assertThat(Fixtures.maxAbsDiff("grad " + i, folded[i], unfolded[i]) / Fixtures.maxAbs(unfolded[i]))
                        .isLessThan(RELATIVE_TOLERANCE);
            }
            assertThat(Fixtures.maxAbs(unfolded[0])).as("A's gradient is not zero (B is not zero)").isGreaterThan(0);
        }
    }

    @Test
    void foldIsUndoneWhenAdaptersChangeAndSkipsPackedBases() {
        Engines.get();
        try (NDManager root = Engines.newManager(); NDManager step = root.newSubManager()) {
            Linear l = linear(root);
            l.fold(a -> true, root);
            LoraAdapter extra = LoraAdapter.init(root, "extra", IN, OUT, new LoraConfig(2, 4, 0, List.of("all")), 3);
            l.addAdapter(extra);
            assertThat(l.isFolded()).as("a new adapter unfolds").isFalse();
            l.fold(a -> true, root);
            l.removeAdapter(extra);
            assertThat(l.isFolded()).as("removing an adapter unfolds").isFalse();

            float[] w = random(OUT * IN, 9);
            PackedWeight packed = new PackedWeight(Quantizer.quantize("w", w, OUT, IN,
                    new QuantSpec(QuantFormat.NF4, 16, false)), root);
            Linear p = new Linear("p", "query", packed, null);
            p.addAdapter(qa(root));
            assertThat(p.fold(a -> true, root)).as("a packed base keeps its true size: not folded").isFalse();
            assertThat(p.isFolded()).isFalse();
        }
    }

    @Test
    void trainingNeverFoldsAnAdapterWithDropout() {
        Engines.get();
        try (NDManager root = Engines.newManager()) {
            Linear l = new Linear("layer", "query", new DenseWeight(root, random(OUT * IN, 1), OUT, IN, "fp32"), null);
            AdapterSet set = AdapterSet.create(root, List.of(l), new LoraConfig(8, 16, 0.5f, List.of("query")), 7);
            set.putQa("layer", random(OUT * 4, 3), random(4 * IN, 4), 4);
            LoraAdapter lora = set.loras().get("layer");
            HostArrays.write(lora.bT(), random(8 * OUT, 6));              // B ≠ 0, so dropout shows in the output
            set.attach();
            NDArray x = root.randomNormal(new Shape(2, IN));

            assertThat(set.foldFrozen(List.of())).as("nothing trains: the QA adapter folds").isTrue();
            float[] a = l.forward(root, x, true).toFloatArray();
            float[] b = l.forward(root, x, true).toFloatArray();
            assertThat(a).as("the LoRA with dropout stayed separate: two training passes differ").isNotEqualTo(b);
            set.unfold();

            assertThat(set.fold(x1 -> true)).isTrue();                   // evaluation folds everything
            assertThat(l.forward(root, x, true).toFloatArray()).as("folded: dropout gone")
                    .isEqualTo(l.forward(root, x, true).toFloatArray());
            set.close();
        }
    }

    @Test
    void foldsAtBf16Too() {
        Engines.get();
        try (NDManager root = Engines.newManager(); NDManager step = root.newSubManager()) {
            Linear l = linear(root);
            l.setCompute(Compute.BF16);
            NDArray x = step.randomNormal(new Shape(8, IN));
            float[] unfolded = l.forward(step, x, false).toFloatArray();
            l.fold(a -> true, root);
            float[] folded = l.forward(step, x, false).toFloatArray();
            // bf16 keeps 8 significant bits: each rounding of an input or weight is off by at most 2^-9
            // relative; over 96 products of random signs the errors grow like √96, relative to the largest output
            // a few times 2^-9. 2^-5 bounds it with room.
            assertThat(Fixtures.maxAbsDiff("y", folded, unfolded) / Fixtures.maxAbs(unfolded))
                    .isLessThan(Math.pow(2, -5));
        }
    }

    /** A dense base with a QA adapter (rank 4) and a LoRA (rank 8, B not zero), as FedQLoRA's clients have. */
    private static Linear linear(NDManager m) {
        Linear l = new Linear("layer", "query", new DenseWeight(m, random(OUT * IN, 1), OUT, IN, "fp32"),
                m.create(random(OUT, 2)));
        l.addAdapter(qa(m));
        l.addAdapter(LoraAdapter.of(m, "layer", scaled(random(8 * IN, 5), 0.3f), scaled(random(OUT * 8, 6), 0.3f),
                IN, OUT, new LoraConfig(8, 16, 0, List.of("query"))));
        return l;
    }

    private static QaAdapter qa(NDManager m) {
        return QaAdapter.of(m, "layer", scaled(random(OUT * 4, 3), 0.3f), scaled(random(4 * IN, 4), 0.3f), OUT, IN, 4);
    }

    /** dL/dA and dL/dB of the LoRA for L = Σ y·upstream. */
    private static float[][] loraGradients(Linear l, LoraAdapter lora, NDArray x, NDArray upstream, NDManager step) {
        for (NDArray p : List.of(lora.aT(), lora.bT())) {
            p.setRequiresGradient(true);
        }
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.zeroGradients();                                   // gradients accumulate across collectors
            gc.backward(l.forward(step, x, true).mul(upstream).sum());
        }
        float[][] g = {lora.aT().getGradient().toFloatArray(), lora.bT().getGradient().toFloatArray()};
        for (NDArray p : List.of(lora.aT(), lora.bT())) {
            p.setRequiresGradient(false);
        }
        return g;
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    private static float[] scaled(float[] v, float s) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= s;
        }
        return v;
    }
}
