package org.fedqlora.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/** Both routes of {@link Gemm#linear} against {@code x.matMul(Wᵀ) + b}, forward and input gradient. */
class GemmTest {
    /** Max |difference| relative to the reference's largest magnitude: float32 sums in another order. */
    static final double RELATIVE_TOLERANCE = 1e-5;

    @ParameterizedTest(name = "({0}, {1}, {2}) -> {3}, {4} thread(s)")
    @CsvSource({
            "16, 128, 384, 1536, 2",   // oneDNN, batch of one
            "16, 128, 1536, 384, 1",   // oneDNN, batch of 16
            "1, 2048, 384, 384, 2",    // oneDNN
            "2, 9, 32, 48, 2",         // linear: small
            "3, 2100, 384, 8, 1"})     // linear: one thread, rows not a multiple of 16
    void matchesMatMulForwardAndInputGradient(int b, int t, int in, int out, int threads) {
        Engines.get();
        int saved = JniUtils.getNumThreads();
        try (NDManager root = Engines.newManager(); NDManager weights = root.newSubManager();
             NDManager step = root.newSubManager()) {
            JniUtils.setNumThreads(threads);
            Engine.getInstance().setRandomSeed(5);
            NDArray w = weights.randomNormal(new Shape(out, in));
            NDArray bias = weights.randomNormal(new Shape(out));
            NDArray x = step.randomNormal(new Shape(b, t, in));
            NDArray upstream = step.randomNormal(new Shape(b, t, out));
            NDArray wT = w.transpose(1, 0);
            wT.attach(step);
            int weightArrays = weights.getManagedArrays().size();

            float[][] fast = forwardAndGradient(x, upstream, xx -> Gemm.linear(xx, w, bias));
            float[][] ref = forwardAndGradient(x, upstream, xx -> xx.matMul(wT).add(bias));

            assertThat(Fixtures.maxAbsDiff("y", fast[0], ref[0]) / Fixtures.maxAbs(ref[0])).isLessThan(RELATIVE_TOLERANCE);
            assertThat(Fixtures.maxAbsDiff("dx", fast[1], ref[1]) / Fixtures.maxAbs(ref[1])).isLessThan(RELATIVE_TOLERANCE);
            assertThat(weights.getManagedArrays()).as("nothing lands in the weight's manager").hasSize(weightArrays);
        } finally {
            JniUtils.setNumThreads(saved);
        }
    }

    @Test
    void routeDependsOnSizeAndThreads() {
        Engines.get();
        int saved = JniUtils.getNumThreads();
        try {
            JniUtils.setNumThreads(2);
            assertThat(Gemm.convBatch(2048, 384, 1536)).isEqualTo(1);
            assertThat(Gemm.convBatch(64, 384, 384)).isZero();
            JniUtils.setNumThreads(1);
            assertThat(Gemm.convBatch(2048, 384, 1536)).isEqualTo(16);
            assertThat(Gemm.convBatch(2047, 384, 1536)).isZero();
        } finally {
            JniUtils.setNumThreads(saved);
        }
    }

    /** y and dL/dx for L = Σ y·upstream. */
    private static float[][] forwardAndGradient(NDArray x0, NDArray upstream, UnaryOperator<NDArray> f) {
        NDArray x = x0.duplicate();
        x.setRequiresGradient(true);
        NDArray y;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            y = f.apply(x);
            gc.backward(y.mul(upstream).sum());
        }
        try (NDArray g = x.getGradient()) {
            return new float[][] {y.toFloatArray(), g.toFloatArray()};
        }
    }
}
