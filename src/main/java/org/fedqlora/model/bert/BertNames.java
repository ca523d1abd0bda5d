package org.fedqlora.model.bert;

import org.fedqlora.model.ModelException;
import org.fedqlora.tensor.TensorSource;

import java.util.List;

/**
 * Checkpoint names of BertModel and DistilBertModel, with or without the {@code bert.} / {@code distilbert.}
 * prefix that *ForSequenceClassification checkpoints add. Module paths are relative to the base model
 * (what PEFT writes after {@code base_model.model.}).
 */
public record BertNames(String modelType, String prefix) {

    /** Roles of a block's linear layers, named by their BERT module suffix (also LoRA target names). */
    public static final List<String> LINEAR_ROLES = List.of(
            "query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense");

    public static BertNames detect(String modelType, TensorSource w) {
        for (String p : List.of("", modelType + ".")) {
            if (w.has(p + "embeddings.word_embeddings.weight")) {
                return new BertNames(modelType, p);
            }
        }
        throw new ModelException(w.describe() + ": no 'embeddings.word_embeddings.weight' (nor with prefix '"
                + modelType + ".'): is this a " + modelType + " checkpoint?");
    }

    public boolean isDistil() {
        return modelType.equals("distilbert");
    }

    /** Module path of a block's linear layer for a role. */
    public String linear(int layer, String role) {
        if (!isDistil()) {
            String block = "encoder.layer." + layer + ".";
            return switch (role) {
                case "query", "key", "value" -> block + "attention.self." + role;
                default -> block + role;
            };
        }
        String block = "transformer.layer." + layer + ".";
        return block + switch (role) {
            case "query" -> "attention.q_lin";
            case "key" -> "attention.k_lin";
            case "value" -> "attention.v_lin";
            case "attention.output.dense" -> "attention.out_lin";
            case "intermediate.dense" -> "ffn.lin1";
            case "output.dense" -> "ffn.lin2";
            default -> throw new IllegalArgumentException("unknown role " + role);
        };
    }

    /** LayerNorm after attention (residual 1) and after the feed-forward (residual 2). */
    public String attentionNorm(int layer) {
        return isDistil() ? "transformer.layer." + layer + ".sa_layer_norm" : "encoder.layer." + layer + ".attention.output.LayerNorm";
    }

    public String outputNorm(int layer) {
        return isDistil() ? "transformer.layer." + layer + ".output_layer_norm" : "encoder.layer." + layer + ".output.LayerNorm";
    }

    /** Full tensor name in the checkpoint for a module path and a parameter ("weight", "bias"). */
    public String tensor(String module, String param) {
        return prefix + module + "." + param;
    }
}
