package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** A float32 weight kept resident as W (out, in) row-major, the layout {@link Gemm#linear} takes as is. */
public final class DenseWeight implements BaseWeight {
    private final NDArray w;
    private final String description;

    /** @param w row-major (out, in) values, the HuggingFace layout. */
    public DenseWeight(NDManager owner, float[] w, int out, int in, String description) {
        if (w.length != (long) out * in) {
            throw new IllegalArgumentException("weight has " + w.length + " values, expected " + out + "x" + in);
        }
        this.w = owner.create(w, new Shape(out, in));
        this.description = description;
    }

    @Override
    public int out() {
        return (int) w.getShape().get(0);
    }

    @Override
    public int in() {
        return (int) w.getShape().get(1);
    }

    @Override
    public NDArray weight(NDManager step) {
        return w;
    }

    @Override
    public long residentBytes() {
        return 4L * w.size();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() {
        w.close();
    }
}
