package org.fedqlora.model;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Typed, range-checked reads of a model's config.json, shared by every model family (BertConfig; decoder
 * configs use the same calls). Each message names the file, the key, the value and the allowed range, e.g.
 * {@code config.json: num_attention_heads = 0 is out of range: must be an integer in [1, 4096]}.
 * <pre>
 * ConfigChecks c = new ConfigChecks(json, "config.json");
 * int hidden = c.intIn("hidden_size", 1, 1 &lt;&lt; 16);               // required
 * int types  = c.intIn("type_vocab_size", 2, 0, 1024);               // optional, with its default
 * double eps = c.positive("layer_norm_eps", 1e-12, 1.0);              // (0, 1]
 * c.divisible("hidden_size", hidden, "num_attention_heads", heads);
 * </pre>
 */
public final class ConfigChecks {
    /** Upper bounds generous enough for any published model, small enough to catch a corrupt value. */
    public static final int MAX_HIDDEN = 1 << 16;
    public static final int MAX_HEADS = 4096;
    public static final int MAX_LAYERS = 4096;
    public static final int MAX_INTERMEDIATE = 1 << 20;
    public static final int MAX_VOCAB = 1 << 24;
    public static final int MAX_POSITIONS = 1 << 24;

    private final JsonNode config;
    private final String file;

    public ConfigChecks(JsonNode config, String file) {
        this.config = config;
        this.file = file;
    }

    /** A required integer in [min, max]. */
    public int intIn(String key, int min, int max) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            throw new ModelException(file + " has no '" + key + "' (an integer in [" + min + ", " + max
                    + "]): is this the right model family's folder?");
        }
        return checkInt(key, v, min, max);
    }

    /** An optional integer in [min, max], {@code def} when absent. */
    public int intIn(String key, int def, int min, int max) {
        JsonNode v = config.get(key);
        return v == null || v.isNull() ? def : checkInt(key, v, min, max);
    }

    /** An optional finite number in (0, max], {@code def} when absent. */
    public double positive(String key, double def, double max) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isNumber()) {
            throw new ModelException(file + ": " + key + " = " + v + " must be a number in (0, " + max + "]");
        }
        double x = v.asDouble();
        if (!(x > 0 && x <= max)) {
            throw new ModelException(file + ": " + key + " = " + v + " is out of range: must be a number in (0, "
                    + max + "]");
        }
        return x;
    }

    /** Refuses {@code a % b != 0}, e.g. a hidden size the heads do not divide. */
    public void divisible(String aKey, int a, String bKey, int b) {
        if (a % b != 0) {
            throw new ModelException(file + ": " + aKey + " = " + a + " is not divisible by " + bKey + " = " + b
                    + " (each head gets " + aKey + " / " + bKey + " channels): fix one of them");
        }
    }

    /** Refuses {@code value >= bound}, e.g. a pad token id outside the vocabulary. */
    public void below(String key, int value, String boundKey, int bound) {
        if (value >= bound) {
            throw new ModelException(file + ": " + key + " = " + value + " is out of range: must be in [0, "
                    + (bound - 1) + "] (below " + boundKey + " = " + bound + ")");
        }
    }

    private int checkInt(String key, JsonNode v, int min, int max) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ModelException(file + ": " + key + " = " + v + " must be an integer in [" + min + ", " + max + "]");
        }
        int x = v.asInt();
        if (x < min || x > max) {
            throw new ModelException(file + ": " + key + " = " + x + " is out of range: must be an integer in ["
                    + min + ", " + max + "]");
        }
        return x;
    }
}
