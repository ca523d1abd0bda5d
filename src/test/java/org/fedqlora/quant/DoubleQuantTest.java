package org.fedqlora.quant;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class DoubleQuantTest {
    /** float32 rounding slack of c + (q - 128) * s for absmax around 1. */
    private static final float ROUNDING_SLACK = 1e-6f;

    @Test
    void decodedAbsmaxIsWithinHalfAStepOfItsGroup() {
        // Prepare: 600 blocks = groups of 256, 256 and 88
        Random r = new Random(3);
        float[] absmax = new float[600];
        for (int i = 0; i < absmax.length; i++) {
            absmax[i] = 0.5f + r.nextFloat() * (i == 10 ? 20f : 1f);
        }

        // Execute
        DoubleQuant dq = DoubleQuant.encode(absmax);
        float[] back = dq.decode();

        // Assert
        assertThat(dq.groupScales()).hasSize(3);
        float worst = 0f;
        for (int i = 0; i < absmax.length; i++) {
            float step = dq.groupScales()[i / DoubleQuant.GROUP];
            assertThat(Math.abs(back[i] - absmax[i])).as("block %d", i).isLessThanOrEqualTo(step / 2 + ROUNDING_SLACK);
            assertThat(dq.codes()[i] & 0xFF).isBetween(1, 255);
            worst = Math.max(worst, Math.abs(back[i] - absmax[i]) / absmax[i]);
        }
        System.out.printf("double quant: worst relative absmax error %.5f%n", worst);
    }

    @Test
    void equalAbsmaxDecodeExactly() {
        float[] absmax = new float[300];
        Arrays.fill(absmax, 0.75f);

        float[] back = DoubleQuant.encode(absmax).decode();

        assertThat(back).containsExactly(absmax);
    }
}
