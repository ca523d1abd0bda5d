package org.fedqlora.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Loads instruction-tuning data from JSON lines, one example per line, in either of the two shapes HuggingFace
 * data sets use (both may be mixed in one file):
 * <ul>
 *   <li>Alpaca: {@code {"instruction": "...", "input": "...", "output": "..."}}; {@code input} and {@code system}
 *       are optional. It becomes the conversation [system,] user = instruction (+ "\n\n" + input when the input is
 *       not empty), assistant = output.</li>
 *   <li>Chat: {@code {"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "..."}, ...]}}, with at
 *       least one assistant turn (every assistant turn is a training target).</li>
 * </ul>
 * An optional category field (default {@code category}; a string or an integer) gives the label that
 * {@code dirichlet} and {@code shards} partitioning skew over. Other fields are ignored. Every malformed row is an
 * error naming the file and line.
 */
public final class InstructionFiles {
    /** The category field unless told otherwise. */
    public static final String DEFAULT_CATEGORY_FIELD = "category";
    /** The label of every example of a data set without categories. */
    public static final String NO_CATEGORY = "all";
    private static final ObjectMapper JSON = new ObjectMapper();

    private InstructionFiles() {
    }

    /**
     * The examples of one file.
     *
     * @param conversations in file order
     * @param lines         the 1-based line of each conversation
     * @param hasCategories whether any row has the category field
     * @param source        e.g. {@code "data/train.jsonl (instructions: 90 chat, 10 alpaca)"}
     */
    public record Instructions(List<Conversation> conversations, List<Long> lines, boolean hasCategories,
                               String source) {
        public int size() {
            return conversations.size();
        }
    }

    /** Whether the first row of a JSONL file is in an instruction shape ({@code messages} or {@code instruction}). */
    public static boolean looksLikeInstructions(Path file) {
        if (!Files.isRegularFile(file) || DataFormat.of(file) != DataFormat.JSONL) {
            return false;
        }
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.isBlank()) {
                    JsonNode n = JSON.readTree(Messages.stripBom(line));
                    return n.isObject() && (n.has("messages") || n.has("instruction"));
                }
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return false;
    }

    /** Loads {@code file} with the default category field. */
    public static Instructions load(Path file) {
        return load(file, DEFAULT_CATEGORY_FIELD);
    }

    public static Instructions load(Path file, String categoryField) {
        if (!Files.isRegularFile(file)) {
            throw new DataException(file + ": no such file");
        }
        if (DataFormat.of(file) != DataFormat.JSONL) {
            throw new DataException(file + ": instruction data must be JSON lines (.jsonl or .json), one example per "
                    + "line; from a HuggingFace data set: ds.to_json(\"" + file.getFileName() + ".jsonl\")");
        }
        List<Conversation> out = new ArrayList<>();
        List<Long> lines = new ArrayList<>();
        int chat = 0;
        int alpaca = 0;
        boolean categories = false;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (lineNo == 1) {
                    line = Messages.stripBom(line);
                }
                if (line.isBlank()) {
                    continue;
                }
                String where = file + " line " + lineNo;
                JsonNode row = parse(where, line);
                Conversation c = row.has("messages") ? chat(where, row, line, categoryField)
                        : alpaca(where, row, line, categoryField);
                if (row.has("messages")) {
                    chat++;
                } else {
                    alpaca++;
                }
                categories |= c.category() != null;
                out.add(c);
                lines.add(lineNo);
            }
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new DataException(file + ": has no examples (the file holds no rows); a data set needs at least one");
        }
        return new Instructions(out, lines, categories, file + " (instructions: " + chat + " chat, " + alpaca
                + " alpaca" + (categories ? ", category='" + categoryField + "'" : "") + ")");
    }

    /**
     * The examples as a {@link Dataset} the splitters and partitioners work on: each example's text is the
     * conversation's canonical JSON ({@link Conversation#toJson}), its label the category (or {@value #NO_CATEGORY}
     * for every example when the data has none). A row without a category in a file with categories is an error.
     */
    public static Dataset asDataset(Instructions data) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            String c = data.conversations().get(i).category();
            if (data.hasCategories() && c == null) {
                throw new DataException(data.source() + " line " + data.lines().get(i) + ": no category, but other "
                        + "rows have one; give every row a category or none");
            }
            names.add(c == null ? NO_CATEGORY : c);
        }
        LabelMap map = LabelMap.fromObserved(names);
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            examples.add(new Example(data.conversations().get(i).toJson(), map.encodeStrict(names.get(i), "")));
        }
        return new Dataset(examples, map, data.source());
    }

    /** The conversations held by a data set made by {@link #asDataset}. */
    public static List<Conversation> conversations(Dataset d) {
        return d.examples().stream().map(e -> Conversation.fromJson(e.text())).toList();
    }

    private static JsonNode parse(String where, String line) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DataException(where + ": not valid JSON (" + e.getOriginalMessage() + "). The line: "
                    + Messages.preview(line));
        }
        if (!node.isObject()) {
            throw new DataException(where + ": expected a JSON object like " + EXAMPLES + ", got "
                    + node.getNodeType().toString().toLowerCase(Locale.ROOT) + ". The line: " + Messages.preview(line));
        }
        return node;
    }

    private static final String EXAMPLES = "{\"instruction\": \"...\", \"input\": \"...\", \"output\": \"...\"} or "
            + "{\"messages\": [{\"role\": \"user\", \"content\": \"...\"}, {\"role\": \"assistant\", \"content\": \"...\"}]}";

    private static Conversation alpaca(String where, JsonNode row, String line, String categoryField) {
        if (!row.has("instruction") || !row.has("output")) {
            List<String> present = new ArrayList<>();
            row.fieldNames().forEachRemaining(present::add);
            throw new DataException(where + ": neither 'messages' (chat shape) nor 'instruction' and 'output' (Alpaca "
                    + "shape) (fields present: " + String.join(", ", present) + "); write each row as " + EXAMPLES
                    + ". The line: " + Messages.preview(line));
        }
        String instruction = text(where, row, "instruction", line, false);
        String input = row.has("input") ? text(where, row, "input", line, true) : "";
        String output = text(where, row, "output", line, true);
        if (output.isBlank()) {
            throw new DataException(where + ": 'output' is empty: an example needs an answer to train on. The line: "
                    + Messages.preview(line));
        }
        List<ChatMessage> m = new ArrayList<>();
        if (row.has("system")) {
            String system = text(where, row, "system", line, true);
            if (!system.isEmpty()) {
                m.add(new ChatMessage(ChatMessage.SYSTEM, system));
            }
        }
        m.add(new ChatMessage(ChatMessage.USER, input.isEmpty() ? instruction : instruction + "\n\n" + input));
        m.add(new ChatMessage(ChatMessage.ASSISTANT, output));
        return new Conversation(m, category(where, row, categoryField, line));
    }

    private static Conversation chat(String where, JsonNode row, String line, String categoryField) {
        JsonNode messages = row.get("messages");
        if (!messages.isArray() || messages.isEmpty()) {
            throw new DataException(where + ": 'messages' must be a non-empty array of {\"role\": ..., \"content\": "
                    + "...} objects. The line: " + Messages.preview(line));
        }
        List<ChatMessage> m = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode t = messages.get(i);
            String turn = where + ", message " + (i + 1);
            if (!t.isObject()) {
                throw new DataException(turn + ": expected an object {\"role\": ..., \"content\": ...}, got "
                        + t.getNodeType().toString().toLowerCase(Locale.ROOT) + ". The line: " + Messages.preview(line));
            }
            String role = text(turn, t, "role", line, false);
            if (!ChatMessage.ROLES.contains(role)) {
                throw new DataException(turn + ": unknown role '" + role + "'; valid roles: "
                        + String.join(", ", ChatMessage.ROLES) + ". The line: " + Messages.preview(line));
            }
            m.add(new ChatMessage(role, text(turn, t, "content", line, true)));
        }
        if (m.stream().noneMatch(ChatMessage::isAssistant)) {
            throw new DataException(where + ": the conversation has no assistant turn, so there is nothing to train on "
                    + "(roles: " + String.join(", ", m.stream().map(ChatMessage::role).toList()) + "); add the answer "
                    + "as {\"role\": \"assistant\", \"content\": \"...\"} or drop the row");
        }
        return new Conversation(m, category(where, row, categoryField, line));
    }

    private static String text(String where, JsonNode object, String name, String line, boolean emptyOk) {
        JsonNode v = object.get(name);
        if (v == null || v.isNull()) {
            throw new DataException(where + ": no field '" + name + "'. The line: " + Messages.preview(line));
        }
        if (!v.isTextual()) {
            throw new DataException(where + ": field '" + name + "' is " + v.getNodeType().toString()
                    .toLowerCase(Locale.ROOT) + ", expected a string. The line: " + Messages.preview(line));
        }
        if (!emptyOk && v.textValue().isBlank()) {
            throw new DataException(where + ": field '" + name + "' is empty. The line: " + Messages.preview(line));
        }
        return v.textValue();
    }

    private static String category(String where, JsonNode row, String field, String line) {
        JsonNode v = row.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual() || v.isIntegralNumber() || v.isBoolean()) {
            String s = v.asText();
            if (s.isBlank()) {
                throw new DataException(where + ": the category ('" + field + "') is empty. The line: "
                        + Messages.preview(line));
            }
            return s;
        }
        throw new DataException(where + ": the category ('" + field + "') is " + v.getNodeType().toString()
                .toLowerCase(Locale.ROOT) + ", expected a string or an integer. The line: " + Messages.preview(line));
    }
}
