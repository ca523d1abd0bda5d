package org.fedqlora.tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Tensors held in a map, e.g. read from an ONNX file or received over the wire. */
public final class MapTensorSource implements TensorSource {
    private final String description;
    private final Map<String, HostTensor> tensors;

    public MapTensorSource(String description, Map<String, HostTensor> tensors) {
        this.description = description;
        this.tensors = new LinkedHashMap<>(tensors);
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    @Override
    public HostTensor get(String name) {
        HostTensor t = tensors.get(name);
        if (t == null) {
            throw new SafetensorsException(description + ": missing tensor '" + name + "'");
        }
        return t;
    }

    @Override
    public String describe() {
        return description;
    }
}
