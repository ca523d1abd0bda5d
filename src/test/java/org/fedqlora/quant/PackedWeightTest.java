package org.fedqlora.quant;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.fedqlora.nn.Compute;
import org.fedqlora.nn.DenseWeight;
import org.fedqlora.nn.Linear;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A packed weight (unpacked inside the product's native call) against the same weight dequantized by the scalar
 * codec and held dense: forward and input gradient, every format, both compute precisions, both fp32 routes.
 */
class PackedWeightTest {
    /**
     * Packed and dequantized run the same float32 operations in the same order (the decode as the scalar codec,
     * then the same product kernel on the same W), so they agree exactly.
     */
    private static final float PACKED_TOLERANCE = 0f;

    /** Every quantized format, NF also double-quantized. */
    private static List<QuantSpec> specs(int groupSize) {
        List<QuantSpec> specs = new ArrayList<>();
        for (QuantFormat f : QuantFormat.values()) {
            if (f.isQuantized()) {
                specs.add(new QuantSpec(f, groupSize, false));
                if (f.family() == QuantFormat.Family.NORMAL_FLOAT) {
                    specs.add(new QuantSpec(f, groupSize, true));
                }
            }
        }
        return specs;
    }

    @ParameterizedTest(name = "({0}, {1}) block {2}")
    @CsvSource({
            "48, 256, 64",   // the default block, 8-bit aligned everywhere
            "7, 15, 5",      // a row of 15 codes: rows and blocks start mid-byte for every k but 8
            "5, 9, 3",       // 3-bit blocks of 9 bits; 45 codes: the last byte (and 3-byte word) is partial
            "3, 11, 11",     // one block per row, odd length
            "2, 6, 1"})      // blocks of one weight
    void dequantizesLikeTheScalarCodec(int rows, int cols, int g) {
        float[] w = QuantFixture.gaussian(rows * cols, 3);
        try (NDManager m = Engines.newManager()) {
            for (QuantSpec spec : specs(g)) {
                QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, spec);
                PackedWeight p = new PackedWeight(q, m);

                float[] engine;
                try (NDManager step = m.newSubManager()) {
                    NDArray a = p.weight(step);
                    assertThat(a.getShape()).isEqualTo(new Shape(rows, cols));
                    engine = a.toFloatArray();
                }

                float diff = QuantFixture.maxAbsDiff(engine, q.dequantize());
                System.out.printf("%s: packed vs scalar max |diff| %g%n", q, diff);
                assertThat(diff).as(q.toString()).isLessThanOrEqualTo(PACKED_TOLERANCE);
                p.close();
            }
        }
    }

    @ParameterizedTest(name = "x ({0}, {1}) -> {2}, block {3}, bias {4}")
    @CsvSource({
            "3, 48, 24, 8, true",        // torch.linear route, bias
            "2, 15, 7, 5, false",        // torch.linear route, odd shapes
            "256, 256, 256, 64, true"})  // 1x1-convolution (oneDNN) route: 2^24 multiply-adds (GemmTest: routes)
    void productAndInputGradientEqualTheDequantizedWeights(int rows, int in, int out, int g, boolean withBias) {
        Engines.get();
        float[] w = QuantFixture.gaussian(out * in, 5);
        try (NDManager m = Engines.newManager()) {
            Engine.getInstance().setRandomSeed(9);
            NDArray x = m.randomNormal(new Shape(rows, in));
            NDArray upstream = m.randomNormal(new Shape(rows, out));
            NDArray bias = withBias ? m.randomNormal(new Shape(out)) : null;
            for (QuantSpec spec : specs(g)) {
                QuantizedTensor q = Quantizer.quantize("w", w, out, in, spec);
                PackedWeight packed = new PackedWeight(q, m);
                DenseWeight dense = new DenseWeight(m, q.dequantize(), out, in, spec.format().id());
                for (Compute c : Compute.values()) {
                    float[][] a = forwardAndGradient(new Linear("l", "query", packed, bias), c, x, upstream);
                    float[][] b = forwardAndGradient(new Linear("l", "query", dense, bias), c, x, upstream);

                    String what = q + " " + c.id();
                    float dy = QuantFixture.maxAbsDiff(a[0], b[0]);
                    float dx = QuantFixture.maxAbsDiff(a[1], b[1]);
                    System.out.printf("%s: y max |diff| %g, dx max |diff| %g%n", what, dy, dx);
                    assertThat(dy).as(what + " y").isLessThanOrEqualTo(PACKED_TOLERANCE);
                    assertThat(dx).as(what + " dx").isLessThanOrEqualTo(PACKED_TOLERANCE);
                }
                packed.close();
                dense.close();
            }
        }
    }

    @Test
    void packedOperandsGetNoGradientAndStepArraysStayInTheStep() {
        Engines.get();
        float[] w = QuantFixture.gaussian(24 * 48, 7);
        QuantizedTensor q = Quantizer.quantize("w", w, 24, 48, new QuantSpec(QuantFormat.NF3, 8, false));
        try (NDManager owner = Engines.newManager()) {
            PackedWeight p = new PackedWeight(q, owner);
            List<NDArray> resident = List.copyOf(owner.getManagedArrays());
            try (NDManager step = owner.newSubManager()) {
                NDArray x = step.randomNormal(new Shape(4, 48));
                x.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = new Linear("l", "query", p, null).forward(step, x, true);
                    gc.backward(y.sum());
                }
                try (NDArray g = x.getGradient()) {
                    assertThat(g.abs().sum().getFloat()).as("the input gets a gradient").isPositive();
                }
            }
            for (NDArray a : resident) {
                assertThat(a.hasGradient()).as("packed operand " + a.getShape()).isFalse();
            }
            assertThat(owner.getManagedArrays()).as("nothing lands in the owner's manager")
                    .containsExactlyInAnyOrderElementsOf(resident);
        }
    }

    @Test
    void theEngineViewsTheTensorsOwnCodesWithoutACopy() {
        float[] w = QuantFixture.gaussian(4 * 16, 11);
        QuantizedTensor q = Quantizer.quantize("w", w, 4, 16, new QuantSpec(QuantFormat.NF4, 16, false));
        try (NDManager m = Engines.newManager()) {
            PackedWeight p = new PackedWeight(q, m);
            float before = p.weight(m).getFloat(0, 0);

            q.nativeData(1).put(0, (byte) ((q.codes()[0] + 1) % 16));   // change element (0, 0)'s code in place

            assertThat(p.weight(m).getFloat(0, 0)).as("the engine sees the write: one copy of the codes")
                    .isNotEqualTo(before).isEqualTo(q.dequantize()[0]);
        }
    }

    /** y and dL/dx for L = Σ y·upstream. */
    private static float[][] forwardAndGradient(Linear l, Compute c, NDArray x0, NDArray upstream) {
        l.setCompute(c);
        try (NDManager step = x0.getManager().newSubManager()) {
            NDArray x = x0.duplicate();
            x.attach(step);
            x.setRequiresGradient(true);
            NDArray y;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                y = l.forward(step, x, true);
                gc.backward(y.mul(upstream).sum());
            }
            try (NDArray g = x.getGradient()) {
                return new float[][] {y.toFloatArray(), g.toFloatArray()};
            }
        }
    }
}
