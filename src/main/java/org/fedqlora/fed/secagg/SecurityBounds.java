package org.fedqlora.fed.secagg;

/**
 * Union bounds on the probability that a SecAgg+ round over the random Harary graph ({@link NeighbourGraph}) fails,
 * for n clients, k neighbours, threshold t, a fraction γ of clients colluding with the (honest-but-curious) server
 * and a fraction δ dropping out, both chosen before the graph is drawn (Bell et al. 2020's static adversary).
 * With C = ⌊γn⌋, D = ⌊δn⌋ and H(N, K, m) the hypergeometric law (m draws from N with K marked):
 * <pre>
 *   privacy    some honest u has ≥ t colluding neighbours (they hold t shares of s_u; the server also gets b_u):
 *              ≤ n · P[H(n − 1, C, k) ≥ t]
 *   privacy    the honest survivors' subgraph is disconnected (the server would learn one sum per component); on
 *              the ring this needs two disjoint runs of k/2 consecutive colluding-or-dropped clients:
 *              ≤ n² · C(C + D, k) / C(n, k)
 *   liveness   some secret has fewer than t surviving holders (the round then aborts cleanly, nothing revealed):
 *              ≤ n · P[H(n − 1, D, k) > k − t]
 * </pre>
 * The first two are the security failure probability, the third the probability that the round is lost.
 */
public final class SecurityBounds {
    /** The three bounds (each capped at 1). */
    public record Bounds(double collusion, double disconnection, double abort) {
        /** The security failure probability bound: collusion + disconnection. */
        public double security() {
            return Math.min(1, collusion + disconnection);
        }
    }

    private SecurityBounds() {
    }

    public static Bounds of(int n, int k, int t, double gamma, double delta) {
        int c = (int) Math.floor(gamma * n);
        int d = (int) Math.floor(delta * n);
        double collusion = n * upperTail(n - 1, c, k, t);
        double disconnection = k >= n - 1 ? 0 : (double) n * n * Math.exp(logChoose(c + d, k) - logChoose(n, k));
        double abort = n * upperTail(n - 1, d, k, k - t + 1);
        return new Bounds(Math.min(1, collusion), Math.min(1, disconnection), Math.min(1, abort));
    }

    /** P[H(N, K, m) ≥ a]. */
    static double upperTail(int population, int marked, int draws, int atLeast) {
        double p = 0;
        for (int i = Math.max(atLeast, 0); i <= Math.min(marked, draws); i++) {
            p += Math.exp(logChoose(marked, i) + logChoose(population - marked, draws - i)
                    - logChoose(population, draws));
        }
        return p;
    }

    /** ln C(a, b), −∞ when b is outside 0..a. */
    static double logChoose(int a, int b) {
        if (b < 0 || b > a) {
            return Double.NEGATIVE_INFINITY;
        }
        double s = 0;
        for (int i = 1; i <= Math.min(b, a - b); i++) {
            s += Math.log(a - Math.min(b, a - b) + i) - Math.log(i);
        }
        return s;
    }
}
