package org.fedqlora.quant;

import org.fedqlora.UserException;

import java.util.Locale;

/**
 * How a client's quantization-aware (QA) adapter is initialised.
 *
 * @param rank   m, the adapter rank (0 = no QA adapter)
 * @param method {@code svd}: L·R = best rank-m approximation of W − Q(W);
 *               {@code loftq}: alternate Q_t = Q(W − L_{t−1}R_{t−1}), L_tR_t = SVD_m(W − Q_t) (LoftQ), which also
 *               changes the quantized base ("LoRA-aware quantization")
 * @param iters  T, LoftQ alternations (ignored by svd)
 */
public record QaSpec(int rank, Method method, int iters) {
    /** QA initialisation methods. */
    public enum Method { SVD, LOFTQ;

        public static Method parse(String s) {
            for (Method m : values()) {
                if (m.name().equalsIgnoreCase(s)) {
                    return m;
                }
            }
            throw new UserException("unknown QA method '" + s + "' (valid: svd, loftq)");
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public QaSpec {
        if (rank < 0) {
            throw new UserException("QA rank must be 0 (none) or positive, got " + rank);
        }
        if (iters < 1) {
            throw new UserException("QA iterations must be at least 1, got " + iters);
        }
    }

    public static QaSpec none() {
        return new QaSpec(0, Method.SVD, 1);
    }

    public boolean enabled() {
        return rank > 0;
    }
}
