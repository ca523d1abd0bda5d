package org.fedqlora.model.onnx;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.MapTensorSource;
import org.fedqlora.tensor.TensorSource;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * all-MiniLM-L6-v2 (sentence-transformers): a 6-layer, 384-wide BERT with 22.7M parameters, as exported to ONNX by
 * torch.onnx (LayerNorm and GELU decomposed into elementwise ops, no pooler). Turns the export back into a
 * HuggingFace BertModel state dict and config, checking the export against the architecture below.
 */
public final class MiniLm {
    /** The HuggingFace repository the weights come from, stored as the config's "_name_or_path". */
    public static final String NAME_OR_PATH = "sentence-transformers/all-MiniLM-L6-v2";
    public static final int HIDDEN = 384;
    public static final int HEADS = 12;
    public static final int LAYERS = 6;
    public static final int INTERMEDIATE = 1536;
    public static final int VOCAB = 30522;
    public static final int MAX_POSITIONS = 512;
    public static final int TYPE_VOCAB = 2;
    public static final double LAYER_NORM_EPS = 1e-12;
    /** Exact (erf) GELU, HuggingFace's "gelu". */
    public static final String HIDDEN_ACT = "gelu";
    /** A buffer (0..MAX_POSITIONS-1) the export carries as an initializer; not a weight, so not kept. */
    static final String POSITION_IDS = "embeddings.position_ids";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private MiniLm() {
    }

    /** Every weight's HuggingFace BertModel name and shape, in state-dict order (101 tensors). */
    public static Map<String, long[]> expectedShapes() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("embeddings.word_embeddings.weight", new long[]{VOCAB, HIDDEN});
        s.put("embeddings.position_embeddings.weight", new long[]{MAX_POSITIONS, HIDDEN});
        s.put("embeddings.token_type_embeddings.weight", new long[]{TYPE_VOCAB, HIDDEN});
        layerNorm(s, "embeddings.LayerNorm");
        for (int i = 0; i < LAYERS; i++) {
            String p = "encoder.layer." + i + ".";
            linear(s, p + "attention.self.query", HIDDEN, HIDDEN);
            linear(s, p + "attention.self.key", HIDDEN, HIDDEN);
            linear(s, p + "attention.self.value", HIDDEN, HIDDEN);
            linear(s, p + "attention.output.dense", HIDDEN, HIDDEN);
            layerNorm(s, p + "attention.output.LayerNorm");
            linear(s, p + "intermediate.dense", HIDDEN, INTERMEDIATE);
            linear(s, p + "output.dense", INTERMEDIATE, HIDDEN);
            layerNorm(s, p + "output.LayerNorm");
        }
        return s;
    }

    private static void linear(Map<String, long[]> s, String name, int in, int out) {
        s.put(name + ".weight", new long[]{out, in});
        s.put(name + ".bias", new long[]{out});
    }

    private static void layerNorm(Map<String, long[]> s, String name) {
        s.put(name + ".weight", new long[]{HIDDEN});
        s.put(name + ".bias", new long[]{HIDDEN});
    }

    /**
     * The weights of an all-MiniLM-L6-v2 ONNX export under HuggingFace BertModel names (linear weights (out, in)),
     * in state-dict order.
     *
     * @param where names the export in error messages
     * @throws OnnxFormatException if a weight is missing, unexpected or misshapen, or the graph's LayerNorm epsilon,
     *                             attention scale or activation differ from all-MiniLM-L6-v2's
     */
    public static TensorSource fromOnnx(OnnxModel model, String where) {
        Map<String, HostTensor> found = BertOnnxConverter.huggingFaceTensors(model, where);
        checkPositionIds(found.remove(POSITION_IDS), where);
        Map<String, long[]> expected = expectedShapes();
        TreeSet<String> extra = new TreeSet<>(found.keySet());
        extra.removeAll(expected.keySet());
        if (!extra.isEmpty()) {
            throw new OnnxFormatException(where + ": unexpected tensors " + extra + ": is this all-MiniLM-L6-v2?");
        }
        Map<String, HostTensor> ordered = new LinkedHashMap<>();
        expected.forEach((name, shape) -> ordered.put(name, require(found, name, shape, where)));
        checkGraph(model, where);
        return new MapTensorSource(where, ordered);
    }

    private static HostTensor require(Map<String, HostTensor> found, String name, long[] shape, String where) {
        HostTensor t = found.get(name);
        if (t == null) {
            throw new OnnxFormatException(where + ": no tensor for '" + name + "': is this all-MiniLM-L6-v2?");
        }
        if (!Arrays.equals(t.shape(), shape) || !t.dtype().isFloat()) {
            throw new OnnxFormatException(where + ": '" + name + "' is " + t + ", expected a float tensor of shape "
                    + Arrays.toString(shape) + ": is this all-MiniLM-L6-v2?");
        }
        return t;
    }

    private static void checkPositionIds(HostTensor ids, String where) {
        long[] arange = new long[MAX_POSITIONS];
        Arrays.setAll(arange, i -> i);
        if (ids != null && !Arrays.equals(ids.toLongs(), arange)) {
            throw new OnnxFormatException(where + ": '" + POSITION_IDS + "' is not 0.." + (MAX_POSITIONS - 1)
                    + ", so positions are not plain absolute ones");
        }
    }

    /**
     * Checks what the weights' shapes cannot show, from the constants of the decomposed ops: each LayerNorm adds
     * eps before its Sqrt; each attention divides q·k by sqrt(head size); each GELU is exact (Erf, no Tanh).
     */
    static void checkGraph(OnnxModel model, String where) {
        List<Float> eps = new ArrayList<>();
        List<Float> scales = new ArrayList<>();
        int erf = 0;
        int tanh = 0;
        for (OnnxNode n : model.nodes()) {
            switch (n.opType()) {
                case "Sqrt" -> model.producer(n.inputs().get(0)).filter(p -> p.opType().equals("Add"))
                        .flatMap(p -> scalarInput(model, p)).ifPresent(eps::add);
                case "Div" -> {
                    if (isActivationProduct(model, n.inputs().get(0))) {
                        scalarInput(model, n).ifPresent(scales::add);
                    }
                }
                case "Erf" -> erf++;
                case "Tanh" -> tanh++;
                default -> { }
            }
        }
        expectAll(eps, 2 * LAYERS + 1, (float) LAYER_NORM_EPS, "LayerNorm epsilon", where);
        expectAll(scales, LAYERS, (float) Math.sqrt(HIDDEN / HEADS), "attention scale sqrt(head size)", where);
        if (erf != LAYERS || tanh != 0) {
            throw new OnnxFormatException(where + ": expected " + LAYERS + " exact GELUs (Erf) and no Tanh, found "
                    + erf + " Erf and " + tanh + " Tanh nodes: the activation is not HuggingFace's \"gelu\"");
        }
    }

    /** Whether {@code value} is a MatMul of two computed values (attention scores q·kᵀ), not of a weight. */
    private static boolean isActivationProduct(OnnxModel model, String value) {
        return model.producer(value)
                .filter(p -> p.opType().equals("MatMul"))
                .filter(p -> p.inputs().stream().noneMatch(model.initializers()::containsKey))
                .isPresent();
    }

    /** The value of the node's one-element constant input, if it has one. */
    private static Optional<Float> scalarInput(OnnxModel model, OnnxNode node) {
        return node.inputs().stream()
                .map(model::tensor).flatMap(Optional::stream)
                .filter(t -> t.numel() == 1 && t.dtype().isFloat())
                .map(t -> t.toFloats()[0]).findFirst();
    }

    private static void expectAll(List<Float> values, int count, float expected, String what, String where) {
        if (values.size() != count || values.stream().anyMatch(v -> v != expected)) {
            throw new OnnxFormatException(where + ": expected " + count + " times the " + what + " " + expected
                    + ", found " + values + ": the export does not match all-MiniLM-L6-v2");
        }
    }

    /** The HuggingFace config.json of all-MiniLM-L6-v2 (BertModel). */
    public static String configJson() {
        ObjectNode c = JSON.createObjectNode();
        c.put("_name_or_path", NAME_OR_PATH);
        c.putArray("architectures").add("BertModel");
        c.put("model_type", "bert");
        c.put("hidden_size", HIDDEN);
        c.put("num_attention_heads", HEADS);
        c.put("num_hidden_layers", LAYERS);
        c.put("intermediate_size", INTERMEDIATE);
        c.put("vocab_size", VOCAB);
        c.put("max_position_embeddings", MAX_POSITIONS);
        c.put("type_vocab_size", TYPE_VOCAB);
        c.put("layer_norm_eps", LAYER_NORM_EPS);
        c.put("hidden_act", HIDDEN_ACT);
        c.put("hidden_dropout_prob", 0.1);
        c.put("attention_probs_dropout_prob", 0.1);
        c.put("initializer_range", 0.02);
        c.put("position_embedding_type", "absolute");
        c.put("pad_token_id", 0);
        try {
            return JSON.writeValueAsString(c);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
