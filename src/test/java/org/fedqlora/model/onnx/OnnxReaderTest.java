package org.fedqlora.model.onnx;

import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.Half;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** OnnxReader on small models written field by field (field numbers from onnx/onnx.proto). */
class OnnxReaderTest {
    // ModelProto
    private static final int IR_VERSION = 1;
    private static final int PRODUCER_NAME = 2;
    private static final int PRODUCER_VERSION = 3;
    private static final int GRAPH = 7;
    private static final int OPSET_IMPORT = 8;
    // GraphProto
    private static final int NODE = 1;
    private static final int INITIALIZER = 5;
    // NodeProto
    private static final int INPUT = 1;
    private static final int OUTPUT = 2;
    private static final int NAME = 3;
    private static final int OP_TYPE = 4;
    private static final int ATTRIBUTE = 5;
    // AttributeProto
    private static final int ATTR_NAME = 1;
    private static final int ATTR_F = 2;
    private static final int ATTR_T = 5;
    // TensorProto
    private static final int DIMS = 1;
    private static final int DATA_TYPE = 2;
    private static final int FLOAT_DATA = 4;
    private static final int INT32_DATA = 5;
    private static final int INT64_DATA = 7;
    private static final int TENSOR_NAME = 8;
    private static final int RAW_DATA = 9;
    private static final int DATA_LOCATION = 14;
    private static final int FLOAT = 1;
    private static final int INT32 = 6;
    private static final int INT64 = 7;
    private static final int STRING = 8;
    private static final int FLOAT16 = 10;

    private static OnnxModel modelWith(Proto graph) {
        return OnnxReader.read(new Proto().message(GRAPH, graph).toByteArray(), "test.onnx");
    }

    private static HostTensor onlyInitializer(Proto tensor) {
        return modelWith(new Proto().message(INITIALIZER, tensor)).initializers().get("t");
    }

    @Test
    void rawDataInitializerIsReadAsLittleEndianFloats() {
        // Prepare
        ByteBuffer raw = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(new float[]{1, 2, 3, 4, 5, -6.5f});
        Proto tensor = new Proto().packedVarints(DIMS, 2, 3).varint(DATA_TYPE, FLOAT).string(TENSOR_NAME, "t")
                .bytes(RAW_DATA, raw.array());

        // Execute
        HostTensor t = onlyInitializer(tensor);

        // Assert
        assertThat(t.dtype()).isEqualTo(DType.F32);
        assertThat(t.shape()).containsExactly(2, 3);
        assertThat(t.toFloats()).containsExactly(1, 2, 3, 4, 5, -6.5f);
    }

    @Test
    void typedFloatInt64Int32AndFloat16FieldsAreConvertedToTheirDtypes() {
        // Prepare
        Proto floats = new Proto().packedVarints(DIMS, 2).varint(DATA_TYPE, FLOAT).string(TENSOR_NAME, "t")
                .packedFloats(FLOAT_DATA, 0.25f, -1f);
        Proto longs = new Proto().packedVarints(DIMS, 3).varint(DATA_TYPE, INT64).string(TENSOR_NAME, "t")
                .packedVarints(INT64_DATA, 1, -2, 1L << 40);
        Proto ints = new Proto().packedVarints(DIMS, 2).varint(DATA_TYPE, INT32).string(TENSOR_NAME, "t")
                .packedVarints(INT32_DATA, 7, -8);
        Proto halves = new Proto().packedVarints(DIMS, 2).varint(DATA_TYPE, FLOAT16).string(TENSOR_NAME, "t")
                .packedVarints(INT32_DATA, Half.floatToF16(1.5f) & 0xFFFF, Half.floatToF16(-2f) & 0xFFFF);

        // Execute
        HostTensor f = onlyInitializer(floats);
        HostTensor l = onlyInitializer(longs);
        HostTensor i = onlyInitializer(ints);
        HostTensor h = onlyInitializer(halves);

        // Assert
        assertThat(f.toFloats()).containsExactly(0.25f, -1f);
        assertThat(l.dtype()).isEqualTo(DType.I64);
        assertThat(l.toLongs()).containsExactly(1, -2, 1L << 40);
        assertThat(i.dtype()).isEqualTo(DType.I32);
        assertThat(i.toLongs()).containsExactly(7, -8);
        assertThat(h.dtype()).isEqualTo(DType.F16);
        assertThat(h.toFloats()).containsExactly(1.5f, -2f);
    }

    @Test
    void unpackedRepeatedFieldsAreReadLikePackedOnes() {
        // Prepare: dims and float_data written one element per field, data_type after the data
        Proto tensor = new Proto().varint(DIMS, 1).varint(DIMS, 2).string(TENSOR_NAME, "t")
                .fixed32Float(FLOAT_DATA, 3f).fixed32Float(FLOAT_DATA, 4f).varint(DATA_TYPE, FLOAT);

        // Execute
        HostTensor t = onlyInitializer(tensor);

        // Assert
        assertThat(t.shape()).containsExactly(1, 2);
        assertThat(t.toFloats()).containsExactly(3f, 4f);
    }

    @Test
    void nodesKeepTheirWiringAndConstantNodesTheirValues() {
        // Prepare: c1 = Constant(value = tensor [2]), c2 = Constant(value_float = 0.5), y = MatMul(x, c1)
        Proto tensorValue = new Proto().packedVarints(DIMS, 2).varint(DATA_TYPE, INT64)
                .packedVarints(INT64_DATA, 12, 32);
        Proto c1 = new Proto().string(OUTPUT, "c1").string(NAME, "/Constant").string(OP_TYPE, "Constant")
                .message(ATTRIBUTE, new Proto().string(ATTR_NAME, "value").message(ATTR_T, tensorValue));
        Proto c2 = new Proto().string(OUTPUT, "c2").string(NAME, "/Constant_1").string(OP_TYPE, "Constant")
                .message(ATTRIBUTE, new Proto().string(ATTR_NAME, "value_float").fixed32Float(ATTR_F, 0.5f));
        Proto matMul = new Proto().string(INPUT, "x").string(INPUT, "c1").string(OUTPUT, "y")
                .string(NAME, "/MatMul").string(OP_TYPE, "MatMul");

        // Execute
        OnnxModel m = modelWith(new Proto().message(NODE, c1).message(NODE, c2).message(NODE, matMul));

        // Assert
        assertThat(m.nodes()).extracting(OnnxNode::opType).containsExactly("Constant", "Constant", "MatMul");
        assertThat(m.nodes().get(2)).isEqualTo(new OnnxNode("/MatMul", "MatMul", "", List.of("x", "c1"),
                List.of("y")));
        assertThat(m.constants().get("c1").toLongs()).containsExactly(12, 32);
        assertThat(m.constants().get("c2").toFloats()).containsExactly(0.5f);
        assertThat(m.tensor("c2")).isPresent();
        assertThat(m.producer("y")).map(OnnxNode::name).contains("/MatMul");
        assertThat(m.consumers("c1")).extracting(OnnxNode::name).containsExactly("/MatMul");
    }

    @Test
    void provenanceAndDefaultDomainOpsetAreRead() {
        // Prepare
        byte[] bytes = new Proto().varint(IR_VERSION, 6).string(PRODUCER_NAME, "pytorch")
                .string(PRODUCER_VERSION, "2.0.1")
                .message(OPSET_IMPORT, new Proto().string(1, "com.microsoft").varint(2, 1))
                .message(OPSET_IMPORT, new Proto().varint(2, 11))
                .message(GRAPH, new Proto()).toByteArray();

        // Execute
        OnnxModel m = OnnxReader.read(bytes, "test.onnx");

        // Assert
        assertThat(m.irVersion()).isEqualTo(6);
        assertThat(m.producer()).isEqualTo("pytorch 2.0.1");
        assertThat(m.opsetVersion()).isEqualTo(11);
    }

    @Test
    void tensorWithExternalDataIsRejectedWithAHint() {
        Proto tensor = new Proto().packedVarints(DIMS, 2).varint(DATA_TYPE, FLOAT).string(TENSOR_NAME, "t")
                .varint(DATA_LOCATION, 1);

        assertThatThrownBy(() -> onlyInitializer(tensor)).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("'t' keeps its data in an external file")
                .hasMessageContaining("save_as_external_data=False");
    }

    @Test
    void tensorWhoseValueCountDiffersFromItsShapeIsRejected() {
        Proto tensor = new Proto().packedVarints(DIMS, 2, 2).varint(DATA_TYPE, FLOAT).string(TENSOR_NAME, "t")
                .packedFloats(FLOAT_DATA, 1, 2, 3);

        assertThatThrownBy(() -> onlyInitializer(tensor)).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("tensor 't' of shape [2, 2] has 3 values");
    }

    @Test
    void stringTensorIsRejectedNamingTheType() {
        Proto tensor = new Proto().packedVarints(DIMS, 1).varint(DATA_TYPE, STRING).string(TENSOR_NAME, "t");

        assertThatThrownBy(() -> onlyInitializer(tensor)).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("tensor 't' has ONNX data type 8");
    }

    @Test
    void bytesThatAreNotAModelAreRejected() {
        byte[] wrongWireType = new Proto().fixed64(GRAPH, 42).toByteArray();

        assertThatThrownBy(() -> OnnxReader.read(new byte[0], "empty.onnx")).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("empty.onnx: no graph in the model");
        assertThatThrownBy(() -> OnnxReader.read(wrongWireType, "bad.onnx")).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("bad.onnx: field 7 has wire type 1, expected 2");
    }
}
