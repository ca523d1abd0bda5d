package org.fedqlora.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Sequence pooling over a hidden state (B, T, C) with its mask (B, T). */
public enum Pooling {
    /** Mean over unmasked positions (the sentence-transformers convention). */
    MEAN,
    /** The first ([CLS]) position. */
    CLS;

    public static Pooling parse(String s) {
        for (Pooling p : values()) {
            if (p.name().equalsIgnoreCase(s)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown pooling '" + s + "' (valid: mean, cls)");
    }

    /** hidden: (B, T, C), mask: (B, T) int64 → (B, C). */
    public NDArray pool(NDArray hidden, NDArray mask) {
        if (this == CLS) {
            return hidden.get(":, 0, :");
        }
        NDArray m = mask.toType(DataType.FLOAT32, false).expandDims(-1);   // (B, T, 1)
        return hidden.mul(m).sum(new int[] {1}).div(m.sum(new int[] {1}).maximum(1e-9f));
    }
}
