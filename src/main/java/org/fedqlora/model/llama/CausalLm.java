package org.fedqlora.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** The causal language-modelling objective (HF's shift: position t predicts label t + 1). */
public final class CausalLm {
    /** Labels with this value are not scored (prompt tokens, padding), as in HF and PyTorch. */
    public static final long IGNORE = -100;

    private CausalLm() {
    }

    /**
     * Mean cross-entropy of logits[:, t] against labels[:, t + 1] over the labels that are not {@link #IGNORE}.
     *
     * @param logits (B, T, V)
     * @param labels (B, T) int64, in the same manager as logits
     * @return a 0-d loss (0 when every label is ignored)
     */
    public static NDArray loss(NDArray logits, NDArray labels) {
        Shape s = logits.getShape();
        long B = s.get(0), T = s.get(1);
        // Shift the labels, not the logits: slicing (B, T, V) would cost a copy forward and a zero-filled
        // (B, T, V) gradient backward. The last position gets IGNORE (nothing follows it).
        NDArray lab = labels.get(new NDIndex(":, 1:{}", T))
                .concat(labels.getManager().full(new Shape(B, 1), IGNORE), 1);        // (B, T)
        NDArray valid = lab.neq(IGNORE);                                            // (B, T) bool
        NDArray safe = NDArrays.where(valid, lab, lab.zerosLike());                 // ignored → class 0
        NDArray nll = logits.logSoftmax(-1).gather(safe.expandDims(-1), -1).squeeze(-1).neg(); // (B, T)
        NDArray w = valid.toType(DataType.FLOAT32, false);
        return nll.mul(w).sum().div(w.sum().maximum(1f));
    }
}
