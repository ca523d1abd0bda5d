package org.fedqlora.quant;

import org.fedqlora.linalg.Matrices;
import org.fedqlora.linalg.Svd;

/**
 * Quantizes one weight and, if asked, fits its QA adapter: {@code Q(W) + L·R ≈ W}.
 *
 * <p>svd: Q = Q(W), L·R = SVD_m(W − deq(Q)), so the error with the adapter is the tail of E's spectrum and never
 * exceeds ‖E‖. loftq: for t = 1..T, Q_t = Q(W − L_{t−1}R_{t−1}) and L_tR_t = SVD_m(W − deq(Q_t)) (t = 1 is svd);
 * the iterate with the smallest ‖W − deq(Q_t) − L_tR_t‖ is kept, so loftq is never worse than svd.
 */
public final class QaInit {
    private QaInit() {
    }

    /**
     * One quantized layer: its base, the QA factors (null without QA), and ‖W − Ŵ‖_F / ‖W‖_F without and with the
     * adapter.
     */
    public record Result(QuantizedTensor base, Svd.LowRank qa, double relativeError, double relativeErrorWithQa,
                         double normSquared) {
    }

    public static Result quantize(String name, float[] w, int rows, int cols, QuantSpec spec, QaSpec qa) {
        double norm = Math.max(Matrices.frobeniusNorm(w), 1e-30);
        QuantizedTensor q = Quantizer.quantize(name, w, rows, cols, spec);
        float[] err = Matrices.subtract(w, q.dequantize());
        double plain = Matrices.frobeniusNorm(err) / norm;
        if (!qa.enabled() || spec.format() == QuantFormat.FP32) {
            return new Result(q, null, plain, plain, norm * norm);
        }
        Svd.LowRank lr = Svd.lowRank(err, rows, cols, qa.rank(), name);
        double best = Matrices.frobeniusNorm(Matrices.subtract(err, lr.product())) / norm;
        Result result = new Result(q, lr, plain, best, norm * norm);
        if (qa.method() == QaSpec.Method.LOFTQ) {
            for (int t = 2; t <= qa.iters(); t++) {
                QuantizedTensor qt = Quantizer.quantize(name, Matrices.subtract(w, lr.product()), rows, cols, spec);
                float[] e = Matrices.subtract(w, qt.dequantize());
                lr = Svd.lowRank(e, rows, cols, qa.rank(), name);
                double errT = Matrices.frobeniusNorm(Matrices.subtract(e, lr.product())) / norm;
                if (errT < best) {
                    best = errT;
                    result = new Result(qt, lr, Matrices.frobeniusNorm(e) / norm, errT, norm * norm);
                }
            }
        }
        return result;
    }
}
