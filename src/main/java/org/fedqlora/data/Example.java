package org.fedqlora.data;

import java.util.Objects;

/** One text with its label id (an index into the data set's {@link LabelMap}). */
public record Example(String text, int label) {
    public Example {
        Objects.requireNonNull(text, "text");
        if (label < 0) {
            throw new IllegalArgumentException("label id must be >= 0, got " + label);
        }
    }
}
