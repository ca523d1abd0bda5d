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

    @Override
    public NDArray weightDelta(NDManager m) {
        try (NDManager tmp = m.newSubManager()) {
            NDArray r = rT.duplicate();
            r.attach(tmp);
            NDArray d = r.matMul(lT).transpose(1, 0).duplicate();                 // (Rᵀ·Lᵀ)ᵀ = L·R, (out, in)
            d.attach(m);
            return d;
        }
    }

    @Override
    public List<NDArray> arrays() {
        return List.of(rT, lT);
    }

    public String module() {
        return module;
    }

    public int rank() {
        return (int) rT.getShape().get(1);
    }

    public List<Parameter> parameters() {
        return List.of(new Parameter(module + ".qa_L.weight", lT, true),
                new Parameter(module + ".qa_R.weight", rT, true));
    }
}
