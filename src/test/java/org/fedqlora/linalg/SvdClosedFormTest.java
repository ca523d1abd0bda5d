package org.fedqlora.linalg;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

/** Truncated SVD against matrices built as U diag(s) Vᵀ with known factors, and edge cases. */
class SvdClosedFormTest {
    /** Relative tolerance on singular values (inputs are rounded to float). */
    private static final double MAX_SINGULAR_VALUE_RELATIVE_ERROR = 1e-5;
    /** Max |UᵀU − I| and |V Vᵀ − I| (outputs are float). */
    private static final double MAX_ORTHONORMALITY_ERROR = 1e-5;
    /** Tolerance on the rank-k residual norm, relative to σ_1. */
    private static final double MAX_RESIDUAL_ERROR = 1e-5;
    /** Max |A − U S Vᵀ| at full rank, relative to max |A|. */
    private static final double MAX_RECONSTRUCTION_ERROR = 1e-5;

    /** s_i = 10·0.8^i: distinct, spanning two decades. */
    private static double[] knownSingularValues(int k) {
        double[] s = new double[k];
        for (int i = 0; i < k; i++) {
            s[i] = 10.0 * Math.pow(0.8, i);
        }
        return s;
    }

    /** (n, k) with orthonormal columns: Gram–Schmidt (twice) on Gaussian columns, row-major. */
    static double[] randomOrthonormal(int n, int k, Random random) {
        double[][] cols = new double[k][n];
        for (int i = 0; i < k; i++) {
            for (int t = 0; t < n; t++) {
                cols[i][t] = random.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int j = 0; j < i; j++) {
                    double c = 0;
                    for (int t = 0; t < n; t++) {
                        c += cols[j][t] * cols[i][t];
                    }
                    for (int t = 0; t < n; t++) {
                        cols[i][t] -= c * cols[j][t];
                    }
                }
            }
            double len = 0;
            for (int t = 0; t < n; t++) {
                len += cols[i][t] * cols[i][t];
            }
            for (int t = 0; t < n; t++) {
                cols[i][t] /= Math.sqrt(len);
            }
        }
        double[] m = new double[n * k];
        for (int i = 0; i < k; i++) {
            for (int t = 0; t < n; t++) {
                m[t * k + i] = cols[i][t];
            }
        }
        return m;
    }

    /** A = U diag(s) Vᵀ as float, for U (rows, k), V (cols, k). */
    private static float[] compose(double[] u, double[] s, double[] v, int rows, int cols) {
        int k = s.length;
        float[] a = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    sum += u[i * k + p] * s[p] * v[j * k + p];
                }
                a[i * cols + j] = (float) sum;
            }
        }
        return a;
    }

    private static float[] randomMatrix(int rows, int cols, long seed) {
        Random random = new Random(seed);
        float[] a = new float[rows * cols];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return a;
    }

    /** max |Mᵀ M − I| for M (n, k) row-major. */
    private static double orthonormalityError(float[] m, int n, int k) {
        float[] gram = Matrices.matmul(Matrices.transpose(m, n, k), m, k, n, k);
        double max = 0;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                max = Math.max(max, Math.abs(gram[i * k + j] - (i == j ? 1.0 : 0.0)));
            }
        }
        return max;
    }

    private static boolean allFinite(float[] m) {
        for (float x : m) {
            if (!Float.isFinite(x)) {
                return false;
            }
        }
        return true;
    }

    private static float[] reconstruct(Svd.Truncated t) {
        float[] us = t.u().clone();
        for (int i = 0; i < t.rows(); i++) {
            for (int p = 0; p < t.rank(); p++) {
                us[i * t.rank() + p] *= t.s()[p];
            }
        }
        return Matrices.matmul(us, t.vt(), t.rows(), t.rank(), t.cols());
    }

    @ParameterizedTest(name = "{0}x{1} rank {2}")
    @CsvSource({"60, 40, 7", "40, 60, 7", "200, 30, 12", "30, 200, 12", "25, 25, 25"})
    void recoversKnownSingularValuesAndOrthonormalFactors(int rows, int cols, int rank) {
        // Prepare
        int k = Math.min(rows, cols);
        Random random = new Random(rows * 1000L + cols);
        double[] s = knownSingularValues(k);
        float[] a = compose(randomOrthonormal(rows, k, random), s, randomOrthonormal(cols, k, random), rows, cols);

        // Execute
        Svd.Truncated t = Svd.truncated(a, rows, cols, rank);

        // Assert
        double maxRelative = 0;
        for (int i = 0; i < rank; i++) {
            maxRelative = Math.max(maxRelative, Math.abs(t.s()[i] - s[i]) / s[i]);
        }
        double uError = orthonormalityError(t.u(), rows, rank);
        double vError = orthonormalityError(Matrices.transpose(t.vt(), rank, cols), cols, rank);
        System.out.printf("%dx%d rank %d: max relative σ error %.3g, |UᵀU-I| %.3g, |VᵀV-I| %.3g%n", rows, cols, rank,
                maxRelative, uError, vError);
        assertThat(maxRelative).isLessThan(MAX_SINGULAR_VALUE_RELATIVE_ERROR);
        assertThat(uError).isLessThan(MAX_ORTHONORMALITY_ERROR);
        assertThat(vError).isLessThan(MAX_ORTHONORMALITY_ERROR);
    }

    @ParameterizedTest(name = "{0}x{1} rank {2}")
    @CsvSource({"60, 40, 1", "60, 40, 10", "40, 60, 10", "40, 60, 39"})
    void residualOfRankKIsTheNormOfDiscardedSingularValues(int rows, int cols, int rank) {
        // Prepare
        int k = Math.min(rows, cols);
        Random random = new Random(7 + rank);
        double[] s = knownSingularValues(k);
        float[] a = compose(randomOrthonormal(rows, k, random), s, randomOrthonormal(cols, k, random), rows, cols);
        double discarded = 0;
        for (int i = rank; i < k; i++) {
            discarded += s[i] * s[i];
        }

        // Execute
        float[] product = Svd.lowRank(a, rows, cols, rank).product();

        // Assert (Eckart–Young)
        double residual = Matrices.frobeniusNorm(Matrices.subtract(a, product));
        double error = Math.abs(residual - Math.sqrt(discarded)) / s[0];
        System.out.printf("%dx%d rank %d: residual %.6g, sqrt(Σ discarded s²) %.6g, relative diff %.3g%n", rows, cols,
                rank, residual, Math.sqrt(discarded), error);
        assertThat(error).isLessThan(MAX_RESIDUAL_ERROR);
    }

    @ParameterizedTest(name = "{0}x{1}")
    @CsvSource({"20, 7", "7, 20", "1, 9", "9, 1", "1, 1"})
    void fullRankProductEqualsInput(int rows, int cols) {
        // Prepare
        float[] a = randomMatrix(rows, cols, 11);
        int rank = Math.min(rows, cols);

        // Execute
        float[] lr = Svd.lowRank(a, rows, cols, rank).product();
        float[] usv = reconstruct(Svd.truncated(a, rows, cols, rank));

        // Assert
        double scale = Matrices.maxAbsDifference(a, new float[a.length]);
        double lrError = Matrices.maxAbsDifference(lr, a) / scale;
        double usvError = Matrices.maxAbsDifference(usv, a) / scale;
        System.out.printf("%dx%d full rank: relative max |A - LR| %.3g, |A - USVt| %.3g%n", rows, cols, lrError,
                usvError);
        assertThat(lrError).isLessThan(MAX_RECONSTRUCTION_ERROR);
        assertThat(usvError).isLessThan(MAX_RECONSTRUCTION_ERROR);
    }

    @ParameterizedTest(name = "{0}x{1}")
    @CsvSource({"12, 8", "8, 12"})
    void rankDeficientInputGivesZeroSingularValuesAndOrthonormalFactorsWithoutNaN(int rows, int cols) {
        // Prepare: an exact rank-2 matrix, asked for rank 6
        Random random = new Random(3);
        float[] a = compose(randomOrthonormal(rows, 2, random), new double[] {3.0, 1.0},
                randomOrthonormal(cols, 2, random), rows, cols);

        // Execute
        Svd.Truncated t = Svd.truncated(a, rows, cols, 6);
        float[] product = Svd.lowRank(a, rows, cols, 6).product();

        // Assert
        assertThat(allFinite(t.u()) && allFinite(t.vt()) && allFinite(product)).isTrue();
        assertThat(t.s()[0]).isCloseTo(3.0f, offset(1e-5f));
        assertThat(t.s()[1]).isCloseTo(1.0f, offset(1e-5f));
        for (int i = 2; i < 6; i++) {
            assertThat(t.s()[i]).isLessThan(1e-5f);
        }
        assertThat(orthonormalityError(t.u(), rows, 6)).isLessThan(MAX_ORTHONORMALITY_ERROR);
        assertThat(orthonormalityError(Matrices.transpose(t.vt(), 6, cols), cols, 6))
                .isLessThan(MAX_ORTHONORMALITY_ERROR);
        assertThat(Matrices.maxAbsDifference(product, a)).isLessThan(MAX_RECONSTRUCTION_ERROR * 3.0);
    }

    @Test
    void zeroMatrixGivesZeroSingularValuesAndOrthonormalFactors() {
        // Prepare
        float[] zero = new float[5 * 9];

        // Execute
        Svd.Truncated t = Svd.truncated(zero, 5, 9, 5);
        Svd.LowRank lr = Svd.lowRank(zero, 5, 9, 3);

        // Assert
        assertThat(t.s()).containsOnly(0f);
        assertThat(orthonormalityError(t.u(), 5, 5)).isLessThan(MAX_ORTHONORMALITY_ERROR);
        assertThat(orthonormalityError(Matrices.transpose(t.vt(), 5, 9), 9, 5)).isLessThan(MAX_ORTHONORMALITY_ERROR);
        assertThat(lr.product()).containsOnly(0f);
    }

    @Test
    void rankAboveMinDimensionIsRejectedWithTheNameAndTheLimit() {
        float[] a = new float[6 * 4];
        assertThatThrownBy(() -> Svd.lowRank(a, 6, 4, 5, "encoder.layer.0.attention.self.query.weight"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rank 5 is larger than min(out, in) = 4")
                .hasMessageContaining("encoder.layer.0.attention.self.query.weight (6x4)")
                .hasMessageContaining("choose a rank from 1 to 4");
    }

    @Test
    void rankBelowOneIsRejected() {
        assertThatThrownBy(() -> Svd.truncated(new float[4], 2, 2, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rank 0 is less than 1");
    }

    @Test
    void wrongArrayLengthIsRejected() {
        assertThatThrownBy(() -> Svd.truncated(new float[5], 2, 3, 1, "w"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("w has 5 elements, expected a (2, 3) matrix with 6");
    }

    @Test
    void nonFiniteInputIsRejectedWithItsPosition() {
        float[] a = new float[6];
        a[4] = Float.NaN;
        assertThatThrownBy(() -> Svd.truncated(a, 2, 3, 1, "w"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("w (2x3) holds NaN at row 1, column 1");
    }
}
