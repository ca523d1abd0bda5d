package org.fedqlora.model.onnx;

import org.fedqlora.tensor.HostTensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@link OnnxReader} keeps of an ONNX ModelProto: provenance, the main graph's nodes in file (topological)
 * order, its initializers, and the tensors produced by its Constant nodes.
 *
 * @param irVersion       ModelProto.ir_version
 * @param producer        producer name and version, e.g. "pytorch 2.1.0"
 * @param opsetVersion    version of the default ("" or "ai.onnx") operator set, 0 when not imported
 * @param nodes           the graph's nodes, in file order
 * @param initializers    initializers by name, in file order
 * @param constants       Constant nodes' values by output name
 */
public record OnnxModel(long irVersion, String producer, long opsetVersion, List<OnnxNode> nodes,
                        Map<String, HostTensor> initializers, Map<String, HostTensor> constants) {
    public OnnxModel {
        nodes = List.copyOf(nodes);
        initializers = Collections.unmodifiableMap(new LinkedHashMap<>(initializers));
        constants = Collections.unmodifiableMap(new LinkedHashMap<>(constants));
    }

    /** An initializer or Constant output with this name, if any. */
    public Optional<HostTensor> tensor(String name) {
        HostTensor t = initializers.get(name);
        return Optional.ofNullable(t != null ? t : constants.get(name));
    }

    /** The node that writes the value {@code name}, if any (graph inputs and initializers have none). */
    public Optional<OnnxNode> producer(String name) {
        return nodes.stream().filter(n -> n.outputs().contains(name)).findFirst();
    }

    /** The nodes that read the value {@code name}, in file order. */
    public List<OnnxNode> consumers(String name) {
        return nodes.stream().filter(n -> n.inputs().contains(name)).toList();
    }
}
