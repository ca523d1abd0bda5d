package org.fedqlora.nn;

import ai.djl.ndarray.NDManager;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.TensorSource;

/** Makes the frozen base weight of a linear layer from a checkpoint (dense, quantized, or saved quantized). */
@FunctionalInterface
public interface BaseWeightFactory {
    /**
     * @param module     HF module path ("encoder.layer.0.attention.self.query")
     * @param weightName the weight's tensor name in {@code source} (module + ".weight", maybe with a prefix)
     * @param source     the checkpoint
     * @param out        expected output features
     * @param in         expected input features
     * @param owner      manager that owns what the weight keeps resident
     */
    BaseWeight create(String module, String weightName, TensorSource source, int out, int in, NDManager owner);

    /** Full precision: the checkpoint weight (any float dtype) upcast to float32. */
    BaseWeightFactory DENSE = (module, name, source, out, in, owner) -> {
        HostTensor w = source.require(name, out, in);
        return new DenseWeight(owner, w.toFloats(), out, in, "fp32");
    };
}
