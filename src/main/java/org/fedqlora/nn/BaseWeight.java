package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * The frozen base weight of a {@link Linear}: full precision, or quantized and dequantized for compute.
 * It never receives gradients.
 */
public interface BaseWeight extends AutoCloseable {
    /** Output features. */
    int out();

    /** Input features. */
    int in();

    /**
     * W as an (out, in) row-major float32 array (the HuggingFace and {@code torch.nn.Linear} layout), for
     * {@link Gemm#linear}. Implementations that keep the weight packed dequantize into {@code step}; dense ones
     * return their resident array (do not close it).
     */
    NDArray weight(NDManager step);

    /**
     * W as the factor of {@link Gemm#linear(Compute, NDArray, Gemm.Kernel, NDArray)}: by default the array of
     * {@link #weight}; a packed weight returns a kernel that unpacks W inside the product's own native call.
     */
    default Gemm.Kernel kernel(NDManager step) {
        return Gemm.dense(weight(step));
    }

    /** Whether {@link #weight} returns a resident float32 array (not one dequantized per call from packed codes). */
    default boolean denseResident() {
        return true;
    }

    /** Bytes this weight keeps resident (packed codes and scales for quantized weights). */
    long residentBytes();

    /** A short description, e.g. "fp32" or "nf4/64". */
    String describe();

    @Override
    void close();
}
