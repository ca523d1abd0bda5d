package org.fedqlora.data;

import java.util.List;

/** Shared wording of data-file errors, so every format reports a bad row the same way. */
final class Messages {
    /** How much of a bad line an error shows. */
    static final int PREVIEW_CHARS = 200;

    private Messages() {
    }

    /** {@code line} cut to {@value #PREVIEW_CHARS} characters, saying how long it was when cut. */
    static String preview(String line) {
        if (line.length() <= PREVIEW_CHARS) {
            return line;
        }
        return line.substring(0, PREVIEW_CHARS) + "... (" + line.length() + " characters)";
    }

    static String stripBom(String line) {
        return line.startsWith("\uFEFF") ? line.substring(1) : line;
    }

    /**
     * "train.jsonl line 3: no field 'label' (fields present: text, category). Set the label field to the one that
     * holds the label, or fix the data. The line: {...}"
     */
    static DataException missingField(String where, String name, boolean isLabel, String what, List<String> present,
                                      String line) {
        return missingField(where, name, isLabel, what, present, "The line", line);
    }

    /** As above, showing {@code shown} under another heading (e.g. "The schema"), on one line. */
    static DataException missingField(String where, String name, boolean isLabel, String what, List<String> present,
                                      String heading, String shown) {
        String role = isLabel ? "label" : "text";
        return new DataException(where + ": " + what + " '" + name + "' (fields present: " + String.join(", ", present)
                + "). Set the " + role + " field to the one that holds the " + role + ", or fix the data. " + heading
                + ": " + preview(shown.replaceAll("\\s*\n\\s*", " ")));
    }
}
