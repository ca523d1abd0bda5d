package org.fedqlora;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads the JSON files fedqlora writes and reads back (head.json, state.json, progress.json, quantization.json,
 * adapter_config.json, config.json, ...). Every failure is one line naming the file, what is wrong (with line and
 * column for a syntax error, never the JSON library's source description) and how to recover.
 */
public final class Jsons {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Jsons() {
    }

    /**
     * The JSON document in {@code file}.
     *
     * @param what     what the file is, for the message ("the run state")
     * @param recovery what the user can do ("start a new run in another --out")
     */
    public static JsonNode read(Path file, String what, String recovery) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UserException(file + " (" + what + ") is missing; " + recovery, e);
        } catch (AccessDeniedException e) {
            throw new UserException(file + " (" + what + ") cannot be read: permission denied", e);
        } catch (IOException e) {
            throw new UserException(file + " (" + what + ") cannot be read: " + oneLine(e.getMessage()), e);
        }
        if (bytes.length == 0 || new String(bytes, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
            throw new UserException(file + " (" + what + ") is empty (an interrupted write or a truncated copy); "
                    + recovery);
        }
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || n.isMissingNode()) {
                throw new UserException(file + " (" + what + ") holds no JSON value; " + recovery);
            }
            return n;
        } catch (JacksonException e) {
            throw new UserException(file + " (" + what + ") is not valid JSON: " + describe(e) + "; " + recovery, e);
        } catch (IOException e) {
            throw new UserException(file + " (" + what + ") cannot be read: " + oneLine(e.getMessage()), e);
        }
    }

    /** An object read with {@link #read}, refusing arrays and scalars. */
    public static JsonNode readObject(Path file, String what, String recovery) {
        JsonNode n = read(file, what, recovery);
        if (!n.isObject()) {
            throw new UserException(file + " (" + what + ") should hold a JSON object {...} but holds "
                    + kind(n) + "; " + recovery);
        }
        return n;
    }

    /** "line 3, column 7: Unexpected character ('}' ...)" in one line, without Jackson's source description. */
    public static String describe(JacksonException e) {
        String msg = oneLine(e.getOriginalMessage());
        JsonLocation loc = e.getLocation();
        if (loc != null && loc.getLineNr() > 0) {
            return "line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ": " + msg;
        }
        return msg;
    }

    /** A node's JSON type in words ("a string", "an array"). */
    public static String kind(JsonNode n) {
        String t = n.getNodeType().name().toLowerCase(Locale.ROOT);
        return switch (t) {
            case "array", "object" -> "an " + t;
            case "missing" -> "nothing";
            default -> "a " + t + " (" + n + ")";
        };
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    /** A required integer field of {@code node} within [min, max]. */
    public static long requireLong(JsonNode node, String field, long min, long max, Path file, String recovery) {
        JsonNode v = node.get(field);
        if (v == null || !v.canConvertToLong() || !v.isIntegralNumber()) {
            throw new UserException(file + ": '" + field + "' should be an integer"
                    + (v == null ? " but is missing" : " but is " + kind(v)) + "; " + recovery);
        }
        long x = v.asLong();
        if (x < min || x > max) {
            throw new UserException(file + ": '" + field + "' = " + x + " is out of range [" + min + ", " + max + "]; "
                    + recovery);
        }
        return x;
    }

    /** A required text field of {@code node}. */
    public static String requireText(JsonNode node, String field, Path file, String recovery) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new UserException(file + ": '" + field + "' should be a string"
                    + (v == null ? " but is missing" : " but is " + kind(v)) + "; " + recovery);
        }
        return v.asText();
    }

    /** A required array field of {@code node}. */
    public static JsonNode requireArray(JsonNode node, String field, Path file, String recovery) {
        JsonNode v = node.get(field);
        if (v == null || !v.isArray()) {
            throw new UserException(file + ": '" + field + "' should be a list"
                    + (v == null ? " but is missing" : " but is " + kind(v)) + "; " + recovery);
        }
        return v;
    }
}
