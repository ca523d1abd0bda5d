package org.fedqlora.data;

/**
 * One row as read from a file, before its label is turned into an id.
 *
 * @param text  the text field
 * @param label the label field as a string (int labels in their decimal form)
 * @param line  where the row is: 1-based line of a JSONL/CSV file (where the record starts), 1-based row of a Parquet
 *              file
 */
record RawRow(String text, String label, long line) {
}
