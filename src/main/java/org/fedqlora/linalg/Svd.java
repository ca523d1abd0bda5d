package org.fedqlora.linalg;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Truncated singular value decomposition A ≈ U_r diag(S_r) V_rᵀ of a dense row-major float matrix, in double
 * precision internally. Used to initialise quantization-aware (QA) adapters from the quantization error
 * E = W − Q(W) (LoftQ): the best rank-r approximation of E in the Frobenius norm (Eckart–Young).
 *
 * <p>Method (with k = min(rows, cols), n = max(rows, cols), B the (k, n) "short side" view of A, i.e. A or Aᵀ):
 * <ol>
 *   <li>Gram matrix G = B Bᵀ (k, k) in double, rows computed in parallel: k²·n/2 multiply-adds.</li>
 *   <li>Symmetric eigendecomposition of G (Householder + implicit QL, {@link SymmetricEigen}): about 4.3 k³.</li>
 *   <li>The r largest eigenvectors p_i are the short-side singular vectors; the long-side ones are
 *       q_i = Bᵀ p_i / σ_i with σ_i = |Bᵀ p_i|, so that σ_i p_i q_iᵀ = p_i p_iᵀ B exactly (r·k·n).</li>
 * </ol>
 * The cost is O(k²·n): linear in the large dimension. Squaring A in the Gram matrix limits the relative accuracy of
 * singular values below about 1e-8·σ_1, which is far below float resolution of the reconstructed product.
 * Singular values at or below {@link #ZERO_SINGULAR_VALUE}·σ_1 (rank-deficient input) are returned as exactly 0 with
 * long-side vectors that complete an orthonormal set, so the output never holds NaN.
 */
public final class Svd {
    /** Singular values at or below this fraction of the largest are treated as exact zeros. */
    public static final double ZERO_SINGULAR_VALUE = 1e-12;

    private Svd() {
    }

    /**
     * Truncated SVD of rank r: U (rows, r), S (r) descending and non-negative, Vt (r, cols); all row-major.
     * The columns of U and the rows of Vt are orthonormal.
     */
    public record Truncated(int rows, int cols, int rank, float[] u, float[] s, float[] vt) {
    }

    /**
     * A rank-r factorisation A ≈ L·R with L = U_r sqrt(S_r) (rows, r) and R = sqrt(S_r) V_rᵀ (r, cols), the
     * LoftQ convention for initialising a QA adapter (L plays LoRA's B, R plays LoRA's A).
     */
    public record LowRank(int rows, int cols, int rank, float[] l, float[] r) {
        /** L·R, (rows, cols). */
        public float[] product() {
            return Matrices.matmul(l, r, rows, rank, cols);
        }
    }

    public static Truncated truncated(float[] a, int rows, int cols, int rank) {
        return truncated(a, rows, cols, rank, "matrix");
    }

    /** As {@link #truncated(float[], int, int, int)}; {@code name} (e.g. a weight name) appears in error messages. */
    public static Truncated truncated(float[] a, int rows, int cols, int rank, String name) {
        Factors f = decompose(a, rows, cols, rank, name);
        return new Truncated(rows, cols, rank, toFloats(f.u), toFloats(f.s), toFloats(f.vt));
    }

    public static LowRank lowRank(float[] a, int rows, int cols, int rank) {
        return lowRank(a, rows, cols, rank, "matrix");
    }

    /** As {@link #lowRank(float[], int, int, int)}; {@code name} (e.g. a weight name) appears in error messages. */
    public static LowRank lowRank(float[] a, int rows, int cols, int rank, String name) {
        Factors f = decompose(a, rows, cols, rank, name);
        float[] l = new float[rows * rank];
        float[] r = new float[rank * cols];
        for (int i = 0; i < rank; i++) {
            double root = Math.sqrt(f.s[i]);
            for (int row = 0; row < rows; row++) {
                l[row * rank + i] = (float) (f.u[row * rank + i] * root);
            }
            for (int col = 0; col < cols; col++) {
                r[i * cols + col] = (float) (f.vt[i * cols + col] * root);
            }
        }
        return new LowRank(rows, cols, rank, l, r);
    }

    /** U (rows, r), S (r), Vt (r, cols) in double, row-major. */
    private record Factors(double[] u, double[] s, double[] vt) {
    }

    private static Factors decompose(float[] a, int rows, int cols, int rank, String name) {
        validate(a, rows, cols, rank, name);
        boolean wide = rows <= cols;
        int k = Math.min(rows, cols);
        int n = Math.max(rows, cols);
        float[] b = wide ? a : Matrices.transpose(a, rows, cols); // b: (k, n)
        double[][] shortSide = topEigenvectors(gram(b, k, n), rank); // (r, k)
        double[][] longSide = new double[rank][]; // (r, n)
        double[] s = new double[rank];
        projectAndSort(b, k, n, shortSide, longSide, s);
        orthonormalize(longSide, s);
        return wide
                ? new Factors(columns(shortSide, k), s, rowsOf(longSide, n))
                : new Factors(columns(longSide, n), s, rowsOf(shortSide, k));
    }

    private static void validate(float[] a, int rows, int cols, int rank, String name) {
        Matrices.requireLength(a, rows, cols, name);
        int max = Math.min(rows, cols);
        if (rank < 1 || rank > max) {
            throw new IllegalArgumentException("rank " + rank + (rank < 1 ? " is less than 1" : " is larger than"
                    + " min(out, in) = " + max) + " for " + name + " (" + rows + "x" + cols + "): choose a rank from 1"
                    + " to " + max);
        }
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                throw new IllegalArgumentException(name + " (" + rows + "x" + cols + ") holds " + a[i] + " at row "
                        + i / cols + ", column " + i % cols + ": an SVD needs finite values (check for a diverged"
                        + " or corrupt weight)");
            }
        }
    }

    /** G = B Bᵀ for b (k, n); only the lower triangle (j ≤ i) is filled. */
    private static double[][] gram(float[] b, int k, int n) {
        double[][] g = new double[k][k];
        IntStream.range(0, k).parallel().forEach(i -> {
            for (int j = 0; j <= i; j++) {
                g[i][j] = dot(b, i * n, j * n, n);
            }
        });
        return g;
    }

    /** Σ b[x + t]·b[y + t] for t < n, in double with four accumulators. */
    private static double dot(float[] b, int x, int y, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int t = 0;
        for (; t + 3 < n; t += 4) {
            s0 += (double) b[x + t] * b[y + t];
            s1 += (double) b[x + t + 1] * b[y + t + 1];
            s2 += (double) b[x + t + 2] * b[y + t + 2];
            s3 += (double) b[x + t + 3] * b[y + t + 3];
        }
        for (; t < n; t++) {
            s0 += (double) b[x + t] * b[y + t];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** The unit eigenvectors of the {@code rank} largest eigenvalues of g, as rows. */
    private static double[][] topEigenvectors(double[][] g, int rank) {
        SymmetricEigen eig = new SymmetricEigen(g);
        Integer[] order = IntStream.range(0, g.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, (x, y) -> Double.compare(eig.values[y], eig.values[x]));
        double[][] top = new double[rank][];
        for (int i = 0; i < rank; i++) {
            top[i] = eig.vectors[order[i]];
        }
        return top;
    }

    /**
     * Fills longSide[i] = Bᵀ p_i and s[i] = |Bᵀ p_i|, then orders the pairs (p_i, q_i) by descending s
     * (the eigenvalue order and the norm order can differ by rounding).
     */
    private static void projectAndSort(float[] b, int k, int n, double[][] shortSide, double[][] longSide,
                                       double[] s) {
        int rank = shortSide.length;
        IntStream.range(0, rank).parallel().forEach(i -> {
            double[] q = new double[n];
            double[] p = shortSide[i];
            for (int j = 0; j < k; j++) {
                double pj = p[j];
                int offset = j * n;
                for (int t = 0; t < n; t++) {
                    q[t] += pj * b[offset + t];
                }
            }
            longSide[i] = q;
            s[i] = norm(q);
        });
        Integer[] order = IntStream.range(0, rank).boxed().toArray(Integer[]::new);
        Arrays.sort(order, (x, y) -> Double.compare(s[y], s[x]));
        double[][] p = shortSide.clone();
        double[][] q = longSide.clone();
        double[] sCopy = s.clone();
        for (int i = 0; i < rank; i++) {
            shortSide[i] = p[order[i]];
            longSide[i] = q[order[i]];
            s[i] = sCopy[order[i]];
        }
    }

    /**
     * Turns longSide[i] = Bᵀ p_i into unit vectors orthogonal to the previous ones (modified Gram–Schmidt, which only
     * removes rounding for well-separated σ). Rows whose σ is negligible get σ = 0 and a completing unit vector.
     */
    private static void orthonormalize(double[][] longSide, double[] s) {
        double zero = s[0] * ZERO_SINGULAR_VALUE;
        for (int i = 0; i < longSide.length; i++) {
            double[] q = longSide[i];
            if (s[i] > zero) {
                removeComponents(q, longSide, i);
                double len = norm(q);
                if (len > zero) {
                    scale(q, 1.0 / len);
                    continue;
                }
            }
            s[i] = 0.0;
            longSide[i] = completingVector(longSide, i, q.length);
        }
    }

    /** q ← q − Σ_{j<count} (basis[j]·q) basis[j]. */
    private static void removeComponents(double[] q, double[][] basis, int count) {
        for (int j = 0; j < count; j++) {
            double[] v = basis[j];
            double c = 0.0;
            for (int t = 0; t < q.length; t++) {
                c += v[t] * q[t];
            }
            for (int t = 0; t < q.length; t++) {
                q[t] -= c * v[t];
            }
        }
    }

    /**
     * A unit vector orthogonal to basis[0..count): the standard basis vector e_t that is least inside their span
     * (its residual |e_t − Σ basis[j][t] basis[j]|² = 1 − Σ basis[j][t]² is largest, and at least (n − count)/n),
     * with that span projected out twice.
     */
    private static double[] completingVector(double[][] basis, int count, int n) {
        int best = 0;
        double bestResidual = -1.0;
        for (int t = 0; t < n; t++) {
            double inside = 0.0;
            for (int j = 0; j < count; j++) {
                inside += basis[j][t] * basis[j][t];
            }
            if (1.0 - inside > bestResidual) {
                bestResidual = 1.0 - inside;
                best = t;
            }
        }
        double[] v = new double[n];
        v[best] = 1.0;
        removeComponents(v, basis, count);
        removeComponents(v, basis, count);
        scale(v, 1.0 / norm(v));
        return v;
    }

    /** Row-major (n, r) matrix whose column i is vectors[i]. */
    private static double[] columns(double[][] vectors, int n) {
        int r = vectors.length;
        double[] m = new double[n * r];
        for (int i = 0; i < r; i++) {
            for (int t = 0; t < n; t++) {
                m[t * r + i] = vectors[i][t];
            }
        }
        return m;
    }

    /** Row-major (r, n) matrix whose row i is vectors[i]. */
    private static double[] rowsOf(double[][] vectors, int n) {
        double[] m = new double[vectors.length * n];
        for (int i = 0; i < vectors.length; i++) {
            System.arraycopy(vectors[i], 0, m, i * n, n);
        }
        return m;
    }

    private static double norm(double[] v) {
        double sum = 0.0;
        for (double x : v) {
            sum += x * x;
        }
        return Math.sqrt(sum);
    }

    private static void scale(double[] v, double factor) {
        for (int t = 0; t < v.length; t++) {
            v[t] *= factor;
        }
    }

    private static float[] toFloats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }
}
