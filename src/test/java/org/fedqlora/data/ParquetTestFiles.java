package org.fedqlora.data;

import io.airlift.compress.Compressor;
import io.airlift.compress.lz4.Lz4Compressor;
import io.airlift.compress.snappy.SnappyCompressor;
import io.airlift.compress.zstd.ZstdCompressor;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalOutputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.zip.GZIPOutputStream;

/**
 * Writes small Parquet files with parquet-java's own writer, for tests. {@link #main} (re)creates the committed
 * fixtures in src/test/resources/data/ (run once: {@code java -cp target/test-classes:target/classes:<deps>
 * org.fedqlora.data.ParquetTestFiles src/test/resources/data}).
 */
final class ParquetTestFiles {
    static final String STRING_LABELS = "news-string-labels.parquet";
    static final String CLASS_LABELS = "news-classlabel.parquet";
    /** The rows of both fixtures: text, label name. */
    static final List<String[]> NEWS = List.of(
            new String[]{"Stocks rally as central bank holds rates", "business"},
            new String[]{"Local team wins the cup, \"finally\" say fans", "sports"},
            new String[]{"New chip promises faster phones", "tech"},
            new String[]{"Oil prices slip on weak demand", "business"},
            new String[]{"Striker signs a three-year deal", "sports"},
            new String[]{"Open-source model tops benchmark; ümlauts & emoji 🚀 survive", "tech"});
    /** HuggingFace ClassLabel order of the fixture with int labels. */
    static final List<String> CLASS_NAMES = List.of("sports", "business", "tech");

    private ParquetTestFiles() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        writeStringLabels(dir.resolve(STRING_LABELS), CompressionCodecName.SNAPPY);
        writeClassLabels(dir.resolve(CLASS_LABELS), CompressionCodecName.SNAPPY);
    }

    /** Columns id (int32), text (string), label (string). */
    static void writeStringLabels(Path file, CompressionCodecName codec) throws IOException {
        MessageType schema = MessageTypeParser.parseMessageType(
                "message news { required int32 id; required binary text (STRING); required binary label (STRING); }");
        write(file, schema, codec, Map.of(), (factory, writer) -> {
            for (int i = 0; i < NEWS.size(); i++) {
                append(writer, factory.newGroup().append("id", i).append("text", NEWS.get(i)[0])
                        .append("label", NEWS.get(i)[1]));
            }
        });
    }

    /** Columns text (string), label (int64 index into {@link #CLASS_NAMES}) and HuggingFace ClassLabel metadata. */
    static void writeClassLabels(Path file, CompressionCodecName codec) throws IOException {
        MessageType schema = MessageTypeParser.parseMessageType(
                "message news { required binary text (STRING); required int64 label; }");
        String names = String.join("\", \"", CLASS_NAMES);
        String hf = "{\"info\": {\"features\": {\"text\": {\"dtype\": \"string\", \"_type\": \"Value\"}, "
                + "\"label\": {\"names\": [\"" + names + "\"], \"_type\": \"ClassLabel\"}}}}";
        write(file, schema, codec, Map.of("huggingface", hf), (factory, writer) -> {
            for (String[] row : NEWS) {
                append(writer, factory.newGroup().append("text", row[0])
                        .append("label", (long) CLASS_NAMES.indexOf(row[1])));
            }
        });
    }

    /** Writes rows given by {@code rows} under {@code schema}. */
    static void write(Path file, MessageType schema, CompressionCodecName codec, Map<String, String> metadata,
                      BiConsumer<SimpleGroupFactory, ParquetWriter<Group>> rows) throws IOException {
        Files.deleteIfExists(file);
        try (ParquetWriter<Group> writer = ExampleParquetWriter.builder(new LocalOutputFile(file))
                .withConf(new PlainParquetConfiguration()).withType(schema).withCodecFactory(new Compressing())
                .withCompressionCodec(codec).withExtraMetaData(metadata).build()) {
            rows.accept(new SimpleGroupFactory(schema), writer);
        }
    }

    static void append(ParquetWriter<Group> writer, Group row) {
        try {
            writer.write(row);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@link ParquetCodecs} plus compression, so tests can write every codec it reads. */
    static final class Compressing implements CompressionCodecFactory {
        private final ParquetCodecs reading = new ParquetCodecs();

        @Override
        public BytesInputCompressor getCompressor(CompressionCodecName codec) {
            return switch (codec) {
                case UNCOMPRESSED -> compressor(codec, bytes -> bytes);
                case SNAPPY -> compressor(codec, bytes -> raw(new SnappyCompressor(), bytes));
                case ZSTD -> compressor(codec, bytes -> raw(new ZstdCompressor(), bytes));
                case LZ4_RAW -> compressor(codec, bytes -> raw(new Lz4Compressor(), bytes));
                case GZIP -> compressor(codec, ParquetTestFiles::gzip);
                default -> throw new IllegalArgumentException("no test compressor for " + codec);
            };
        }

        @Override
        public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
            return reading.getDecompressor(codec);
        }

        @Override
        public void release() {
        }
    }

    private interface ByteFunction {
        byte[] apply(byte[] in) throws IOException;
    }

    private static CompressionCodecFactory.BytesInputCompressor compressor(CompressionCodecName codec,
                                                                           ByteFunction f) {
        return new CompressionCodecFactory.BytesInputCompressor() {
            @Override
            public BytesInput compress(BytesInput bytes) throws IOException {
                return BytesInput.from(f.apply(bytes.toInputStream().readAllBytes()));
            }

            @Override
            public CompressionCodecName getCodecName() {
                return codec;
            }

            @Override
            public void release() {
            }
        };
    }

    private static byte[] raw(Compressor c, byte[] in) {
        byte[] out = new byte[c.maxCompressedLength(in.length)];
        int n = c.compress(in, 0, in.length, out, 0, out.length);
        return Arrays.copyOf(out, n);
    }

    private static byte[] gzip(byte[] in) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
            out.write(in);
        }
        return bytes.toByteArray();
    }
}
