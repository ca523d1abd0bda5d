package org.fedqlora.quant;

import org.fedqlora.tensor.SafetensorsFile;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class NormalFloatTest {
    /** AS 241 is accurate to about 1e-16 relative; allow a few ulps. */
    private static final double QUANTILE_TOLERANCE = 1e-14;

    @Test
    void inverseNormalCdfMatchesKnownQuantiles() {
        // Prepare: (p, Φ⁻¹(p)) from tables (central, intermediate and far tail)
        double[][] known = {
                {0.5, 0.0}, {0.975, 1.959963984540054}, {0.001, -3.090232306167813},
                {0.3, -0.5244005127080407}, {0.6, 0.2533471031357998}, {1e-10, -6.361340902404056},
                {1e-20, -9.262340089798405}, {0.999999, 4.753424308817089}};

        for (double[] k : known) {
            // Execute
            double z = NormalFloat.inverseNormalCdf(k[0]);

            // Assert
            assertThat(z).as("p = %s", k[0]).isCloseTo(k[1], within(QUANTILE_TOLERANCE * Math.max(1, Math.abs(k[1]))));
        }
    }

    @Test
    void inverseNormalCdfInvertsTheCdfAcrossTheRange() {
        for (double p = 0.0005; p < 1; p += 0.0173) {
            double z = NormalFloat.inverseNormalCdf(p);
            assertThat(standardNormalCdf(z)).as("Φ(Φ⁻¹(%s))", p).isCloseTo(p, within(1e-12));
        }
    }

    @Test
    void codebooksEqualTheReferenceExactly() {
        // Prepare
        SafetensorsFile fx = QuantFixture.open();

        for (int bits = 2; bits <= 4; bits++) {
            // Execute
            float[] cb = NormalFloat.codebook(bits);

            // Assert
            float[] expected = fx.floats("codebook_nf" + bits);
            System.out.printf("nf%d codebook max |diff| = %g%n", bits, QuantFixture.maxAbsDiff(cb, expected));
            assertThat(cb).as("nf%d", bits).containsExactly(expected);
        }
    }

    @Test
    void codebookRunsFromMinusOneToOneWithAnExactZero() {
        float[] cb = NormalFloat.codebook(4);

        assertThat(cb).hasSize(16).contains(0f);
        assertThat(cb[0]).isEqualTo(-1f);
        assertThat(cb[15]).isEqualTo(1f);
        assertThat(cb).isSorted();
    }

    /** Φ(z) in double: the Taylor series of Φ(z) − 1/2 for |z| < 3, else the continued fraction of Mills' ratio. */
    private static double standardNormalCdf(double z) {
        if (Math.abs(z) < 3) {
            // Φ(z) = 1/2 + φ(z) * Σ z^(2n+1) / (1·3·5···(2n+1))
            double term = z;
            double sum = z;
            for (int n = 1; n < 200; n++) {
                term *= z * z / (2 * n + 1);
                sum += term;
            }
            return 0.5 + Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI) * sum;
        }
        // tail: continued fraction of Mills' ratio, evaluated backwards
        double x = Math.abs(z);
        double f = x;
        for (int k = 200; k >= 1; k--) {
            f = x + k / f;
        }
        double tail = Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) / f;
        return z > 0 ? 1 - tail : tail;
    }
}
