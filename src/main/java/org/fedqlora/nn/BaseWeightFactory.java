package org.fedqlora.nn;

import ai.djl.ndarray.NDManager;
import org.fedqlora.tensor.HostTensor;

/** Makes the frozen base weight of a linear layer from its checkpoint tensor (dense, or quantized). */
@FunctionalInterface
public interface BaseWeightFactory {
    /**
     * @param module HF module path ("encoder.layer.0.attention.self.query")
     * @param weight (out, in) checkpoint tensor, any float dtype
     * @param owner  manager that owns what the weight keeps resident
     */
    BaseWeight create(String module, HostTensor weight, NDManager owner);

    /** Full precision: the checkpoint weight upcast to float32. */
    BaseWeightFactory DENSE = (module, w, owner) ->
            new DenseWeight(owner, w.toFloats(), (int) w.shape()[0], (int) w.shape()[1], "fp32");
}
