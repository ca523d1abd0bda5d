package org.fedqlora.model.onnx;

import org.fedqlora.tensor.HostTensor;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Gives the initializers of a torch.onnx export of a HuggingFace model back their state-dict names and layouts.
 *
 * <p>torch.onnx keeps the names of tensors it uses as they are (biases, LayerNorm weights, embedding tables), but
 * folds each {@code nn.Linear} weight W (out, in) into a MatMul by its transpose, stored (in, out) under an anonymous
 * name such as {@code onnx::MatMul_787}. The linear layer's bias is then added to the MatMul's result:
 * <pre>
 *   y = Add(bias "encoder.layer.0.attention.self.query.bias", MatMul(x, "onnx::MatMul_787"))
 * </pre>
 * so the weight is named after the bias ({@code ....query.weight}) and transposed back to (out, in).
 */
public final class BertOnnxConverter {
    /** The prefix torch.onnx gives initializers that lost their name. */
    private static final String ANONYMOUS = "onnx::";
    private static final String BIAS = ".bias";
    private static final String WEIGHT = ".weight";

    private BertOnnxConverter() {
    }

    /**
     * Every initializer under its HuggingFace name: named ones as they are, anonymous MatMul weights named after
     * their bias and transposed to (out, in).
     *
     * @param where names the model in error messages
     * @throws OnnxFormatException if an anonymous initializer is not a linear layer's weight followed by its bias
     */
    public static Map<String, HostTensor> huggingFaceTensors(OnnxModel model, String where) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        Set<String> renamed = new HashSet<>();
        for (OnnxNode node : model.nodes()) {
            String w = node.opType().equals("MatMul") && node.inputs().size() == 2 ? node.inputs().get(1) : "";
            if (w.startsWith(ANONYMOUS) && model.initializers().containsKey(w)) {
                put(out, linearWeightName(model, node, where), transpose(model.initializers().get(w), w, where),
                        where);
                renamed.add(w);
            }
        }
        for (Map.Entry<String, HostTensor> e : model.initializers().entrySet()) {
            if (!e.getKey().startsWith(ANONYMOUS)) {
                put(out, e.getKey(), e.getValue(), where);
            } else if (!renamed.contains(e.getKey())) {
                throw new OnnxFormatException(where + ": initializer '" + e.getKey() + "' " + e.getValue()
                        + " has no name and is not the weight of a MatMul followed by a named bias, so its "
                        + "HuggingFace name is unknown; re-export the model with torch.onnx.export(..., "
                        + "do_constant_folding=True) from the HuggingFace model");
            }
        }
        return out;
    }

    /** "x.weight" for the MatMul whose only reader is an Add of the initializer "x.bias". */
    private static String linearWeightName(OnnxModel model, OnnxNode matMul, String where) {
        List<OnnxNode> readers = model.consumers(matMul.outputs().get(0));
        if (readers.size() == 1 && readers.get(0).opType().equals("Add")) {
            for (String in : readers.get(0).inputs()) {
                if (in.endsWith(BIAS) && model.initializers().containsKey(in)) {
                    return in.substring(0, in.length() - BIAS.length()) + WEIGHT;
                }
            }
        }
        throw new OnnxFormatException(where + ": MatMul node '" + matMul.name() + "' multiplies by the unnamed "
                + "initializer '" + matMul.inputs().get(1) + "', but its result is not added to a named '*.bias' "
                + "initializer, so the weight's HuggingFace name is unknown");
    }

    private static void put(Map<String, HostTensor> out, String name, HostTensor t, String where) {
        if (out.put(name, t) != null) {
            throw new OnnxFormatException(where + ": two initializers map to the HuggingFace name '" + name + "'");
        }
    }

    /** The transpose of a 2-D tensor of any dtype: (rows, cols) to (cols, rows). */
    static HostTensor transpose(HostTensor t, String name, String where) {
        if (t.shape().length != 2) {
            throw new OnnxFormatException(where + ": MatMul weight '" + name + "' has shape " + t
                    + ", expected a 2-D (in, out) matrix");
        }
        int rows = Math.toIntExact(t.shape()[0]);
        int cols = Math.toIntExact(t.shape()[1]);
        int e = t.dtype().bytes;
        byte[] src = t.toBytes();
        byte[] dst = new byte[src.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                System.arraycopy(src, (r * cols + c) * e, dst, (c * rows + r) * e, e);
            }
        }
        return new HostTensor(t.dtype(), new long[]{cols, rows}, ByteBuffer.wrap(dst));
    }
}
