package org.fedqlora.linalg;

import java.util.stream.IntStream;

/**
 * Eigendecomposition of a real symmetric matrix: Householder reduction to tridiagonal form (EISPACK tred2) followed
 * by the implicit QL algorithm (EISPACK tql2), as in JAMA (public domain), in double precision.
 *
 * <p>Layout: the JAMA algorithms keep eigenvectors in the columns of V and rotate columns, which strides through
 * memory. Here every index is transposed (we hold W = Vᵀ), so rotations and updates walk contiguous rows and the
 * eigenvectors come out as rows: {@code vectors[i]} belongs to {@code values[i]}. Cost: about 4/3 n³ for the
 * reduction and 3 n³ for the QL sweeps, whose rotations are applied to column blocks of W in parallel.
 */
final class SymmetricEigen {
    private static final double EPS = Math.ulp(1.0);
    /** QL sweeps allowed per eigenvalue; LAPACK uses 30, and 1 or 2 are typical. */
    private static final int MAX_SWEEPS = 60;
    /** Columns of W per parallel task when applying a sweep's rotations. */
    private static final int COLUMN_BLOCK = 256;
    /** Rotated elements below which a sweep is applied on one thread. */
    private static final long PARALLEL_WORK = 1L << 16;

    /** Eigenvalues in no particular order. */
    final double[] values;
    /** vectors[i]: the unit eigenvector of values[i]; the rows are orthonormal. */
    final double[][] vectors;

    private final int n;
    private final double[] e;
    /** The rotations of the current QL sweep, applied to W after it. */
    private final double[] cosines;
    private final double[] sines;

    /** Decomposes {@code symmetric} (n, n), which is overwritten; only its lower triangle is read. */
    SymmetricEigen(double[][] symmetric) {
        this.n = symmetric.length;
        this.vectors = symmetric;
        this.values = new double[n];
        this.e = new double[n];
        this.cosines = new double[n];
        this.sines = new double[n];
        mirrorLowerTriangle();
        tridiagonalize();
        diagonalize();
    }

    /** tred2 on W works on W's upper triangle (V's lower one): copy the lower triangle there. */
    private void mirrorLowerTriangle() {
        double[][] w = vectors;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                w[j][i] = w[i][j];
            }
        }
    }

    /** tred2: W becomes the accumulated Householder transformation, values the diagonal, e the sub-diagonal. */
    private void tridiagonalize() {
        double[][] w = vectors;
        double[] d = values;
        for (int j = 0; j < n; j++) {
            d[j] = w[j][n - 1];
        }
        for (int i = n - 1; i > 0; i--) {
            double scale = 0.0;
            double h = 0.0;
            for (int k = 0; k < i; k++) {
                scale += Math.abs(d[k]);
            }
            if (scale == 0.0) {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++) {
                    d[j] = w[j][i - 1];
                    w[j][i] = 0.0;
                    w[i][j] = 0.0;
                }
            } else {
                h = householderStep(i, scale);
            }
            d[i] = h;
        }
        accumulateTransformations();
    }

    /** One Householder reflection annihilating row i left of the sub-diagonal; returns h = |u|²/2. */
    private double householderStep(int i, double scale) {
        double[][] w = vectors;
        double[] d = values;
        double h = 0.0;
        for (int k = 0; k < i; k++) {
            d[k] /= scale;
            h += d[k] * d[k];
        }
        double f = d[i - 1];
        double g = f > 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        d[i - 1] = f - g;
        for (int j = 0; j < i; j++) {
            e[j] = 0.0;
        }
        for (int j = 0; j < i; j++) {
            f = d[j];
            w[i][j] = f;
            double[] wj = w[j];
            g = e[j] + wj[j] * f;
            for (int k = j + 1; k <= i - 1; k++) {
                g += wj[k] * d[k];
                e[k] += wj[k] * f;
            }
            e[j] = g;
        }
        f = 0.0;
        for (int j = 0; j < i; j++) {
            e[j] /= h;
            f += e[j] * d[j];
        }
        double hh = f / (h + h);
        for (int j = 0; j < i; j++) {
            e[j] -= hh * d[j];
        }
        for (int j = 0; j < i; j++) {
            f = d[j];
            g = e[j];
            double[] wj = w[j];
            for (int k = j; k <= i - 1; k++) {
                wj[k] -= f * e[k] + g * d[k];
            }
            d[j] = wj[i - 1];
            wj[i] = 0.0;
        }
        return h;
    }

    private void accumulateTransformations() {
        double[][] w = vectors;
        double[] d = values;
        for (int i = 0; i < n - 1; i++) {
            w[i][n - 1] = w[i][i];
            w[i][i] = 1.0;
            double h = d[i + 1];
            double[] next = w[i + 1];
            if (h != 0.0) {
                for (int k = 0; k <= i; k++) {
                    d[k] = next[k] / h;
                }
                for (int j = 0; j <= i; j++) {
                    double[] wj = w[j];
                    double g = 0.0;
                    for (int k = 0; k <= i; k++) {
                        g += next[k] * wj[k];
                    }
                    for (int k = 0; k <= i; k++) {
                        wj[k] -= g * d[k];
                    }
                }
            }
            for (int k = 0; k <= i; k++) {
                next[k] = 0.0;
            }
        }
        for (int j = 0; j < n; j++) {
            d[j] = w[j][n - 1];
            w[j][n - 1] = 0.0;
        }
        w[n - 1][n - 1] = 1.0;
        e[0] = 0.0;
    }

    /** tql2: implicit-shift QL on the tridiagonal matrix, rotating the rows of W along. */
    private void diagonalize() {
        double[] d = values;
        for (int i = 1; i < n; i++) {
            e[i - 1] = e[i];
        }
        e[n - 1] = 0.0;
        double shift = 0.0;
        double tst1 = 0.0;
        for (int l = 0; l < n; l++) {
            tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
            int m = l;
            while (m < n && Math.abs(e[m]) > EPS * tst1) {
                m++;
            }
            int sweeps = 0;
            while (m > l && Math.abs(e[l]) > EPS * tst1) {
                if (++sweeps > MAX_SWEEPS) {
                    throw new ArithmeticException("symmetric eigensolver did not converge after " + MAX_SWEEPS
                            + " QL sweeps for eigenvalue " + l + " of " + n);
                }
                shift += qlSweep(l, m);
            }
            d[l] += shift;
            e[l] = 0.0;
        }
    }

    /** One implicit QL sweep over rows l..m of the tridiagonal matrix; returns the shift it applied. */
    private double qlSweep(int l, int m) {
        double[] d = values;
        double g = d[l];
        double p = (d[l + 1] - g) / (2.0 * e[l]);
        double r = Math.hypot(p, 1.0);
        if (p < 0) {
            r = -r;
        }
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        double dl1 = d[l + 1];
        double h = g - d[l];
        for (int i = l + 2; i < n; i++) {
            d[i] -= h;
        }
        p = d[m];
        double c = 1.0;
        double c2 = c;
        double c3 = c;
        double el1 = e[l + 1];
        double s = 0.0;
        double s2 = 0.0;
        for (int i = m - 1; i >= l; i--) {
            c3 = c2;
            c2 = c;
            s2 = s;
            g = c * e[i];
            double hi = c * p;
            r = Math.hypot(p, e[i]);
            e[i + 1] = s * r;
            s = e[i] / r;
            c = p / r;
            p = c * d[i] - s * g;
            d[i + 1] = hi + s * (c * g + s * d[i]);
            cosines[i] = c;
            sines[i] = s;
        }
        applyRotations(l, m);
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
        return h;
    }

    /**
     * Applies the sweep's rotations i = m−1 down to l to the rows of W. Each column of W is rotated independently, so
     * large matrices are split into column blocks handled in parallel (same order per column: identical results).
     */
    private void applyRotations(int l, int m) {
        int blocks = (n + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        if (blocks == 1 || (long) (m - l) * n < PARALLEL_WORK) {
            rotateColumns(l, m, 0, n);
        } else {
            IntStream.range(0, blocks).parallel()
                    .forEach(b -> rotateColumns(l, m, b * COLUMN_BLOCK, Math.min(n, (b + 1) * COLUMN_BLOCK)));
        }
    }

    /** (W[i], W[i+1]) ← (c·W[i] − s·W[i+1], s·W[i] + c·W[i+1]) on columns [from, to), for i = m−1 down to l. */
    private void rotateColumns(int l, int m, int from, int to) {
        double[][] w = vectors;
        for (int i = m - 1; i >= l; i--) {
            double c = cosines[i];
            double s = sines[i];
            double[] wi = w[i];
            double[] wi1 = w[i + 1];
            for (int k = from; k < to; k++) {
                double a = wi[k];
                double b = wi1[k];
                wi1[k] = s * a + c * b;
                wi[k] = c * a - s * b;
            }
        }
    }
}
