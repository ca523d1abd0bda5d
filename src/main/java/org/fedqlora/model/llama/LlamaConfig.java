package org.fedqlora.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.model.ModelConfig;
import org.fedqlora.model.ModelException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Hyper-parameters of a Llama-family decoder (Llama 2/3/3.x, TinyLlama, SmolLM, Mistral, Qwen2/2.5), read from a
 * HuggingFace config.json. Every field is range-checked; settings this code does not implement are refused.
 *
 * @param modelType         "llama", "mistral" or "qwen2" (decides defaults and which biases exist)
 * @param hidden            C, hidden size (hidden_size)
 * @param layers            number of decoder blocks (num_hidden_layers)
 * @param heads             H, query heads (num_attention_heads)
 * @param kvHeads           KVH, key/value heads (num_key_value_heads; = H without grouped-query attention)
 * @param headDim           D, size of one head (head_dim, default C / H)
 * @param intermediate      F, SwiGLU inner size (intermediate_size)
 * @param vocab             V, vocabulary size (vocab_size)
 * @param maxPositions      longest sequence (max_position_embeddings)
 * @param rmsNormEps        RMSNorm epsilon (rms_norm_eps)
 * @param ropeTheta         RoPE base (rope_theta, default 10000)
 * @param ropeScaling       Llama 3 frequency scaling (rope_scaling with rope_type llama3), or null for none
 * @param tieWordEmbeddings lm_head shares the embedding table (tie_word_embeddings)
 * @param qkvBias           q/k/v projections have a bias (Qwen2 always; Llama with attention_bias)
 * @param oBias             o_proj has a bias (Llama with attention_bias)
 * @param mlpBias           gate/up/down projections have a bias (Llama's mlp_bias)
 * @param slidingWindow     attention window in effect (Mistral's sliding_window, Qwen2's when use_sliding_window),
 *                          0 for none; sequences longer than it are refused (the window is not implemented)
 * @param bosTokenId        beginning-of-sequence id, -1 if none
 * @param eosTokenIds       end-of-sequence ids (Llama 3 lists several), possibly empty
 * @param padTokenId        id batches are padded with (pad_token_id, else the first EOS, else 0)
 */
public record LlamaConfig(String modelType, int hidden, int layers, int heads, int kvHeads, int headDim,
                          int intermediate, int vocab, int maxPositions, float rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, boolean tieWordEmbeddings, boolean qkvBias, boolean oBias,
                          boolean mlpBias, int slidingWindow, int bosTokenId, List<Integer> eosTokenIds,
                          int padTokenId) implements ModelConfig {

    /** Model types this class reads. */
    public static final List<String> SUPPORTED_TYPES = List.of("llama", "mistral", "qwen2");

    /**
     * Llama 3's RoPE frequency scaling (HF {@code _compute_llama3_parameters}): wavelengths longer than
     * originalMaxPositions / lowFreqFactor are divided by factor, shorter than originalMaxPositions /
     * highFreqFactor are kept, and those in between are interpolated smoothly.
     *
     * @param factor              divisor of the low frequencies (e.g. 8 for Llama 3.1, 32 for Llama 3.2)
     * @param lowFreqFactor       low-frequency boundary (e.g. 1)
     * @param highFreqFactor      high-frequency boundary (e.g. 4)
     * @param originalMaxPositions the context length before scaling (e.g. 8192)
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        public RopeScaling {
            positive("rope_scaling.factor", factor);
            positive("rope_scaling.low_freq_factor", lowFreqFactor);
            positive("rope_scaling.high_freq_factor", highFreqFactor);
            positive("rope_scaling.original_max_position_embeddings", originalMaxPositions);
            if (highFreqFactor <= lowFreqFactor) {
                throw new ModelException("config.json: rope_scaling.high_freq_factor (" + highFreqFactor
                        + ") must be greater than low_freq_factor (" + lowFreqFactor + ")");
            }
        }
    }

    public LlamaConfig {
        if (!SUPPORTED_TYPES.contains(modelType)) {
            throw new ModelException("config.json: model_type '" + modelType + "' is not a Llama-family decoder "
                    + "(supported: " + String.join(", ", SUPPORTED_TYPES) + ")");
        }
        positive("hidden_size", hidden);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("intermediate_size", intermediate);
        positive("vocab_size", vocab);
        positive("max_position_embeddings", maxPositions);
        positive("rms_norm_eps", rmsNormEps);
        positive("rope_theta", ropeTheta);
        if (heads % kvHeads != 0) {
            throw new ModelException("config.json: num_attention_heads (" + heads
                    + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new ModelException("config.json: head_dim " + headDim + " is odd; rotary embeddings need it even");
        }
        if (slidingWindow < 0) {
            throw new ModelException("config.json: sliding_window " + slidingWindow + " is negative");
        }
        eosTokenIds = List.copyOf(eosTokenIds);
        for (int id : eosTokenIds) {
            tokenId("eos_token_id", id, vocab);
        }
        if (bosTokenId != -1) {
            tokenId("bos_token_id", bosTokenId, vocab);
        }
        tokenId("pad_token_id", padTokenId, vocab);
    }

    /** Query heads sharing one key/value head. */
    public int groups() {
        return heads / kvHeads;
    }

    /** Whether the model has one lm_head of its own (false: the embedding table is reused). */
    public boolean separateLmHead() {
        return !tieWordEmbeddings;
    }

    /**
     * Refuses a sequence the model cannot attend over as trained: longer than the context, or longer than a
     * sliding window (which this code does not implement).
     */
    public void checkLength(long tokens) {
        if (tokens > maxPositions) {
            throw new ModelException("a sequence of " + tokens + " tokens exceeds the model's context of "
                    + maxPositions + " (max_position_embeddings); shorten the input or --max-new-tokens");
        }
        if (slidingWindow > 0 && tokens > slidingWindow) {
            throw new ModelException("a sequence of " + tokens + " tokens is longer than the model's sliding window of "
                    + slidingWindow + " (sliding_window), which is not implemented; keep sequences to at most "
                    + slidingWindow + " tokens");
        }
    }

    public static LlamaConfig fromJson(JsonNode c) {
        String type = c.path("model_type").asText("");
        if (!SUPPORTED_TYPES.contains(type)) {
            throw new ModelException("config.json: model_type '" + type + "' is not supported by the decoder "
                    + "(supported: " + String.join(", ", SUPPORTED_TYPES) + ")");
        }
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new ModelException("config.json: hidden_act '" + act + "' is not supported (only 'silu', SwiGLU)");
        }
        int hidden = req(c, "hidden_size");
        int heads = req(c, "num_attention_heads");
        int kvHeads = c.hasNonNull("num_key_value_heads") ? req(c, "num_key_value_heads") : heads;
        int headDim = c.hasNonNull("head_dim") ? req(c, "head_dim") : exactDiv(hidden, heads);
        int vocab = req(c, "vocab_size");
        boolean attentionBias = c.path("attention_bias").asBoolean(false);
        boolean qkvBias = type.equals("qwen2") || attentionBias;
        boolean oBias = !type.equals("qwen2") && attentionBias;
        int window = 0;
        JsonNode sw = c.get("sliding_window");
        boolean windowOn = type.equals("mistral") || (type.equals("qwen2") && c.path("use_sliding_window").asBoolean(false));
        if (windowOn && sw != null && !sw.isNull()) {
            if (!sw.canConvertToInt()) {
                throw new ModelException("config.json: sliding_window must be an integer or null, got " + sw);
            }
            window = sw.asInt();
        }
        List<Integer> eos = ids(c.get("eos_token_id"), "eos_token_id");
        int bos = c.hasNonNull("bos_token_id") ? c.get("bos_token_id").asInt() : -1;
        int pad = c.hasNonNull("pad_token_id") ? c.get("pad_token_id").asInt() : eos.isEmpty() ? 0 : eos.get(0);
        return new LlamaConfig(type, hidden, req(c, "num_hidden_layers"), heads, kvHeads, headDim,
                req(c, "intermediate_size"), vocab, req(c, "max_position_embeddings"),
                (float) c.path("rms_norm_eps").asDouble(1e-6), c.path("rope_theta").asDouble(10000.0),
                ropeScaling(c.get("rope_scaling")), c.path("tie_word_embeddings").asBoolean(false),
                qkvBias, oBias, c.path("mlp_bias").asBoolean(false), window, bos, eos, pad);
    }

    private static RopeScaling ropeScaling(JsonNode s) {
        if (s == null || s.isNull()) {
            return null;
        }
        if (!s.isObject()) {
            throw new ModelException("config.json: rope_scaling must be an object or null, got " + s);
        }
        String type = s.hasNonNull("rope_type") ? s.get("rope_type").asText() : s.path("type").asText("");
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw new ModelException("config.json: rope_scaling type '" + type + "' is not supported "
                    + "(supported: llama3, or no rope_scaling)");
        }
        for (String k : List.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")) {
            if (!s.hasNonNull(k) || !s.get(k).isNumber()) {
                throw new ModelException("config.json: rope_scaling of type llama3 needs a number '" + k + "'");
            }
        }
        return new RopeScaling(s.get("factor").asDouble(), s.get("low_freq_factor").asDouble(),
                s.get("high_freq_factor").asDouble(), s.get("original_max_position_embeddings").asInt());
    }

    private static List<Integer> ids(JsonNode v, String key) {
        List<Integer> out = new ArrayList<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (v.isArray()) {
            v.forEach(e -> out.add(e.asInt()));
        } else if (v.canConvertToInt()) {
            out.add(v.asInt());
        } else {
            throw new ModelException("config.json: " + key + " must be an integer or a list of integers, got " + v);
        }
        return out;
    }

    private static int exactDiv(int hidden, int heads) {
        if (heads <= 0 || hidden % heads != 0) {
            throw new ModelException("config.json: hidden_size " + hidden + " is not divisible by "
                    + heads + " attention heads and no head_dim is given");
        }
        return hidden / heads;
    }

    private static int req(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new ModelException("config.json has no integer '" + key + "': is this a Llama/Mistral/Qwen2 folder?");
        }
        return v.asInt();
    }

    private static void positive(String key, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new ModelException(String.format(Locale.ROOT, "config.json: %s must be positive, got %s", key, v));
        }
    }

    private static void tokenId(String key, int id, int vocab) {
        if (id < 0 || id >= vocab) {
            throw new ModelException("config.json: " + key + " " + id + " is outside the vocabulary [0, " + vocab + ")");
        }
    }
}
