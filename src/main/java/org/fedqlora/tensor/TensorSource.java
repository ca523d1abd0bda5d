package org.fedqlora.tensor;

import java.util.Arrays;
import java.util.Set;

/** Named tensors from somewhere (a safetensors file, a sharded checkpoint, an ONNX file, memory). */
public interface TensorSource {
    Set<String> names();

    HostTensor get(String name);

    /** Where the tensors come from, for error messages. */
    String describe();

    /** String metadata stored with the tensors (safetensors {@code __metadata__}); empty if none. */
    default java.util.Map<String, String> metadata() {
        return java.util.Map.of();
    }

    default boolean has(String name) {
        return names().contains(name);
    }

    /** A tensor that must exist with this shape; the error names the tensor and the source. */
    default HostTensor require(String name, long... shape) {
        if (!has(name)) {
            throw new SafetensorsException(describe() + ": missing tensor '" + name + "'");
        }
        HostTensor t = get(name);
        if (shape.length > 0 && !Arrays.equals(t.shape(), shape)) {
            throw new SafetensorsException(describe() + ": tensor '" + name + "' has shape "
                    + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape));
        }
        return t;
    }
}
