package org.fedqlora.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.model.ModelException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a model folder says about chat formatting: the chat template and the special tokens, as HuggingFace
 * transformers reads them. The template comes from {@code chat_template.jinja} when the folder has one (newer
 * transformers save it there), else from {@code tokenizer_config.json}'s {@code chat_template} (a string, or a
 * list of {@code {"name", "template"}} of which the one named {@code default} is used). Special tokens
 * ({@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token}) are strings or AddedToken objects
 * ({@code {"content": "<s>", ...}}) in {@code tokenizer_config.json} or {@code special_tokens_map.json}.
 *
 * @param chatTemplate the template text, or null when the folder has none
 * @param origin       where the template came from ("model/tokenizer_config.json"), for messages
 * @param special      special token name → its text (only those the folder defines)
 */
public record TokenizerConfig(String chatTemplate, String origin, Map<String, String> special) {
    /** The special-token names a chat template may use. */
    public static final List<String> SPECIAL_NAMES = List.of("bos_token", "eos_token", "pad_token", "unk_token");
    private static final ObjectMapper JSON = new ObjectMapper();

    public TokenizerConfig {
        special = Map.copyOf(special);
    }

    /** No template, no special tokens. */
    public static TokenizerConfig empty() {
        return new TokenizerConfig(null, null, Map.of());
    }

    public String eosToken() {
        return special.get("eos_token");
    }

    /** Reads the files of a model folder; a folder without any of them gives {@link #empty()}. */
    public static TokenizerConfig read(Path dir) {
        Map<String, String> special = new LinkedHashMap<>();
        String template = null;
        String origin = null;
        Path map = dir.resolve("special_tokens_map.json");
        if (Files.isRegularFile(map)) {
            readSpecial(map, json(map), special);
        }
        Path cfg = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(cfg)) {
            JsonNode c = json(cfg);
            readSpecial(cfg, c, special);
            JsonNode t = c.get("chat_template");
            if (t != null && !t.isNull()) {
                template = templateText(cfg, t);
                origin = cfg.toString();
            }
        }
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                template = Files.readString(jinja, StandardCharsets.UTF_8);
                origin = jinja.toString();
            } catch (IOException e) {
                throw new ModelException(jinja + ": cannot read: " + e.getMessage(), e);
            }
        }
        return new TokenizerConfig(template, origin, special);
    }

    private static JsonNode json(Path file) {
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw new ModelException(file + ": expected a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new ModelException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static void readSpecial(Path file, JsonNode c, Map<String, String> out) {
        for (String name : SPECIAL_NAMES) {
            JsonNode v = c.get(name);
            if (v == null || v.isNull()) {
                continue;
            }
            if (v.isTextual()) {
                out.put(name, v.textValue());
            } else if (v.isObject() && v.path("content").isTextual()) {
                out.put(name, v.get("content").textValue());
            } else {
                throw new ModelException(file + ": '" + name + "' must be a string or an object with a 'content' "
                        + "string (an AddedToken), got " + v);
            }
        }
    }

    private static String templateText(Path file, JsonNode t) {
        if (t.isTextual()) {
            return t.textValue();
        }
        if (t.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode e : t) {
                String name = e.path("name").asText("");
                names.add(name);
                if (name.equals("default") && e.path("template").isTextual()) {
                    return e.get("template").textValue();
                }
            }
            throw new ModelException(file + ": 'chat_template' is a list of named templates (" + String.join(", ", names)
                    + ") without one named 'default'; fedqlora uses the default template");
        }
        throw new ModelException(file + ": 'chat_template' must be a string or a list of {\"name\", \"template\"}, got "
                + t.getNodeType());
    }
}
