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
 * Reads JSON lines: one JSON object per line, e.g. {@code {"text": "Stocks rally", "label": "business"}}; blank lines
 * are skipped. The label may be a string, an integer or a boolean; other fields are ignored.
 */
final class JsonlReader {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private JsonlReader() {
    }

    static List<RawRow> read(Path file, Fields fields) throws IOException {
        List<RawRow> rows = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (lineNo == 1) {
                    line = Messages.stripBom(line);
                }
                if (!line.isBlank()) {
                    rows.add(parseLine(file, lineNo, line, fields));
                }
            }
        }
        return rows;
    }

    private static RawRow parseLine(Path file, long lineNo, String line, Fields fields) {
        String where = file + " line " + lineNo;
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DataException(where + ": not valid JSON (" + org.fedqlora.Jsons.clean(e.getOriginalMessage()) + "). The line: "
                    + Messages.preview(line));
        }
        if (!node.isObject()) {
            String hint = line.strip().startsWith("[")
                    ? " The file looks like one JSON array; write one object per line (e.g. jq -c '.[]')."
                    : "";
            throw new DataException(where + ": expected a JSON object like {\"" + fields.text() + "\": \"...\", \""
                    + fields.label() + "\": \"...\"}, got " + node.getNodeType().toString().toLowerCase(Locale.ROOT)
                    + "." + hint + " The line: " + Messages.preview(line));
        }
        String text = field(node, fields.text(), where, line, false);
        String label = field(node, fields.label(), where, line, true);
        return new RawRow(text, label, lineNo);
    }

    private static String field(JsonNode object, String name, String where, String line, boolean isLabel) {
        JsonNode value = object.get(name);
        if (value == null || value.isNull()) {
            List<String> present = new ArrayList<>();
            object.fieldNames().forEachRemaining(present::add);
            throw Messages.missingField(where, name, isLabel, value == null ? "no field" : "a null value for field",
                    present, line);
        }
        if (value.isTextual()) {
            return value.textValue();
        }
        if (isLabel && (value.isIntegralNumber() || value.isBoolean())) {
            return value.asText();
        }
        throw new DataException(where + ": field '" + name + "' is " + value.getNodeType().toString().toLowerCase(Locale.ROOT)
                + ", expected " + (isLabel ? "a string or an integer" : "a string") + ". The line: "
                + Messages.preview(line));
    }
}
