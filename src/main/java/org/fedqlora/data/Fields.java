package org.fedqlora.data;

import java.util.Objects;

/**
 * Which field (JSONL key, CSV header column, Parquet column) holds the text and which holds the label.
 *
 * @param text  name of the text field
 * @param label name of the label field
 */
public record Fields(String text, String label) {
    /** The HuggingFace convention: {@code text} and {@code label}. */
    public static final Fields DEFAULT = new Fields("text", "label");

    public Fields {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(label, "label");
        if (text.isBlank() || label.isBlank()) {
            throw new DataException("text and label field names must not be blank (got text='" + text
                    + "', label='" + label + "')");
        }
        if (text.equals(label)) {
            throw new DataException("text and label fields must differ, both are '" + text + "'");
        }
    }
}
