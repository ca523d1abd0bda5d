package org.fedqlora.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads text-classification data sets from JSONL, CSV or Parquet files (chosen by extension, see {@link DataFormat})
 * and writes them as JSONL.
 *
 * <p>A training file gets its own {@link LabelMap} ({@link LabelMap#fromObserved}); an evaluation file is loaded
 * with the training map ({@link #load(Path, Fields, LabelMap)}), and a label the map does not know is an error that
 * names the file and line.
 */
public final class DatasetFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private DatasetFiles() {
    }

    /** Loads {@code file} with the default fields {@code text} and {@code label}. */
    public static Dataset load(Path file) {
        return load(file, Fields.DEFAULT);
    }

    /** Loads {@code file}; its label map is built from the labels it holds. */
    public static Dataset load(Path file, Fields fields) {
        List<RawRow> rows = readRows(file, fields);
        LabelMap labels = LabelMap.fromObserved(rows.stream().map(RawRow::label).toList());
        return encode(file, fields, rows, labels);
    }

    /** Loads {@code file} with a given label map (the training one): every label must be in it. */
    public static Dataset load(Path file, Fields fields, LabelMap labels) {
        return encode(file, fields, readRows(file, fields), labels);
    }

    /**
     * Writes one JSON object per line, {@code {"text": ..., "label": <label name>}}, with the given field names, so that
     * {@link #load(Path, Fields)} reads the same examples back.
     */
    public static void writeJsonl(Dataset data, Path file, Fields fields) throws IOException {
        try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Example e : data.examples()) {
                ObjectNode row = JSON.createObjectNode();
                row.put(fields.text(), e.text());
                row.put(fields.label(), data.labels().name(e.label()));
                out.write(JSON.writeValueAsString(row));
                out.write('\n');
            }
        }
    }

    private static List<RawRow> readRows(Path file, Fields fields) {
        DataFormat format = DataFormat.of(file);
        if (!Files.isRegularFile(file)) {
            throw new DataException(file + ": no such file");
        }
        if (format != DataFormat.PARQUET) {
            org.fedqlora.TextFiles.requireUtf8(file, "");
        }
        List<RawRow> rows;
        try {
            rows = switch (format) {
                case JSONL -> JsonlReader.read(file, fields);
                case CSV -> CsvReader.read(file, fields);
                case PARQUET -> ParquetRowReader.read(file, fields);
            };
        } catch (IOException e) {
            throw new DataException(file + ": cannot read as " + format.id() + ": " + e.getMessage(), e);
        }
        if (rows.isEmpty()) {
            throw new DataException(file + ": has no examples (the file holds no rows); a data set needs at least one");
        }
        return rows;
    }

    private static Dataset encode(Path file, Fields fields, List<RawRow> rows, LabelMap labels) {
        String unit = DataFormat.of(file) == DataFormat.PARQUET ? " row " : " line ";
        List<Example> examples = new ArrayList<>(rows.size());
        for (RawRow row : rows) {
            String where = file + unit + row.line();
            if (row.label().isBlank()) {
                throw new DataException(where + ": the label is empty (text: " + Messages.preview(row.text())
                        + "); every example needs a label: fill it in or drop the row");
            }
            examples.add(new Example(row.text(), labels.encodeStrict(row.label(), where)));
        }
        String source = file + " (" + DataFormat.of(file).id() + ", text='" + fields.text() + "', label='"
                + fields.label() + "')";
        return new Dataset(examples, labels, source);
    }
}
