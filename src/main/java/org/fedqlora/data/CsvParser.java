package org.fedqlora.data;

import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.List;

/**
 * A streaming RFC 4180 CSV parser: fields separated by commas, records by CRLF or LF; a field may be quoted with
 * {@code "}, and inside quotes commas, line breaks and doubled quotes ({@code ""} for one {@code "}) are data. A quote
 * inside an unquoted field is kept as a character. Records that are empty lines are skipped.
 */
final class CsvParser {
    private static final int EOF = -1;
    private final Reader in;
    private final String fileName;
    private final StringBuilder raw = new StringBuilder();
    private int pending = -2; // one character of look-ahead; -2 = none
    private long line = 1;    // line of the next character
    private long recordLine;

    CsvParser(Reader in, String fileName) {
        this.in = in;
        this.fileName = fileName;
    }

    /** The next record's fields, or null at the end of the input. */
    List<String> next() throws IOException {
        while (true) {
            raw.setLength(0);
            recordLine = line;
            int c = peek();
            if (c == EOF) {
                return null;
            }
            List<String> record = readRecord();
            boolean emptyLine = record.size() == 1 && record.get(0).isEmpty() && raw.toString().isBlank();
            if (!emptyLine) {
                return record;
            }
        }
    }

    /** The 1-based line where the last record returned by {@link #next()} starts. */
    long recordLine() {
        return recordLine;
    }

    /** The text of the last record as it is in the file (without its line break). */
    String rawRecord() {
        return raw.toString();
    }

    private List<String> readRecord() throws IOException {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        while (true) {
            int c = read();
            if (c == '"' && field.isEmpty()) {
                readQuoted(field);
                c = read();
                if (c != ',' && c != '\n' && c != '\r' && c != EOF) {
                    throw new DataException(fileName + " line " + line + ": unexpected character '" + (char) c
                            + "' after a closing quote; inside a quoted field write a quote as \"\". The record: "
                            + Messages.preview(raw.toString()));
                }
            }
            if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else if (c == '\n' || c == '\r' || c == EOF) {
                if (c == '\r' && peek() == '\n') {
                    read();
                }
                fields.add(field.toString());
                trimLineBreak();
                return fields;
            } else {
                field.append((char) c);
            }
        }
    }

    private void readQuoted(StringBuilder field) throws IOException {
        long start = line;
        while (true) {
            int c = read();
            if (c == EOF) {
                throw new DataException(fileName + " line " + start + ": a quoted field is never closed (the file "
                        + "ends inside it); close it with \". The record: " + Messages.preview(raw.toString()));
            }
            if (c == '"') {
                if (peek() != '"') {
                    return;
                }
                read();
            }
            field.append((char) c);
        }
    }

    private void trimLineBreak() {
        int n = raw.length();
        while (n > 0 && (raw.charAt(n - 1) == '\n' || raw.charAt(n - 1) == '\r')) {
            n--;
        }
        raw.setLength(n);
    }

    private int peek() throws IOException {
        if (pending == -2) {
            pending = in.read();
        }
        return pending;
    }

    private int read() throws IOException {
        int c = peek();
        pending = -2;
        if (c != EOF) {
            raw.append((char) c);
            if (c == '\n') {
                line++;
            }
        }
        return c;
    }
}
