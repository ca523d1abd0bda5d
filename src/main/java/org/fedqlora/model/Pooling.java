package org.fedqlora.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Sequence pooling over a hidden state (B, T, C) with its mask (B, T). */
public enum Pooling {
    /** Mean over unmasked positions (the sentence-transformers convention). */
    MEAN,
    /** The first ([CLS]) position. */
    CLS,
    /** The last real (non-padding) token, with right or left padding: what HF's *ForSequenceClassification decoders use. */
    LAST;

    /** {@code auto} (the backbone's own default: mean for encoders, last for decoders), or a pooling's name. */
    public static Pooling parse(String s, Backbone backbone) {
        return s.equalsIgnoreCase("auto") ? backbone.defaultPooling() : parse(s);
    }

    public static Pooling parse(String s) {
        for (Pooling p : values()) {
            if (p.name().equalsIgnoreCase(s)) {
                return p;
            }
        }
        throw new org.fedqlora.UserException("unknown pooling '" + s + "' (valid: auto, mean, cls, last)");
    }

    /** hidden: (B, T, C), mask: (B, T) int64 → (B, C). */
    public NDArray pool(NDArray hidden, NDArray mask) {
        if (this == CLS) {
            return hidden.get(":, 0, :");
        }
        if (this == LAST) {
            long T = hidden.getShape().get(1);
            // index of the last 1 in each row: argmax of mask·(t + 1)
            NDArray t = mask.getManager().arange(1, (int) T + 1, 1, DataType.INT64);       // (T)
            NDArray last = mask.mul(t).argMax(1);                                           // (B)
            return hidden.gather(last.reshape(-1, 1, 1).broadcast(hidden.getShape().getShape()[0], 1,
                    hidden.getShape().get(2)), 1).squeeze(1);                               // (B, C)
        }
        NDArray m = mask.toType(DataType.FLOAT32, false).expandDims(-1);   // (B, T, 1)
        return hidden.mul(m).sum(new int[] {1}).div(m.sum(new int[] {1}).maximum(1e-9f));
    }
}
