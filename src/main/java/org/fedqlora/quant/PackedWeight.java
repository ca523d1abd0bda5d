package org.fedqlora.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.nn.BaseWeight;

/**
 * A quantized base weight kept packed (codes + statistics, {@link QuantizedTensor#residentBytes()} bytes) and
 * dequantized on the engine at every use, into the caller's step manager: memory at the format's true size, at
 * the cost of one dequantization per forward pass.
 */
public final class PackedWeight implements BaseWeight {
    private final QuantizedTensor q;

    public PackedWeight(QuantizedTensor q) {
        this.q = q;
    }

    @Override
    public int out() {
        return q.rows();
    }

    @Override
    public int in() {
        return q.cols();
    }

    @Override
    public NDArray weight(NDManager step) {
        return q.toNDArray(step);
    }

    @Override
    public long residentBytes() {
        return q.residentBytes();
    }

    @Override
    public String describe() {
        return q.format().id() + " packed";
    }

    public QuantizedTensor tensor() {
        return q;
    }

    @Override
    public void close() {
    }
}
