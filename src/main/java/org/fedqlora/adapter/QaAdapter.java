package org.fedqlora.adapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.nn.LinearAdapter;

import java.util.List;

/**
 * The quantization-aware adapter of FedQLoRA: {@code delta(x) = x·(L·R)ᵀ} with L (out, m), R (m, in) chosen so
 * that {@code Q(W) + L·R ≈ W}. It is private to a client (never sent, never exported to PEFT). Stored transposed:
 * rT (in, m), lT (m, out).
 */
public final class QaAdapter implements LinearAdapter {
    private final String module;
    private final NDArray rT;   // (in, m)
    private final NDArray lT;   // (m, out)

    private QaAdapter(String module, NDArray rT, NDArray lT) {
        this.module = module;
        this.rT = rT;
        this.lT = lT;
    }

    /** From L (out, m) and R (m, in), row-major. */
    public static QaAdapter of(NDManager m, String module, float[] l, float[] r, int out, int in, int rank) {
        NDArray rT;
        NDArray lT;
        try (NDArray ll = m.create(l, new Shape(out, rank)); NDArray rr = m.create(r, new Shape(rank, in))) {
            lT = ll.transpose(1, 0).duplicate();
            rT = rr.transpose(1, 0).duplicate();
        }
        return new QaAdapter(module, rT, lT);
    }

    @Override
    public NDArray delta(NDArray x, boolean training) {
        return x.matMul(rT).matMul(lT);                                    // (..., in)(in, m)(m, out)
    }

    @Override
    public String kind() {
        return "qa";
    }

    public String module() {
        return module;
    }

    public int rank() {
        return (int) rT.getShape().get(1);
    }

    /** L (out, m) row-major. */
    public float[] l() {
        try (NDArray t = lT.transpose(1, 0)) {
            return t.toFloatArray();
        }
    }

    /** R (m, in) row-major. */
    public float[] r() {
        try (NDArray t = rT.transpose(1, 0)) {
            return t.toFloatArray();
        }
    }

    /** Replaces the factors in place (iFedQLoRA's SVD refinement); shapes must not change. */
    public void set(float[] l, float[] r) {
        int m = rank();
        NDManager mgr = rT.getManager();
        try (NDArray ll = mgr.create(l, new Shape(lT.getShape().get(1), m));
             NDArray rr = mgr.create(r, new Shape(m, rT.getShape().get(0)));
             NDArray lt = ll.transpose(1, 0); NDArray rt = rr.transpose(1, 0)) {
            lT.set(lt.toFloatArray());
            rT.set(rt.toFloatArray());
        }
    }

    public List<Parameter> parameters() {
        return List.of(new Parameter(module + ".qa_L.weight", lT, true),
                new Parameter(module + ".qa_R.weight", rT, true));
    }
}
