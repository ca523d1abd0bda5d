package org.fedqlora.quant;

import org.fedqlora.linalg.Matrices;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The QA adapter of FedQLoRA: L·R fits W − Q(W); it never increases the error; LoftQ is never worse than svd. */
class QaInitTest {
    /** L·R against the PyTorch truncated SVD of the quantization error. */
    static final double QA_PRODUCT_TOLERANCE = 1e-4;

    @Test
    void svdAdapterProductMatchesTheReferenceRank8ErrorApproximation() {
        SafetensorsFile f = SafetensorsFile.open(Fixtures.resource("quant/quant.safetensors"));
        float[] w = f.get("w").toFloats();
        for (String fmt : new String[] {"nf2", "nf4"}) {
            QaInit.Result r = QaInit.quantize("w", w, 48, 256, QuantSpec.of(QuantFormat.parse(fmt)),
                    new QaSpec(8, QaSpec.Method.SVD, 1));

            double diff = Fixtures.maxAbsDiff(fmt + " L·R vs " + fmt + "_error_rank8", r.qa().product(),
                    f.get(fmt + "_error_rank8").toFloats());
            assertThat(diff).isLessThan(QA_PRODUCT_TOLERANCE);
        }
    }

    @ParameterizedTest
    @EnumSource(value = QuantFormat.class, names = {"NF2", "NF3", "NF4", "INT2", "INT4", "INT8", "BF16"})
    void qaAdapterNeverIncreasesTheErrorAndLoftqIsNeverWorseThanSvd(QuantFormat format) {
        float[] w = gaussian(96, 128, 7);
        QuantSpec spec = QuantSpec.of(format);

        QaInit.Result svd = QaInit.quantize("w", w, 96, 128, spec, new QaSpec(8, QaSpec.Method.SVD, 1));
        QaInit.Result loftq = QaInit.quantize("w", w, 96, 128, spec, new QaSpec(8, QaSpec.Method.LOFTQ, 4));

        assertThat(svd.relativeErrorWithQa()).isLessThanOrEqualTo(svd.relativeError());
        assertThat(loftq.relativeErrorWithQa()).isLessThanOrEqualTo(svd.relativeErrorWithQa());
        // the reported error is the true error of Q(W) + L·R
        float[] approx = Matrices.subtract(w, loftq.base().dequantize());
        double direct = Matrices.frobeniusNorm(Matrices.subtract(approx, loftq.qa().product())) / Matrices.frobeniusNorm(w);
        assertThat(direct).isCloseTo(loftq.relativeErrorWithQa(), org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void loftqActuallyImprovesOnSvdForTwoBits() {
        float[] w = gaussian(128, 128, 3);
        QuantSpec spec = QuantSpec.of(QuantFormat.NF2);

        double svd = QaInit.quantize("w", w, 128, 128, spec, new QaSpec(16, QaSpec.Method.SVD, 1)).relativeErrorWithQa();
        double loftq = QaInit.quantize("w", w, 128, 128, spec, new QaSpec(16, QaSpec.Method.LOFTQ, 5)).relativeErrorWithQa();

        System.out.printf("nf2 rank 16: svd %.4f, loftq %.4f%n", svd, loftq);
        assertThat(loftq).isLessThan(svd);
    }

    @Test
    void rankLargerThanTheMatrixAllowsIsAClearError() {
        float[] w = gaussian(8, 64, 1);

        assertThatThrownBy(() -> QaInit.quantize("layer.q", w, 8, 64, QuantSpec.of(QuantFormat.NF4),
                new QaSpec(9, QaSpec.Method.SVD, 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("larger than min(out, in) = 8").hasMessageContaining("layer.q");
    }

    static float[] gaussian(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        return w;
    }
}
