package org.fedqlora.model.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the weights and the wiring of an ONNX model straight from the protobuf wire format (no generated classes).
 * The whole file is held in one byte array and every {@code raw_data} initializer is a zero-copy view into it, so a
 * model costs its file size in memory once.
 *
 * <p>Messages and field numbers used (from onnx/onnx.proto; everything else is skipped unread):
 * <pre>
 * ModelProto        1 ir_version (int64)   2 producer_name   3 producer_version   7 graph (GraphProto)
 *                   8 opset_import (OperatorSetIdProto: 1 domain, 2 version)
 * GraphProto        1 node (NodeProto)     5 initializer (TensorProto)   15 sparse_initializer (rejected)
 * NodeProto         1 input   2 output   3 name   4 op_type   7 domain   5 attribute (AttributeProto)
 * AttributeProto    1 name   2 f (float)   3 i (int64)   5 t (TensorProto)   7 floats   8 ints
 * TensorProto       1 dims (int64)   2 data_type   8 name   9 raw_data (little-endian bytes)
 *                   4 float_data   5 int32_data   7 int64_data   10 double_data   (typed data, packed or not)
 *                   3 segment, 13 external_data, 14 data_location=EXTERNAL (rejected)
 * </pre>
 * Data types (TensorProto.DataType) read: FLOAT=1, UINT8=2, INT8=3, INT16=5, INT32=6, INT64=7, BOOL=9,
 * FLOAT16=10, DOUBLE=11, BFLOAT16=16. In {@code int32_data}, FLOAT16 and BFLOAT16 are stored as their 16 bits.
 */
public final class OnnxReader {
    private static final int MODEL_IR_VERSION = 1;
    private static final int MODEL_PRODUCER_NAME = 2;
    private static final int MODEL_PRODUCER_VERSION = 3;
    private static final int MODEL_GRAPH = 7;
    private static final int MODEL_OPSET_IMPORT = 8;
    private static final int OPSET_DOMAIN = 1;
    private static final int OPSET_VERSION = 2;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int GRAPH_SPARSE_INITIALIZER = 15;
    private static final int NODE_INPUT = 1;
    private static final int NODE_OUTPUT = 2;
    private static final int NODE_NAME = 3;
    private static final int NODE_OP_TYPE = 4;
    private static final int NODE_ATTRIBUTE = 5;
    private static final int NODE_DOMAIN = 7;
    private static final int ATTR_NAME = 1;
    private static final int ATTR_F = 2;
    private static final int ATTR_I = 3;
    private static final int ATTR_T = 5;
    private static final int ATTR_FLOATS = 7;
    private static final int ATTR_INTS = 8;
    private static final int TENSOR_DIMS = 1;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_SEGMENT = 3;
    private static final int TENSOR_FLOAT_DATA = 4;
    private static final int TENSOR_INT32_DATA = 5;
    private static final int TENSOR_INT64_DATA = 7;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;
    private static final int TENSOR_DOUBLE_DATA = 10;
    private static final int TENSOR_EXTERNAL_DATA = 13;
    private static final int TENSOR_DATA_LOCATION = 14;
    private static final int DATA_LOCATION_EXTERNAL = 1;

    private final byte[] bytes;
    private final String where;
    private final CodedInputStream in;

    private OnnxReader(byte[] bytes, String where) {
        this.bytes = bytes;
        this.where = where;
        this.in = CodedInputStream.newInstance(bytes);
    }

    /** Reads an ONNX file. */
    public static OnnxModel read(Path file) throws IOException {
        return read(Files.readAllBytes(file), file.toString());
    }

    /** Reads an ONNX model from a classpath resource (e.g. one shipped inside a jar). */
    public static OnnxModel readResource(String resource) throws IOException {
        try (InputStream s = OnnxReader.class.getClassLoader().getResourceAsStream(resource)) {
            if (s == null) {
                throw new OnnxFormatException("classpath resource '" + resource + "' not found: is the jar that "
                        + "ships it on the classpath?");
            }
            return read(s.readAllBytes(), "classpath:" + resource);
        }
    }

    /**
     * Reads an ONNX ModelProto held in {@code bytes}; the returned raw-data tensors are views of the array.
     *
     * @param where names the source in error messages
     */
    public static OnnxModel read(byte[] bytes, String where) {
        try {
            return new OnnxReader(bytes, where).model();
        } catch (IOException e) {
            throw new OnnxFormatException(where + ": not a readable ONNX model (" + e.getMessage() + ")", e);
        }
    }

    private OnnxModel model() throws IOException {
        long irVersion = 0;
        String producerName = "";
        String producerVersion = "";
        long opset = 0;
        Graph graph = null;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case MODEL_IR_VERSION -> irVersion = expect(tag, WireFormat.WIRETYPE_VARINT).readInt64();
                case MODEL_PRODUCER_NAME -> producerName = string(tag);
                case MODEL_PRODUCER_VERSION -> producerVersion = string(tag);
                case MODEL_GRAPH -> graph = message(tag, this::graph);
                case MODEL_OPSET_IMPORT -> opset = Math.max(opset, message(tag, this::defaultOpsetVersion));
                default -> in.skipField(tag);
            }
        }
        if (graph == null) {
            throw new OnnxFormatException(where + ": no graph in the model: is this an ONNX file?");
        }
        String producer = (producerName + " " + producerVersion).trim();
        return new OnnxModel(irVersion, producer, opset, graph.nodes, graph.initializers, graph.constants);
    }

    /** The version of an OperatorSetIdProto for the default domain, 0 for other domains. */
    private long defaultOpsetVersion() throws IOException {
        String domain = "";
        long version = 0;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case OPSET_DOMAIN -> domain = string(tag);
                case OPSET_VERSION -> version = expect(tag, WireFormat.WIRETYPE_VARINT).readInt64();
                default -> in.skipField(tag);
            }
        }
        return domain.isEmpty() || domain.equals("ai.onnx") ? version : 0;
    }

    private record Graph(List<OnnxNode> nodes, Map<String, HostTensor> initializers,
                         Map<String, HostTensor> constants) {
    }

    private Graph graph() throws IOException {
        Graph g = new Graph(new ArrayList<>(), new LinkedHashMap<>(), new LinkedHashMap<>());
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case GRAPH_NODE -> g.nodes.add(message(tag, () -> node(g.constants)));
                case GRAPH_INITIALIZER -> {
                    NamedTensor t = message(tag, this::tensor);
                    if (g.initializers.put(t.name, t.tensor) != null) {
                        throw new OnnxFormatException(where + ": initializer '" + t.name + "' appears twice");
                    }
                }
                case GRAPH_SPARSE_INITIALIZER -> throw new OnnxFormatException(where
                        + ": sparse initializers are not supported; densify the model (e.g. with onnx's "
                        + "numpy_helper) and try again");
                default -> in.skipField(tag);
            }
        }
        return g;
    }

    /** Reads a NodeProto; a Constant node's value goes into {@code constants} under its output name. */
    private OnnxNode node(Map<String, HostTensor> constants) throws IOException {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String name = "";
        String opType = "";
        String domain = "";
        List<NamedTensor> attributes = new ArrayList<>();
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case NODE_INPUT -> inputs.add(string(tag));
                case NODE_OUTPUT -> outputs.add(string(tag));
                case NODE_NAME -> name = string(tag);
                case NODE_OP_TYPE -> opType = string(tag);
                case NODE_DOMAIN -> domain = string(tag);
                case NODE_ATTRIBUTE -> attributes.add(message(tag, this::attribute));
                default -> in.skipField(tag);
            }
        }
        OnnxNode node = new OnnxNode(name, opType, domain, inputs, outputs);
        if (opType.equals("Constant") && domain.isEmpty() && !outputs.isEmpty()) {
            constants.put(outputs.get(0), constantValue(node, attributes));
        }
        return node;
    }

    private HostTensor constantValue(OnnxNode node, List<NamedTensor> attributes) {
        return attributes.stream().filter(a -> a.tensor != null).findFirst()
                .orElseThrow(() -> new OnnxFormatException(where + ": Constant node '" + node.name() + "' has no "
                        + "numeric value (value, value_float(s) or value_int(s)); string and sparse constants are "
                        + "not supported"))
                .tensor;
    }

    /**
     * Reads an AttributeProto. Its value is kept as a tensor when it is one (t) or a number or list of numbers
     * (f, i, floats, ints: the forms a Constant node's value can take); otherwise the tensor is null.
     */
    private NamedTensor attribute() throws IOException {
        String name = "";
        HostTensor value = null;
        TypedValues floats = new TypedValues(TENSOR_FLOAT_DATA);
        TypedValues ints = new TypedValues(TENSOR_INT64_DATA);
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case ATTR_NAME -> name = string(tag);
                case ATTR_F -> value = HostTensor.ofFloats(
                        new float[]{expect(tag, WireFormat.WIRETYPE_FIXED32).readFloat()});
                case ATTR_I -> value = HostTensor.ofLongs(
                        new long[]{expect(tag, WireFormat.WIRETYPE_VARINT).readInt64()});
                case ATTR_T -> value = message(tag, this::tensor).tensor;
                case ATTR_FLOATS -> repeated(tag, floats);
                case ATTR_INTS -> repeated(tag, ints);
                default -> in.skipField(tag);
            }
        }
        if (floats.size > 0) {
            value = floats.toTensor(DType.F32, new long[]{floats.size}, name);
        } else if (ints.size > 0) {
            value = ints.toTensor(DType.I64, new long[]{ints.size}, name);
        }
        return new NamedTensor(name, value);
    }

    private record NamedTensor(String name, HostTensor tensor) {
    }

    /** Reads a TensorProto; its data is a view of the file's bytes when stored as raw_data. */
    private NamedTensor tensor() throws IOException {
        String name = "";
        TypedValues dims = new TypedValues(TENSOR_DIMS);
        int dataType = 0;
        int rawOffset = -1;
        int rawLength = 0;
        TypedValues typed = null;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            switch (field) {
                case TENSOR_DIMS -> repeated(tag, dims);
                case TENSOR_DATA_TYPE -> dataType = expect(tag, WireFormat.WIRETYPE_VARINT).readInt32();
                case TENSOR_NAME -> name = string(tag);
                case TENSOR_RAW_DATA -> {
                    rawLength = expect(tag, WireFormat.WIRETYPE_LENGTH_DELIMITED).readRawVarint32();
                    rawOffset = in.getTotalBytesRead();
                    in.skipRawBytes(rawLength);
                }
                case TENSOR_FLOAT_DATA, TENSOR_INT32_DATA, TENSOR_INT64_DATA, TENSOR_DOUBLE_DATA -> {
                    if (typed == null) {
                        typed = new TypedValues(field);
                    }
                    repeated(tag, typed);
                }
                case TENSOR_SEGMENT -> throw unsupported(name, "is split into segments");
                case TENSOR_EXTERNAL_DATA -> throw unsupported(name, "keeps its data in an external file");
                case TENSOR_DATA_LOCATION -> {
                    if (expect(tag, WireFormat.WIRETYPE_VARINT).readInt32() == DATA_LOCATION_EXTERNAL) {
                        throw unsupported(name, "keeps its data in an external file");
                    }
                }
                default -> in.skipField(tag);
            }
        }
        long[] shape = dims.toLongs();
        for (long d : shape) {
            if (d < 0) {
                throw new OnnxFormatException(where + ": tensor '" + name + "' has a negative dimension "
                        + Arrays.toString(shape));
            }
        }
        DType dtype = dtype(dataType, name);
        if (rawOffset >= 0) {
            return new NamedTensor(name, new HostTensor(dtype, shape, ByteBuffer.wrap(bytes, rawOffset, rawLength)));
        }
        if (typed != null) {
            return new NamedTensor(name, typed.toTensor(dtype, shape, name));
        }
        if (HostTensor.numel(shape) == 0) {
            return new NamedTensor(name, new HostTensor(dtype, shape, ByteBuffer.allocate(0)));
        }
        throw new OnnxFormatException(where + ": tensor '" + name + "' of shape " + Arrays.toString(shape)
                + " has no data");
    }

    private OnnxFormatException unsupported(String tensor, String what) {
        return new OnnxFormatException(where + ": tensor '" + tensor + "' " + what + ", which is not supported; "
                + "save the model with all tensors inside the .onnx file (onnx.save with "
                + "save_as_external_data=False)");
    }

    /** fedqlora's dtype for an ONNX TensorProto.DataType. */
    private DType dtype(int onnxType, String tensor) {
        return switch (onnxType) {
            case 1 -> DType.F32;
            case 2 -> DType.U8;
            case 3 -> DType.I8;
            case 5 -> DType.I16;
            case 6 -> DType.I32;
            case 7 -> DType.I64;
            case 9 -> DType.BOOL;
            case 10 -> DType.F16;
            case 11 -> DType.F64;
            case 16 -> DType.BF16;
            default -> throw new OnnxFormatException(where + ": tensor '" + tensor + "' has ONNX data type "
                    + onnxType + ", which fedqlora cannot hold (supported: FLOAT=1, UINT8=2, INT8=3, INT16=5, "
                    + "INT32=6, INT64=7, BOOL=9, FLOAT16=10, DOUBLE=11, BFLOAT16=16)");
        };
    }

    /**
     * The values of one repeated numeric field, kept as 64-bit words until the element type is known (protobuf
     * does not promise that data_type comes before the data): float bits, double bits or integers.
     */
    private final class TypedValues {
        final int field;
        long[] words = new long[16];
        int size;

        TypedValues(int field) {
            this.field = field;
        }

        void read() throws IOException {
            long w = switch (field) {
                case TENSOR_FLOAT_DATA -> Float.floatToRawIntBits(in.readFloat());
                case TENSOR_DOUBLE_DATA -> Double.doubleToRawLongBits(in.readDouble());
                default -> in.readInt64();
            };
            if (size == words.length) {
                words = Arrays.copyOf(words, size * 2);
            }
            words[size++] = w;
        }

        int wireType() {
            return switch (field) {
                case TENSOR_FLOAT_DATA -> WireFormat.WIRETYPE_FIXED32;
                case TENSOR_DOUBLE_DATA -> WireFormat.WIRETYPE_FIXED64;
                default -> WireFormat.WIRETYPE_VARINT;
            };
        }

        long[] toLongs() {
            return Arrays.copyOf(words, size);
        }

        /** Little-endian bytes of {@code dtype}, checking that this field may hold it. */
        HostTensor toTensor(DType dtype, long[] shape, String tensor) {
            boolean allowed = switch (field) {
                case TENSOR_FLOAT_DATA -> dtype == DType.F32;
                case TENSOR_DOUBLE_DATA -> dtype == DType.F64;
                case TENSOR_INT64_DATA -> dtype == DType.I64;
                default -> dtype != DType.F32 && dtype != DType.F64 && dtype != DType.I64;
            };
            if (!allowed) {
                throw new OnnxFormatException(where + ": tensor '" + tensor + "' of type " + dtype
                        + " stores its values in TensorProto field " + field + ", which cannot hold that type");
            }
            if (size != HostTensor.numel(shape)) {
                throw new OnnxFormatException(where + ": tensor '" + tensor + "' of shape " + Arrays.toString(shape)
                        + " has " + size + " values");
            }
            ByteBuffer b = ByteBuffer.allocate(size * dtype.bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < size; i++) {
                long w = words[i];
                switch (dtype.bytes) {
                    case 8 -> b.putLong(w);
                    case 4 -> b.putInt((int) w);
                    case 2 -> b.putShort((short) w);
                    default -> b.put((byte) w);
                }
            }
            return new HostTensor(dtype, shape, b.flip());
        }
    }

    /** Reads one occurrence of a repeated numeric field, packed (length-delimited) or not. */
    private void repeated(int tag, TypedValues into) throws IOException {
        if (WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            int limit = in.pushLimit(in.readRawVarint32());
            while (in.getBytesUntilLimit() > 0) {
                into.read();
            }
            in.popLimit(limit);
        } else {
            expect(tag, into.wireType());
            into.read();
        }
    }

    private interface Body<T> {
        T read() throws IOException;
    }

    /** Reads an embedded message with {@code body}, which sees the end of the message as the end of input. */
    private <T> T message(int tag, Body<T> body) throws IOException {
        int limit = expect(tag, WireFormat.WIRETYPE_LENGTH_DELIMITED).pushLimit(in.readRawVarint32());
        T value = body.read();
        in.popLimit(limit);
        return value;
    }

    private String string(int tag) throws IOException {
        return expect(tag, WireFormat.WIRETYPE_LENGTH_DELIMITED).readStringRequireUtf8();
    }

    /** The input stream, after checking that the field has the wire type its ONNX definition gives it. */
    private CodedInputStream expect(int tag, int wireType) {
        if (WireFormat.getTagWireType(tag) != wireType) {
            throw new OnnxFormatException(where + ": field " + WireFormat.getTagFieldNumber(tag) + " has wire type "
                    + WireFormat.getTagWireType(tag) + ", expected " + wireType + ": is this an ONNX file?");
        }
        return in;
    }
}
