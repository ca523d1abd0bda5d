package org.fedqlora.model.onnx;

import java.util.List;

/**
 * One node of an ONNX graph: which operator it runs and which named values it reads and writes. Attributes are not
 * kept (a Constant node's value is in {@link OnnxModel#constants()}).
 *
 * @param name    the node's name, "" when the file has none
 * @param opType  the operator, e.g. "MatMul", "Add", "LayerNormalization"
 * @param domain  the operator set domain, "" for the default ONNX domain
 * @param inputs  names of the values read, in operator order ("" for an omitted optional input)
 * @param outputs names of the values written
 */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs) {
    public OnnxNode {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }
}
