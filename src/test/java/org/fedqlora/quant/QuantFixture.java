package org.fedqlora.quant;

import org.fedqlora.tensor.SafetensorsFile;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Random;

/** The reference fixture quant/quant.safetensors (PyTorch, float32) and random test matrices. */
final class QuantFixture {
    static final int ROWS = 48;
    static final int COLS = 256;

    private QuantFixture() {
    }

    static SafetensorsFile open() {
        try {
            return SafetensorsFile.open(Path.of(QuantFixture.class.getResource("/quant/quant.safetensors").toURI()));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) r.nextGaussian();
        }
        return w;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        float m = 0f;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** ‖a − b‖ / ‖a‖ (Frobenius), in double. */
    static double relativeError(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) a[i] * a[i];
        }
        return Math.sqrt(num / den);
    }
}
