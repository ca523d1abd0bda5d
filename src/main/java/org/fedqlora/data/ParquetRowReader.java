package org.fedqlora.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the text and label columns of a Parquet file (other columns are not decoded). The text column must hold
 * strings (BINARY); the label column strings, INT32/INT64 or BOOLEAN. When the file carries HuggingFace metadata
 * (key {@code huggingface}) declaring the label column a {@code ClassLabel}, int labels are replaced by their names.
 */
final class ParquetRowReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<PrimitiveTypeName> LABEL_TYPES =
            Set.of(PrimitiveTypeName.BINARY, PrimitiveTypeName.INT32, PrimitiveTypeName.INT64, PrimitiveTypeName.BOOLEAN);

    private ParquetRowReader() {
    }

    static List<RawRow> read(Path file, Fields fields) throws IOException {
        checkFraming(file);
        try {
            return readChecked(file, fields);
        } catch (DataException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // parquet-java reports a damaged footer or page as a RuntimeException with an internal message
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().replaceAll("\\s*\\R\\s*", " ");
            throw new DataException(file + ": the Parquet file is damaged and cannot be decoded (" + m
                    + "); export it again, e.g. with pandas df.to_parquet(path) or datasets' ds.to_parquet(path)", e);
        }
    }

    /**
     * A Parquet file is "PAR1", the data, the footer (Thrift FileMetaData), its 4-byte little-endian length, "PAR1".
     * Checks that framing first, so a file that is not Parquet at all gets a plain message.
     */
    private static void checkFraming(Path file) throws IOException {
        long size = java.nio.file.Files.size(file);
        byte[] head = new byte[4];
        byte[] tail = new byte[8];
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            if (size >= 12) {
                ch.read(java.nio.ByteBuffer.wrap(head), 0);
                ch.read(java.nio.ByteBuffer.wrap(tail), size - 8);
            }
        }
        byte[] magic = {'P', 'A', 'R', '1'};
        if (size >= 12 && java.util.Arrays.equals(head, magic)
                && !java.util.Arrays.equals(java.util.Arrays.copyOfRange(tail, 4, 8), magic)) {
            throw new DataException(file + ": starts like a Parquet file but does not end with 'PAR1' (" + size
                    + " bytes): it is truncated, e.g. by an interrupted download or copy; copy it again");
        }
        if (size < 12 || !java.util.Arrays.equals(head, magic)
                || !java.util.Arrays.equals(java.util.Arrays.copyOfRange(tail, 4, 8), magic)) {
            throw new DataException(file + ": is not a Parquet file (a Parquet file starts and ends with 'PAR1'; this "
                    + "one has " + size + " bytes" + (size >= 12 ? " and starts with " + printable(head) : "")
                    + "); give a .parquet file, or rename the file to .jsonl or .csv if that is what it holds");
        }
        long footer = java.nio.ByteBuffer.wrap(tail, 0, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt() & 0xFFFFFFFFL;
        if (footer == 0 || footer > size - 12) {
            throw new DataException(file + ": the Parquet footer is corrupt (its length " + footer + " does not fit a "
                    + "file of " + size + " bytes): the file is truncated or damaged; export it again");
        }
    }

    private static String printable(byte[] b) {
        StringBuilder sb = new StringBuilder("'");
        for (byte x : b) {
            sb.append(x >= 32 && x < 127 ? String.valueOf((char) x) : String.format("\\x%02X", x & 0xFF));
        }
        return sb.append("'").toString();
    }

    private static List<RawRow> readChecked(Path file, Fields fields) throws IOException {
        ParquetReadOptions options = ParquetReadOptions.builder(new PlainParquetConfiguration()).withCodecFactory(new ParquetCodecs()).build();
        try (ParquetFileReader reader = ParquetFileReader.open(new LocalInputFile(file), options)) {
            MessageType schema = reader.getFooter().getFileMetaData().getSchema();
            Type text = column(file, schema, fields.text(), false, Set.of(PrimitiveTypeName.BINARY));
            Type label = column(file, schema, fields.label(), true, LABEL_TYPES);
            MessageType projection = new MessageType(schema.getName(), text, label);
            reader.setRequestedSchema(projection);
            List<String> classNames = classLabelNames(reader.getFooter().getFileMetaData().getKeyValueMetaData(),
                    fields.label());
            return readRows(file, reader, projection, fields, classNames);
        }
    }

    private static List<RawRow> readRows(Path file, ParquetFileReader reader, MessageType projection, Fields fields,
                                         List<String> classNames) throws IOException {
        List<RawRow> rows = new ArrayList<>();
        PageReadStore pages;
        while ((pages = reader.readNextRowGroup()) != null) {
            RecordReader<Group> records = new ColumnIOFactory().getColumnIO(projection)
                    .getRecordReader(pages, new GroupRecordConverter(projection));
            for (long i = 0; i < pages.getRowCount(); i++) {
                Group g = records.read();
                long row = rows.size() + 1L;
                String text = value(file, row, g, fields.text(), false);
                String label = value(file, row, g, fields.label(), true);
                rows.add(new RawRow(text, className(file, row, label, classNames), row));
            }
        }
        return rows;
    }

    private static Type column(Path file, MessageType schema, String name, boolean isLabel,
                               Set<PrimitiveTypeName> allowed) {
        String where = file + " (Parquet schema)";
        if (!schema.containsField(name)) {
            List<String> present = schema.getFields().stream().map(Type::getName).toList();
            throw Messages.missingField(where, name, isLabel, "no column", present, "The schema", schema.toString());
        }
        Type type = schema.getType(name);
        boolean ok = type.isPrimitive() && !type.isRepetition(Type.Repetition.REPEATED)
                && allowed.contains(type.asPrimitiveType().getPrimitiveTypeName());
        if (!ok) {
            throw new DataException(where + ": column '" + name + "' is " + type.toString().strip() + "; the "
                    + (isLabel ? "label column must hold strings, integers or booleans"
                    : "text column must hold strings") + ", one value per row");
        }
        return type;
    }

    private static String value(Path file, long row, Group g, String name, boolean isLabel) {
        if (g.getFieldRepetitionCount(name) == 0) {
            throw new DataException(file + " row " + row + ": the " + (isLabel ? "label" : "text") + " column '"
                    + name + "' is null; drop or fill rows without a " + (isLabel ? "label" : "text") + ". The row: "
                    + Messages.preview(g.toString().replace('\n', ' ')));
        }
        return g.getValueToString(g.getType().getFieldIndex(name), 0);
    }

    /**
     * The {@code names} of a HuggingFace {@code ClassLabel} feature, from the file metadata
     * {@code {"info": {"features": {"label": {"_type": "ClassLabel", "names": [...]}}}}}; empty when absent.
     */
    static List<String> classLabelNames(Map<String, String> keyValueMetadata, String labelField) throws IOException {
        String hf = keyValueMetadata.get("huggingface");
        if (hf == null) {
            return List.of();
        }
        JsonNode feature = JSON.readTree(hf).path("info").path("features").path(labelField);
        if (!"ClassLabel".equals(feature.path("_type").asText()) || !feature.path("names").isArray()) {
            return List.of();
        }
        List<String> names = new ArrayList<>();
        feature.path("names").forEach(n -> names.add(n.asText()));
        return names;
    }

    private static String className(Path file, long row, String label, List<String> classNames) {
        if (classNames.isEmpty()) {
            return label;
        }
        int id;
        try {
            id = Integer.parseInt(label);
        } catch (NumberFormatException e) {
            return label;
        }
        if (id < 0 || id >= classNames.size()) {
            throw new DataException(file + " row " + row + ": label " + id + " is outside the " + classNames.size()
                    + " ClassLabel names in the file's HuggingFace metadata " + classNames
                    + (id == -1 ? " (HuggingFace marks unlabelled rows, e.g. of GLUE test splits, with -1: use a "
                    + "labelled split)" : ""));
        }
        return classNames.get(id);
    }
}
