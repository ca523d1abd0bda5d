package org.fedqlora.report;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What a simulation wrote into its output folder, as the report reads it.
 *
 * @param summary    summary.json (required): {"methods": {name: {"final": .., "rounds": [..], ..}}, "config": ..,
 *                   "seeds": [..], "aggregate": [..]}
 * @param metrics    metrics.jsonl, one object per line (empty when the file is absent)
 * @param partition  partition.json, if present
 * @param configYaml config.yaml verbatim, if present
 */
public record ReportInputs(JsonNode summary, List<JsonNode> metrics, Optional<JsonNode> partition,
                           Optional<String> configYaml) {
    public static final String SUMMARY = "summary.json";
    public static final String METRICS = "metrics.jsonl";
    public static final String PARTITION = "partition.json";
    public static final String CONFIG = "config.yaml";

    /** Reads Python- and Java-style JSON alike (NaN and Infinity are accepted and later shown as missing). */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    public ReportInputs {
        if (summary == null || !summary.path("methods").isObject()) {
            throw new UserException(SUMMARY + " has no \"methods\" object; expected "
                    + "{\"methods\": {\"fedqlora\": {\"final\": {\"accuracy\": 0.81, ...}, \"rounds\": [...]}}}");
        }
        metrics = List.copyOf(metrics);
    }

    /** Reads the files of a simulation output folder; only summary.json is required. */
    public static ReportInputs read(Path dir) {
        Path summaryFile = dir.resolve(SUMMARY);
        if (!Files.isRegularFile(summaryFile)) {
            throw new UserException("no " + SUMMARY + " in " + dir + "; pass the --out folder of a finished "
                    + "'fedqlora simulate' run");
        }
        return new ReportInputs(readJson(summaryFile),
                readJsonLines(dir.resolve(METRICS)),
                Files.isRegularFile(dir.resolve(PARTITION)) ? Optional.of(readJson(dir.resolve(PARTITION)))
                        : Optional.empty(),
                readText(dir.resolve(CONFIG)));
    }

    private static JsonNode readJson(Path file) {
        try {
            return MAPPER.readTree(file.toFile());
        } catch (JacksonException e) {
            throw new UserException(file + " is not valid JSON (" + org.fedqlora.Jsons.clean(e.getOriginalMessage()) + "); it was probably "
                    + "cut short: run the simulation again", e);
        } catch (IOException e) {
            throw new UserException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static List<JsonNode> readJsonLines(Path file) {
        List<JsonNode> rows = new ArrayList<>();
        List<String> lines = readText(file).map(text -> text.lines().toList()).orElse(List.of());
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            rows.add(readJsonLine(file, i + 1, lines.get(i)));
        }
        return rows;
    }

    private static JsonNode readJsonLine(Path file, int lineNumber, String line) {
        String problem;
        try {
            JsonNode row = MAPPER.readTree(line);
            if (row.isObject()) {
                return row;
            }
            problem = "a JSON " + row.getNodeType().name().toLowerCase(Locale.ROOT);
        } catch (JacksonException e) {
            problem = org.fedqlora.Jsons.clean(e.getOriginalMessage());
        }
        throw new UserException(file + " line " + lineNumber + " is not a JSON object (" + problem + "); each line "
                + "must look like {\"method\": \"fedqlora\", \"round\": 3, \"client\": 0, \"split\": \"global\", "
                + "\"accuracy\": 0.8}");
    }

    private static Optional<String> readText(Path file) {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UserException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
