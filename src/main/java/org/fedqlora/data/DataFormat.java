package org.fedqlora.data;

import java.nio.file.Path;
import java.util.Locale;

/** The file formats a data set can be read from, chosen by file extension. */
public enum DataFormat {
    /** JSON lines: one object per line ({@code .jsonl}, or {@code .json} holding JSON lines as HuggingFace writes). */
    JSONL,
    /** RFC 4180 CSV with a header row ({@code .csv}). */
    CSV,
    /** Apache Parquet ({@code .parquet}), as published by HuggingFace datasets. */
    PARQUET;

    public static DataFormat of(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".json")) {
            return JSONL;
        }
        if (name.endsWith(".csv")) {
            return CSV;
        }
        if (name.endsWith(".parquet")) {
            return PARQUET;
        }
        int dot = name.lastIndexOf('.');
        String ext = dot < 0 ? "no extension" : "extension '" + name.substring(dot) + "'";
        throw new DataException(file + ": unknown data format (" + ext + "); use .jsonl or .json (JSON lines), "
                + ".csv (with a header row) or .parquet");
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
