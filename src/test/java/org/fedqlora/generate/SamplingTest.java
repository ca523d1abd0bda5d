package org.fedqlora.generate;

import org.fedqlora.UserException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The sampler against the distributions its rules define (closed forms), and the stop-string hold-back. */
class SamplingTest {
    /** Draws per frequency test; the standard error of a frequency near 0.5 is then 0.005. */
    static final int DRAWS = 10_000;
    /** Five standard errors. */
    static final double FREQUENCY_TOLERANCE = 0.025;

    /** logits whose softmax is exactly p. */
    static float[] logitsOf(double... p) {
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            l[i] = (float) Math.log(p[i]);
        }
        return l;
    }

    static double[] frequencies(Sampling s, float[] logits) {
        Sampling.Sampler sampler = s.sampler();
        double[] f = new double[logits.length];
        for (int i = 0; i < DRAWS; i++) {
            f[sampler.next(logits)] += 1.0 / DRAWS;
        }
        return f;
    }

    @Test
    void greedyTakesTheFirstLargest() {
        assertThat(Sampling.greedy().sampler().next(new float[] {1, 3, 3, 2})).isEqualTo(1);
    }

    @Test
    void temperatureOneDrawsTheSoftmax() {
        double[] f = frequencies(new Sampling(1, 1, 0, 5), logitsOf(0.5, 0.3, 0.2));

        assertThat(f[0]).isCloseTo(0.5, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
        assertThat(f[1]).isCloseTo(0.3, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
        assertThat(f[2]).isCloseTo(0.2, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
    }

    /** p ∝ exp(l / T): temperature 0.5 squares the probabilities, 0.25:0.09:0.04 → 0.658, 0.237, 0.105. */
    @Test
    void temperatureSharpensAsExpOfLogitsOverT() {
        double[] f = frequencies(new Sampling(0.5, 1, 0, 5), logitsOf(0.5, 0.3, 0.2));

        assertThat(f[0]).isCloseTo(0.25 / 0.38, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
        assertThat(f[2]).isCloseTo(0.04 / 0.38, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
    }

    /** top-p 0.6 keeps {0.5, 0.3} (0.5 alone is short of 0.6) and renormalises: 0.625, 0.375, never the third. */
    @Test
    void topPKeepsTheSmallestSetReachingP() {
        double[] f = frequencies(new Sampling(1, 0.6, 0, 5), logitsOf(0.3, 0.5, 0.2));

        assertThat(f[1]).isCloseTo(0.625, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
        assertThat(f[0]).isCloseTo(0.375, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
        assertThat(f[2]).isZero();
    }

    @Test
    void topKKeepsTheKMostLikely() {
        double[] f = frequencies(new Sampling(1, 1, 2, 5), logitsOf(0.2, 0.3, 0.5));

        assertThat(f[0]).isZero();
        assertThat(f[2]).isCloseTo(0.625, org.assertj.core.data.Offset.offset(FREQUENCY_TOLERANCE));
    }

    @Test
    void aSeedGivesTheSameDraws() {
        float[] l = logitsOf(0.25, 0.25, 0.25, 0.25);
        Sampling.Sampler a = new Sampling(1, 1, 0, 9).sampler();
        Sampling.Sampler b = new Sampling(1, 1, 0, 9).sampler();
        for (int i = 0; i < 100; i++) {
            assertThat(a.next(l)).isEqualTo(b.next(l));
        }
    }

    @Test
    void badSettingsAreRefused() {
        assertThatThrownBy(() -> new Sampling(-1, 1, 0, 1)).isInstanceOf(UserException.class).hasMessageContaining("--temperature");
        assertThatThrownBy(() -> new Sampling(1, 0, 0, 1)).isInstanceOf(UserException.class).hasMessageContaining("--top-p");
        assertThatThrownBy(() -> new Sampling(1, 1, -2, 1)).isInstanceOf(UserException.class).hasMessageContaining("--top-k");
    }

    @Test
    void streamingHoldsBackAPossibleStartOfAStopString() {
        assertThat(Generator.safeLength("hello wor", List.of("world"))).isEqualTo(6);
        assertThat(Generator.safeLength("hello", List.of("world"))).isEqualTo(5);
        assertThat(Generator.safeLength("ab\uFFFD", List.of())).isEqualTo(2);
        assertThat(Generator.firstStop("a STOP b stop", List.of("stop", "STOP"))).isEqualTo(2);
    }
}
