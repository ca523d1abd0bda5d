package org.fedqlora.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.TensorSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The embedded all-MiniLM-L6-v2 ONNX export turned into HuggingFace BertModel weights (read once, ~1 s). */
class MiniLmTest {
    private static final String WHERE = "classpath:" + EmbeddedModels.MINILM_ONNX_RESOURCE;
    /** all-MiniLM-L6-v2 without its pooler (which the export drops): 22,713,216 - 384 * 384 - 384. */
    private static final long PARAMETERS = 22_565_376L;
    private static final String QUERY_BIAS_0 = "encoder.layer.0.attention.self.query.bias";

    private static OnnxModel onnx;
    private static TensorSource weights;

    @BeforeAll
    static void readOnce() throws Exception {
        long t0 = System.nanoTime();
        onnx = OnnxReader.readResource(EmbeddedModels.MINILM_ONNX_RESOURCE);
        long t1 = System.nanoTime();
        weights = MiniLm.fromOnnx(onnx, WHERE);
        System.out.printf("MiniLmTest: read ONNX %.0f ms, convert %.0f ms (%s, IR %d, opset %d, %d nodes)%n",
                (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6, onnx.producer(), onnx.irVersion(),
                onnx.opsetVersion(), onnx.nodes().size());
    }

    @Test
    void everyBertWeightIsPresentWithItsHuggingFaceShapeAndNothingElse() {
        Map<String, long[]> expected = MiniLm.expectedShapes();

        assertThat(expected).hasSize(101);
        assertThat(weights.names()).containsExactlyElementsOf(expected.keySet());
        expected.forEach((name, shape) -> assertThat(weights.get(name).shape()).as(name).containsExactly(shape));
        assertThat(weights.names().stream().mapToLong(n -> weights.get(n).numel()).sum()).isEqualTo(PARAMETERS);
    }

    @Test
    void queryWeightOfLayer0IsTheTransposedInitializerWhoseMatMulFeedsTheQueryBiasAdd() {
        // Prepare: follow the graph from the bias back to its MatMul's weight
        OnnxNode add = onnx.consumers(QUERY_BIAS_0).get(0);
        String product = add.inputs().get(add.inputs().get(0).equals(QUERY_BIAS_0) ? 1 : 0);
        OnnxNode matMul = onnx.producer(product).orElseThrow();
        HostTensor inOut = onnx.initializers().get(matMul.inputs().get(1));

        // Execute
        HostTensor outIn = weights.get("encoder.layer.0.attention.self.query.weight");

        // Assert
        assertThat(matMul.opType()).isEqualTo("MatMul");
        assertThat(matMul.name()).isEqualTo("/encoder/layer.0/attention/self/query/MatMul");
        assertThat(inOut.shape()).containsExactly(384, 384);
        float[] a = inOut.toFloats();
        float[] b = outIn.toFloats();
        for (int in = 0; in < 384; in++) {
            for (int out = 0; out < 384; out++) {
                assertThat(b[out * 384 + in]).isEqualTo(a[in * 384 + out]);
            }
        }
    }

    @Test
    void everyLinearWeightComesFromTheMatMulNodeOfItsModule() {
        // torch.onnx names each MatMul node after its module: /encoder/layer.3/intermediate/dense/MatMul
        int checked = 0;
        for (String name : weights.names()) {
            if (!name.endsWith("dense.weight") && !name.matches(".*\\.(query|key|value)\\.weight")) {
                continue;
            }
            String module = name.substring(0, name.length() - ".weight".length());
            String nodeName = "/" + module.replace('.', '/').replaceAll("layer/(\\d+)", "layer.$1") + "/MatMul";
            OnnxNode matMul = onnx.nodes().stream().filter(n -> n.name().equals(nodeName)).findFirst().orElseThrow();
            HostTensor inOut = onnx.initializers().get(matMul.inputs().get(1));
            HostTensor expected = BertOnnxConverter.transpose(inOut, name, WHERE);
            assertThat(weights.get(name).toBytes()).as(name).isEqualTo(expected.toBytes());
            checked++;
        }
        assertThat(checked).isEqualTo(6 * MiniLm.LAYERS);
    }

    @Test
    void namedInitializersPassThroughUnchanged() {
        for (String name : new String[]{"embeddings.word_embeddings.weight", "embeddings.LayerNorm.bias",
                QUERY_BIAS_0, "encoder.layer.5.output.LayerNorm.weight"}) {
            assertThat(weights.get(name).toBytes()).as(name).isEqualTo(onnx.initializers().get(name).toBytes());
        }
    }

    @Test
    void configJsonAgreesWithTheWeightShapes() throws Exception {
        JsonNode c = new ObjectMapper().readTree(MiniLm.configJson());

        assertThat(c.get("model_type").asText()).isEqualTo("bert");
        assertThat(c.get("_name_or_path").asText()).isEqualTo("sentence-transformers/all-MiniLM-L6-v2");
        assertThat(c.get("vocab_size").asLong()).isEqualTo(weights.get("embeddings.word_embeddings.weight").shape()[0]);
        assertThat(c.get("hidden_size").asLong()).isEqualTo(weights.get("embeddings.LayerNorm.weight").shape()[0]);
        assertThat(c.get("max_position_embeddings").asLong())
                .isEqualTo(weights.get("embeddings.position_embeddings.weight").shape()[0]);
        assertThat(c.get("type_vocab_size").asLong())
                .isEqualTo(weights.get("embeddings.token_type_embeddings.weight").shape()[0]);
        assertThat(c.get("intermediate_size").asLong())
                .isEqualTo(weights.get("encoder.layer.0.intermediate.dense.weight").shape()[0]);
        assertThat(weights.names()).filteredOn(n -> n.matches("encoder\\.layer\\.\\d+\\.output\\.dense\\.weight"))
                .hasSize(c.get("num_hidden_layers").asInt());
        assertThat(c.get("num_attention_heads").asInt()).isEqualTo(12);
        assertThat(c.get("layer_norm_eps").asDouble()).isEqualTo(1e-12);
        assertThat(c.get("hidden_act").asText()).isEqualTo("gelu");
        assertThat(c.get("pad_token_id").asInt()).isZero();
    }

    @Test
    void missingWeightIsReportedByName() {
        Map<String, HostTensor> initializers = new LinkedHashMap<>(onnx.initializers());
        initializers.remove("embeddings.token_type_embeddings.weight");
        OnnxModel broken = new OnnxModel(onnx.irVersion(), onnx.producer(), onnx.opsetVersion(), onnx.nodes(),
                initializers, onnx.constants());

        assertThatThrownBy(() -> MiniLm.fromOnnx(broken, "broken.onnx")).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("broken.onnx: no tensor for 'embeddings.token_type_embeddings.weight'");
    }

    @Test
    void layerNormEpsilonOtherThanMiniLmsIsRejected() {
        Map<String, HostTensor> constants = new LinkedHashMap<>(onnx.constants());
        constants.put("/embeddings/LayerNorm/Constant_1_output_0", HostTensor.ofFloats(new float[]{1e-5f}));
        OnnxModel other = new OnnxModel(onnx.irVersion(), onnx.producer(), onnx.opsetVersion(), onnx.nodes(),
                onnx.initializers(), constants);

        assertThatThrownBy(() -> MiniLm.fromOnnx(other, "other.onnx")).isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("LayerNorm epsilon 1.0E-12").hasMessageContaining("1.0E-5");
    }
}
