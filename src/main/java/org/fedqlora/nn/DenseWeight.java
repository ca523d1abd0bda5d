package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** A float32 weight kept resident as Wᵀ (in, out), so the forward pass never transposes. */
public final class DenseWeight implements BaseWeight {
    private final NDArray wT;
    private final String description;

    /** @param w row-major (out, in) values, the HuggingFace layout. */
    public DenseWeight(NDManager owner, float[] w, int out, int in, String description) {
        if (w.length != (long) out * in) {
            throw new IllegalArgumentException("weight has " + w.length + " values, expected " + out + "x" + in);
        }
        try (NDArray tmp = owner.create(w, new Shape(out, in))) {
            this.wT = tmp.transpose(1, 0).duplicate();
        }
        this.description = description;
    }

    @Override
    public int out() {
        return (int) wT.getShape().get(1);
    }

    @Override
    public int in() {
        return (int) wT.getShape().get(0);
    }

    @Override
    public NDArray transposed(NDManager step) {
        return wT;
    }

    /** Dense weights are resident for the life of the model. */
    public NDArray array() {
        return wT;
    }

    @Override
    public long residentBytes() {
        return 4L * wT.size();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() {
        wT.close();
    }
}
