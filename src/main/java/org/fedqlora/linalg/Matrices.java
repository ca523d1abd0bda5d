package org.fedqlora.linalg;

import java.util.Arrays;

/**
 * Small helpers on dense row-major {@code float[]} matrices: element (i, j) of an (rows, cols) matrix is at
 * {@code i * cols + j}. Sums are accumulated in double.
 */
public final class Matrices {
    private Matrices() {
    }

    /** c = a · b for a (m, k) and b (k, n); returns c (m, n). */
    public static float[] matmul(float[] a, float[] b, int m, int k, int n) {
        requireLength(a, m, k, "left operand");
        requireLength(b, k, n, "right operand");
        float[] c = new float[m * n];
        double[] row = new double[n];
        for (int i = 0; i < m; i++) {
            Arrays.fill(row, 0.0);
            for (int p = 0; p < k; p++) {
                double aip = a[i * k + p];
                int bOffset = p * n;
                for (int j = 0; j < n; j++) {
                    row[j] += aip * b[bOffset + j];
                }
            }
            for (int j = 0; j < n; j++) {
                c[i * n + j] = (float) row[j];
            }
        }
        return c;
    }

    /** The (cols, rows) transpose of an (rows, cols) matrix. */
    public static float[] transpose(float[] a, int rows, int cols) {
        requireLength(a, rows, cols, "matrix");
        float[] t = new float[a.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        return t;
    }

    /** a − b, element-wise. */
    public static float[] subtract(float[] a, float[] b) {
        requireSameLength(a, b);
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
    }

    /** sqrt(Σ a²). */
    public static double frobeniusNorm(float[] a) {
        double sum = 0.0;
        for (float x : a) {
            sum += (double) x * x;
        }
        return Math.sqrt(sum);
    }

    /** max |a − b| over all elements. */
    public static double maxAbsDifference(float[] a, float[] b) {
        requireSameLength(a, b);
        double max = 0.0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max;
    }

    static void requireLength(float[] a, int rows, int cols, String what) {
        if (rows < 1 || cols < 1 || a.length != (long) rows * cols) {
            throw new IllegalArgumentException(what + " has " + a.length + " elements, expected a (" + rows + ", "
                    + cols + ") matrix with " + (long) rows * cols + " (row-major, both sizes at least 1)");
        }
    }

    private static void requireSameLength(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("matrices have " + a.length + " and " + b.length
                    + " elements: they must have the same shape");
        }
    }
}
