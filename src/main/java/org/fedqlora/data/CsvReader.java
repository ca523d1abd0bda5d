package org.fedqlora.data;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a CSV file (see {@link CsvParser}) whose first record is a header naming the columns; the text and label
 * columns are found by name, other columns are ignored. Labels are stripped of surrounding spaces, texts are kept as
 * they are.
 */
final class CsvReader {
    private CsvReader() {
    }

    static List<RawRow> read(Path file, Fields fields) throws IOException {
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            CsvParser parser = new CsvParser(in, file.toString());
            List<String> header = parser.next();
            if (header == null) {
                throw new DataException(file + ": is empty; a CSV data file needs a header row (e.g. "
                        + fields.text() + "," + fields.label() + ") and at least one example");
            }
            header.set(0, Messages.stripBom(header.get(0)));
            String where = file + " line " + parser.recordLine() + " (the header)";
            int textColumn = column(header, fields.text(), false, where, parser.rawRecord());
            int labelColumn = column(header, fields.label(), true, where, parser.rawRecord());
            List<RawRow> rows = new ArrayList<>();
            List<String> record;
            while ((record = parser.next()) != null) {
                if (record.size() != header.size()) {
                    throw new DataException(file + " line " + parser.recordLine() + ": " + record.size()
                            + " fields but the header has " + header.size() + " " + header + "; quote fields that "
                            + "contain commas (\"a, b\"). The record: " + Messages.preview(parser.rawRecord()));
                }
                rows.add(new RawRow(record.get(textColumn), record.get(labelColumn).strip(), parser.recordLine()));
            }
            return rows;
        }
    }

    private static int column(List<String> header, String name, boolean isLabel, String where, String raw) {
        int index = header.indexOf(name);
        if (index < 0) {
            throw Messages.missingField(where, name, isLabel, "no column", header, raw);
        }
        return index;
    }
}
