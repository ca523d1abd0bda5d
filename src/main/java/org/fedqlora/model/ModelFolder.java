package org.fedqlora.model;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.Jsons;
import org.fedqlora.tensor.Checkpoint;
import org.fedqlora.tensor.TensorChecks;
import org.fedqlora.tensor.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A local HuggingFace model folder: {@code config.json}, safetensors weights and {@code tokenizer.json}.
 *
 * @param name     what the user called it ("minilm" or the path) — also the PEFT base model name
 * @param dir      the folder
 * @param config   config.json as parsed JSON
 * @param weights  the safetensors weights (memory-mapped)
 * @param tokenizer path of tokenizer.json
 */
public record ModelFolder(String name, Path dir, JsonNode config, TensorSource weights, Path tokenizer) {

    /** Model types this build can run. */
    public static final List<String> SUPPORTED_TYPES = List.of("bert", "distilbert", "llama", "mistral", "qwen2");

    /** Opens a folder, checking everything a later step would trip over. */
    public static ModelFolder open(Path dir, String name) {
        if (!Files.exists(dir)) {
            throw new ModelException("model folder " + dir + " does not exist; pass --model minilm for the embedded "
                    + "model or the path of a local HuggingFace folder (config.json, *.safetensors, tokenizer.json)");
        }
        if (!Files.isDirectory(dir)) {
            throw new ModelException(dir + " is a file, not a model folder; pass the folder that holds config.json");
        }
        Path configPath = dir.resolve("config.json");
        if (!Files.isRegularFile(configPath)) {
            throw new ModelException(dir + " has no config.json: is this a HuggingFace model folder?");
        }
        JsonNode config = Jsons.read(configPath, "the model's config",
                "restore config.json from the model's original download");
        if (!config.isObject()) {
            throw new ModelException(configPath + ": expected a JSON object {\"model_type\": ...}, got "
                    + config.getNodeType().name().toLowerCase(java.util.Locale.ROOT));
        }
        String type = config.path("model_type").asText("");
        if (!SUPPORTED_TYPES.contains(type)) {
            throw new ModelException(configPath + ": model_type '" + type + "' is not supported; supported: "
                    + String.join(", ", SUPPORTED_TYPES));
        }
        // every field the family reads, range-checked before any weight is touched
        if (org.fedqlora.model.llama.LlamaConfig.SUPPORTED_TYPES.contains(type)) {
            org.fedqlora.model.llama.LlamaConfig.fromJson(config);
        } else {
            org.fedqlora.model.bert.BertConfig.fromJson(config, configPath.toString());
        }
        Path tokenizer = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizer)) {
            throw new ModelException(dir + " has no tokenizer.json; save the fast tokenizer with "
                    + "tokenizer.save_pretrained(dir) in the transformers library");
        }
        Checkpoint weights;
        try {
            weights = Checkpoint.open(dir);
        } catch (RuntimeException e) {
            throw new ModelException(e.getMessage(), e);
        }
        // one check at load time, for every command: a NaN/Inf weight would otherwise flow silently into outputs
        TensorChecks.requireFinite(weights);
        return new ModelFolder(name, dir, config, weights, tokenizer);
    }

    /**
     * The {@link BaseModelHash} of the weights; for a folder written by {@code quantize --out}, the hash of the
     * full-precision model it was made from (recorded in quantization.json), so adapters match across formats.
     */
    public String contentHash() {
        Path summary = dir.resolve("quantization.json");
        if (Files.isRegularFile(summary)) {
            JsonNode s = Jsons.read(summary, "a quantized model folder's summary",
                    "quantize the full-precision model again with 'fedqlora quantize --out'");
            String h = s.path(BaseModelHash.KEY).asText("");
            if (!h.isEmpty()) {
                return h;
            }
        }
        return BaseModelHash.of(weights);
    }

    public String modelType() {
        return config.path("model_type").asText();
    }

    /** Whether the folder holds a causal decoder (Llama, Mistral, Qwen2) rather than a BERT-family encoder. */
    public boolean isDecoder() {
        return org.fedqlora.model.llama.LlamaConfig.SUPPORTED_TYPES.contains(modelType());
    }

    /** The name recorded as {@code base_model_name_or_path} in exported adapters. */
    public String baseModelName() {
        String n = config.path("_name_or_path").asText("");
        return n.isEmpty() ? name : n;
    }
}
