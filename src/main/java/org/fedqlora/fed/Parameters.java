package org.fedqlora.fed;

import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Helpers on the named-tensor maps that travel between server and clients ("parameters": tensor name to
 * {@link HostTensor}, e.g. {@code encoder.layer.0.attention.self.query.lora_B.weight}). Maps are kept sorted by
 * name so that every loop over them, and hence every result, is deterministic.
 */
public final class Parameters {
    private Parameters() {
    }

    /** An unmodifiable copy sorted by key; values are shared, not copied. Rejects null keys and values. */
    public static <V> SortedMap<String, V> sortedCopy(Map<String, V> map) {
        Objects.requireNonNull(map, "map");
        TreeMap<String, V> copy = new TreeMap<>();
        map.forEach((k, v) -> copy.put(Objects.requireNonNull(k, "null key"),
                Objects.requireNonNull(v, () -> "null value for '" + k + "'")));
        return Collections.unmodifiableSortedMap(copy);
    }

    /** A copy that shares nothing with the input (fresh shape arrays and byte buffers), sorted by name. */
    public static SortedMap<String, HostTensor> deepCopy(Map<String, HostTensor> parameters) {
        TreeMap<String, HostTensor> copy = new TreeMap<>();
        parameters.forEach((name, tensor) -> copy.put(name, deepCopy(tensor)));
        return Collections.unmodifiableSortedMap(copy);
    }

    /** A copy of one tensor that shares nothing with it. */
    public static HostTensor deepCopy(HostTensor tensor) {
        return HostTensor.ofBytes(tensor.dtype(), tensor.toBytes(), tensor.shape());
    }

    /**
     * The payload of a message in bytes: Σ byteSize over its tensors. This is what bytes_up and bytes_down report;
     * names, shapes, configs and metrics are not counted (they are a few hundred bytes per message).
     */
    public static long byteSize(Map<String, HostTensor> parameters) {
        long total = 0;
        for (HostTensor t : parameters.values()) {
            total = Math.addExact(total, t.byteSize());
        }
        return total;
    }

    /**
     * The values of an F32 tensor; anything else is an error naming the tensor and where it came from
     * (the federated layer computes in float32 only).
     */
    public static float[] floats(String name, HostTensor tensor, String source) {
        if (tensor.dtype() != DType.F32) {
            throw new IllegalArgumentException("tensor '" + name + "' from " + source + " is " + tensor.dtype()
                    + "; federated parameters must be F32 (convert with HostTensor.ofFloats(t.toFloats(), shape))");
        }
        return tensor.toFloats();
    }

    /** Fails with a message naming the tensor and both sources unless the two shapes are equal. */
    public static void requireSameShape(String name, HostTensor expected, String expectedSource, HostTensor actual,
                                        String actualSource) {
        if (!Arrays.equals(expected.shape(), actual.shape())) {
            throw new IllegalArgumentException("tensor '" + name + "' from " + actualSource + " has shape "
                    + Arrays.toString(actual.shape()) + " but " + expectedSource + " has "
                    + Arrays.toString(expected.shape()) + "; every participant must use the same shapes");
        }
    }
}
