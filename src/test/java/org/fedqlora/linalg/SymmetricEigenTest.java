package org.fedqlora.linalg;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The tred2/tql2 eigensolver: A v = λ v with orthonormal v, including repeated and already-diagonal cases. */
class SymmetricEigenTest {
    /** Max |A v − λ v| relative to max |A|, and max |V Vᵀ − I|. */
    private static final double MAX_ERROR = 1e-12;

    private static double[][] copy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    /** max over i of |A v_i − λ_i v_i| and of |v_i·v_j − δ_ij|, relative to max |A| (or 1 for the zero matrix). */
    private static double decompositionError(double[][] a) {
        int n = a.length;
        SymmetricEigen eig = new SymmetricEigen(copy(a));
        double scale = 1e-300;
        for (double[] row : a) {
            for (double x : row) {
                scale = Math.max(scale, Math.abs(x));
            }
        }
        double max = 0;
        for (int i = 0; i < n; i++) {
            double[] v = eig.vectors[i];
            for (int r = 0; r < n; r++) {
                double av = 0;
                for (int c = 0; c < n; c++) {
                    av += a[r][c] * v[c];
                }
                max = Math.max(max, Math.abs(av - eig.values[i] * v[r]) / scale);
            }
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int t = 0; t < n; t++) {
                    dot += v[t] * eig.vectors[j][t];
                }
                max = Math.max(max, Math.abs(dot - (i == j ? 1 : 0)));
            }
        }
        return max;
    }

    @Test
    void randomSymmetricMatrixIsDiagonalised() {
        // Prepare: n = 300 also exercises the parallel rotation path
        int n = 300;
        Random random = new Random(2);
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                a[i][j] = random.nextGaussian();
                a[j][i] = a[i][j];
            }
        }

        // Execute and Assert
        double error = decompositionError(a);
        System.out.printf("random symmetric %dx%d: max error %.3g%n", n, n, error);
        assertThat(error).isLessThan(MAX_ERROR);
    }

    @Test
    void repeatedEigenvaluesGiveOrthonormalVectors() {
        // Prepare: I + 5 x xᵀ has eigenvalue 1 repeated n−1 times
        int n = 12;
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                a[i][j] = (i == j ? 1.0 : 0.0) + 5.0 * (i + 1) * (j + 1) / (n * n);
            }
        }

        // Execute and Assert
        double error = decompositionError(a);
        System.out.printf("identity plus rank one: max error %.3g%n", error);
        assertThat(error).isLessThan(MAX_ERROR);
    }

    @Test
    void diagonalAndZeroMatricesAreHandled() {
        double[][] diagonal = {{3, 0, 0}, {0, -1, 0}, {0, 0, 2}};
        assertThat(decompositionError(diagonal)).isLessThan(MAX_ERROR);
        assertThat(decompositionError(new double[4][4])).isLessThan(MAX_ERROR);
        assertThat(decompositionError(new double[][] {{7}})).isLessThan(MAX_ERROR);
    }
}
