package org.fedqlora.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.model.ModelConfig;
import org.fedqlora.model.ModelException;

/**
 * Hyper-parameters of a BERT-family encoder, read from a HuggingFace config.json.
 *
 * @param modelType      "bert" or "distilbert" (decides checkpoint names)
 * @param hidden         C, hidden size (bert: hidden_size, distilbert: dim)
 * @param heads          H, attention heads (num_attention_heads / n_heads)
 * @param layers         number of transformer blocks (num_hidden_layers / n_layers)
 * @param intermediate   F, feed-forward inner size (intermediate_size / hidden_dim)
 * @param vocab          vocabulary size
 * @param maxPositions   learned position embeddings (also the tokenizer's truncation length)
 * @param typeVocab      token-type vocabulary (0 for DistilBERT, which has none)
 * @param layerNormEps   LayerNorm epsilon (DistilBERT fixes it at 1e-12)
 * @param padTokenId     id used to pad batches
 */
public record BertConfig(String modelType, int hidden, int heads, int layers, int intermediate, int vocab,
                         int maxPositions, int typeVocab, float layerNormEps, int padTokenId)
        implements ModelConfig {

    public BertConfig {
        if (hidden % heads != 0) {
            throw new ModelException("config.json: hidden size " + hidden + " is not divisible by " + heads + " heads");
        }
    }

    /** D, size of one attention head. */
    public int headDim() {
        return hidden / heads;
    }

    public static BertConfig fromJson(JsonNode c) {
        String type = c.path("model_type").asText();
        String act = c.has("hidden_act") ? c.get("hidden_act").asText() : c.path("activation").asText("gelu");
        if (!act.equals("gelu")) {
            throw new ModelException("config.json: activation '" + act + "' is not supported (only exact 'gelu')");
        }
        return switch (type) {
            case "bert" -> new BertConfig(type, req(c, "hidden_size"), req(c, "num_attention_heads"),
                    req(c, "num_hidden_layers"), req(c, "intermediate_size"), req(c, "vocab_size"),
                    req(c, "max_position_embeddings"), c.path("type_vocab_size").asInt(2),
                    (float) c.path("layer_norm_eps").asDouble(1e-12), c.path("pad_token_id").asInt(0));
            case "distilbert" -> {
                if (c.path("sinusoidal_pos_embds").asBoolean(false)) {
                    throw new ModelException("config.json: sinusoidal_pos_embds=true is not supported "
                            + "(the checkpoint still holds the table; set it to false)");
                }
                yield new BertConfig(type, req(c, "dim"), req(c, "n_heads"), req(c, "n_layers"),
                        req(c, "hidden_dim"), req(c, "vocab_size"), req(c, "max_position_embeddings"), 0,
                        1e-12f, c.path("pad_token_id").asInt(0));
            }
            default -> throw new ModelException("config.json: model_type '" + type
                    + "' is not a BERT-family model (supported: bert, distilbert)");
        };
    }

    private static int req(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new ModelException("config.json has no integer '" + key + "': is this a BERT folder?");
        }
        return v.asInt();
    }
}
