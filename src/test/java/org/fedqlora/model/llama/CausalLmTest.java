package org.fedqlora.model.llama;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link CausalLm#loss} against the closed form in double: mean over scored positions of −log softmax(z_t)[y_{t+1}],
 * and its gradient (softmax(z_t) − onehot(y_{t+1})) / n at scored positions, 0 elsewhere (the last position of a
 * row and every position whose next label is {@link CausalLm#IGNORE}). Tolerance 1e-6: float32 log-softmax over 5
 * classes of magnitudes ≤ 3.
 */
class CausalLmTest {
    private static final int B = 2, T = 4, V = 5;

    @Test
    void lossAndGradientMatchTheClosedFormWithIgnoredLabels() {
        Random rnd = new Random(11);
        float[] z = new float[B * T * V];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) (rnd.nextGaussian() * 1.5);
        }
        long[] labels = {1, 3, CausalLm.IGNORE, 4,      // row 0: position 1 predicts 3, position 2 ignored, 3 predicts 4
                         0, CausalLm.IGNORE, 2, 2};     // row 1: position 0 ignored
        double sum = 0;
        int n = 0;
        double[] grad = new double[z.length];
        boolean[] scored = new boolean[B * T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t + 1 < T; t++) {
                long y = labels[b * T + t + 1];
                if (y == CausalLm.IGNORE) {
                    continue;
                }
                scored[b * T + t] = true;
                n++;
                sum -= logSoftmax(z, b * T + t)[(int) y];
            }
        }
        for (int p = 0; p < B * T; p++) {
            if (scored[p]) {
                double[] ls = logSoftmax(z, p);
                long y = labels[p + 1];
                for (int c = 0; c < V; c++) {
                    grad[p * V + c] = (Math.exp(ls[c]) - (c == y ? 1 : 0)) / n;
                }
            }
        }
        try (NDManager m = Engines.newManager()) {
            NDArray logits = m.create(z, new Shape(B, T, V));
            logits.setRequiresGradient(true);
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                loss = CausalLm.loss(logits, m.create(labels, new Shape(B, T)));
                gc.backward(loss);
            }
            assertThat(loss.getFloat()).isCloseTo((float) (sum / n), within(1e-6f));
            float[] g = logits.getGradient().toFloatArray();
            for (int i = 0; i < g.length; i++) {
                assertThat((double) g[i]).as("dloss/dlogit[%d]", i).isCloseTo(grad[i], within(1e-6));
            }
        }
    }

    @Test
    void everyLabelIgnoredGivesZero() {
        try (NDManager m = Engines.newManager()) {
            long[] labels = new long[B * T];
            java.util.Arrays.fill(labels, CausalLm.IGNORE);
            labels[0] = 2;                                   // the first label is never predicted
            NDArray loss = CausalLm.loss(m.randomNormal(new Shape(B, T, V)), m.create(labels, new Shape(B, T)));
            assertThat(loss.getFloat()).isZero();
        }
    }

    private static double[] logSoftmax(float[] z, int position) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < V; c++) {
            max = Math.max(max, z[position * V + c]);
        }
        double s = 0;
        for (int c = 0; c < V; c++) {
            s += Math.exp(z[position * V + c] - max);
        }
        double[] out = new double[V];
        for (int c = 0; c < V; c++) {
            out[c] = z[position * V + c] - max - Math.log(s);
        }
        return out;
    }
}
