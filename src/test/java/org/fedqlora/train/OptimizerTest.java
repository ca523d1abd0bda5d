package org.fedqlora.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.fedqlora.engine.Engines;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The optimizers against the update rules of their javadoc, computed by hand in double precision. */
class OptimizerTest {
    /** float32 state against double: a few ulps of values near 1. */
    static final double TOLERANCE = 1e-6;
    private static final float LR = 0.1f;
    private static final float WEIGHT_DECAY = 0.01f;
    private static final float MAX_NORM = 1f;

    @Test
    void adamwFollowsDecoupledBiasCorrectedUpdateWithClipping() {
        double[] p0 = {0.5, -1.0, 2.0, 0.0};
        double[][] grads = {{3, -4, 0, 1}, {0.1, 0.2, -0.3, 0.05}, {-2, 0, 1, 1}};
        try (NDManager root = Engines.newManager(); NDManager params = root.newSubManager();
             Optimizer opt = new Optimizer(Optimizer.Kind.ADAMW, WEIGHT_DECAY, 0f, root)) {
            NDArray p = params.create(toFloats(p0));
            p.setRequiresGradient(true);
            for (double[] g : grads) {
                try (NDManager step = root.newSubManager()) {
                    NDArray c = step.create(toFloats(g));
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        gc.backward(c.mul(p).sum());                     // dL/dp = g
                    }
                    opt.step(List.of(p), LR, MAX_NORM, step);
                }
            }

            double[] expected = adamwByHand(p0, grads);
            assertThat(Fixtures.maxAbsDiff("adamw", p.toFloatArray(), toFloats(expected))).isLessThan(TOLERANCE);
        }
    }

    /** m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m̂ / (√v̂ + ε) + wd·p), g clipped to norm 1. */
    private static double[] adamwByHand(double[] p0, double[][] grads) {
        double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double[] p = p0.clone();
        double[] m = new double[p.length];
        double[] v = new double[p.length];
        for (int t = 1; t <= grads.length; t++) {
            double norm = 0;
            for (double g : grads[t - 1]) {
                norm += g * g;
            }
            norm = Math.sqrt(norm);
            double clip = norm > MAX_NORM ? MAX_NORM / (norm + 1e-6) : 1;
            for (int i = 0; i < p.length; i++) {
                double g = grads[t - 1][i] * clip;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mHat = m[i] / (1 - Math.pow(b1, t));
                double vHat = v[i] / (1 - Math.pow(b2, t));
                p[i] -= LR * (mHat / (Math.sqrt(vHat) + eps) + WEIGHT_DECAY * p[i]);
            }
        }
        return p;
    }

    private static float[] toFloats(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }
}
