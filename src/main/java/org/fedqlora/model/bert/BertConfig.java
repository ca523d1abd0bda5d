package org.fedqlora.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.model.ConfigChecks;
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
        if (heads < 1 || hidden % heads != 0) {
            throw new ModelException("config.json: hidden size " + hidden + " is not divisible by " + heads + " heads");
        }
    }

    /** D, size of one attention head. */
    public int headDim() {
        return hidden / heads;
    }

    public static BertConfig fromJson(JsonNode c) {
        return fromJson(c, "config.json");
    }

    /** Reads and range-checks every field this family uses; {@code file} names config.json in messages. */
    public static BertConfig fromJson(JsonNode c, String file) {
        String type = c.path("model_type").asText();
        String act = c.has("hidden_act") ? c.get("hidden_act").asText() : c.path("activation").asText("gelu");
        if (!act.equals("gelu")) {
            throw new ModelException(file + ": activation '" + act + "' is not supported (only exact 'gelu')");
        }
        ConfigChecks k = new ConfigChecks(c, file);
        BertConfig cfg = switch (type) {
            case "bert" -> {
                int hidden = k.intIn("hidden_size", 1, ConfigChecks.MAX_HIDDEN);
                int heads = k.intIn("num_attention_heads", 1, ConfigChecks.MAX_HEADS);
                k.divisible("hidden_size", hidden, "num_attention_heads", heads);
                yield new BertConfig(type, hidden, heads, k.intIn("num_hidden_layers", 1, ConfigChecks.MAX_LAYERS),
                        k.intIn("intermediate_size", 1, ConfigChecks.MAX_INTERMEDIATE),
                        k.intIn("vocab_size", 1, ConfigChecks.MAX_VOCAB),
                        k.intIn("max_position_embeddings", 1, ConfigChecks.MAX_POSITIONS),
                        k.intIn("type_vocab_size", 2, 1, 1024),
                        (float) k.positive("layer_norm_eps", 1e-12, 1.0), k.intIn("pad_token_id", 0, 0, Integer.MAX_VALUE));
            }
            case "distilbert" -> {
                if (c.path("sinusoidal_pos_embds").asBoolean(false)) {
                    throw new ModelException(file + ": sinusoidal_pos_embds=true is not supported "
                            + "(the checkpoint still holds the table; set it to false)");
                }
                int hidden = k.intIn("dim", 1, ConfigChecks.MAX_HIDDEN);
                int heads = k.intIn("n_heads", 1, ConfigChecks.MAX_HEADS);
                k.divisible("dim", hidden, "n_heads", heads);
                yield new BertConfig(type, hidden, heads, k.intIn("n_layers", 1, ConfigChecks.MAX_LAYERS),
                        k.intIn("hidden_dim", 1, ConfigChecks.MAX_INTERMEDIATE), k.intIn("vocab_size", 1, ConfigChecks.MAX_VOCAB),
                        k.intIn("max_position_embeddings", 1, ConfigChecks.MAX_POSITIONS), 0,
                        1e-12f, k.intIn("pad_token_id", 0, 0, Integer.MAX_VALUE));
            }
            default -> throw new ModelException(file + ": model_type '" + type
                    + "' is not a BERT-family model (supported: bert, distilbert)");
        };
        k.below("pad_token_id", cfg.padTokenId(), "vocab_size", cfg.vocab());
        return cfg;
    }
}
