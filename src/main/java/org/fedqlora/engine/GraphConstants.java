package org.fedqlora.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Constants for arithmetic inside a gradient graph.
 *
 * <p>Do not write {@code x.mul(0.5f)} (or {@code div}, {@code pow}, {@code maximum} with a Number) on anything that
 * needs a gradient. DJL wraps the number in a 0-d array whose memory is a Java direct buffer (torch
 * {@code from_blob}, not owned by torch) and closes that array right after the op; autograd keeps it for the
 * backward pass (MulBackward saves its other operand). Once the garbage collector frees the buffer, the backward
 * pass reads freed memory: measured, a LoRA-B gradient off by 1.7, NaN losses, and JVM crashes in
 * {@code torchBackward}, more often the smaller the heap. An array made here lives in torch's own memory.
 * ({@code add} and {@code sub} with a Number are safe: their backward keeps no operand.)
 */
public final class GraphConstants {
    private GraphConstants() {
    }

    /** A 0-d float32 array holding {@code value}, allocated by torch in {@code m}. */
    public static NDArray scalar(NDManager m, float value) {
        return m.full(new Shape(), value, DataType.FLOAT32);
    }
}
