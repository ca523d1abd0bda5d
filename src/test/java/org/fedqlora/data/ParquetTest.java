package org.fedqlora.data;

import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParquetTest {
    @TempDir
    Path dir;

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(ParquetTest.class.getResource("/data/" + name).toURI());
    }

    private static List<Example> expectedNews(LabelMap labels) {
        return ParquetTestFiles.NEWS.stream().map(r -> new Example(r[0], labels.encodeStrict(r[1], "fixture")))
                .toList();
    }

    @Test
    void readsTheCommittedFixtureWithStringLabels() throws Exception {
        Dataset data = DatasetFiles.load(fixture(ParquetTestFiles.STRING_LABELS));

        assertThat(data.labels().labels()).containsExactly("business", "sports", "tech");
        assertThat(data.examples()).isEqualTo(expectedNews(data.labels()));
        assertThat(data.source()).contains("parquet");
    }

    @Test
    void mapsIntLabelsToHuggingFaceClassLabelNames() throws Exception {
        Dataset data = DatasetFiles.load(fixture(ParquetTestFiles.CLASS_LABELS));

        assertThat(data.labels().labels()).containsExactly("business", "sports", "tech");
        assertThat(data.examples()).isEqualTo(expectedNews(data.labels()));
    }

    @ParameterizedTest
    @EnumSource(value = CompressionCodecName.class, names = {"UNCOMPRESSED", "SNAPPY", "ZSTD", "GZIP", "LZ4_RAW"})
    void readsEveryCodecItSupports(CompressionCodecName codec) throws IOException {
        Path p = dir.resolve("news-" + codec + ".parquet");
        ParquetTestFiles.writeStringLabels(p, codec);

        Dataset data = DatasetFiles.load(p);

        assertThat(data.examples()).isEqualTo(expectedNews(data.labels()));
    }

    @Test
    void readsInt32LabelsWithoutMetadataAsTheirNumbers() throws IOException {
        Path p = dir.resolve("ints.parquet");
        ParquetTestFiles.write(p, MessageTypeParser.parseMessageType(
                        "message m { required binary sentence (STRING); required int32 y; }"),
                CompressionCodecName.SNAPPY, Map.of(), (f, w) -> {
                    for (int i = 0; i < 12; i++) {
                        ParquetTestFiles.append(w, f.newGroup().append("sentence", "s" + i).append("y", i % 11));
                    }
                });

        Dataset data = DatasetFiles.load(p, new Fields("sentence", "y"));

        assertThat(data.labels().size()).isEqualTo(11);
        assertThat(data.labels().name(10)).isEqualTo("10");
        assertThat(data.labelIds()).startsWith(0, 1, 2).endsWith(10, 0);
    }

    @Test
    void missingColumnNamesItAndListsTheColumns() throws Exception {
        Path p = fixture(ParquetTestFiles.STRING_LABELS);

        assertThatThrownBy(() -> DatasetFiles.load(p, new Fields("text", "category")))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(p + " (Parquet schema): no column 'category'")
                .hasMessageContaining("fields present: id, text, label");
    }

    @Test
    void nullLabelNamesTheRow() throws IOException {
        Path p = dir.resolve("nulls.parquet");
        ParquetTestFiles.write(p, MessageTypeParser.parseMessageType(
                        "message m { required binary text (STRING); optional binary label (STRING); }"),
                CompressionCodecName.SNAPPY, Map.of(), (f, w) -> {
                    ParquetTestFiles.append(w, f.newGroup().append("text", "a").append("label", "x"));
                    ParquetTestFiles.append(w, f.newGroup().append("text", "b"));
                });

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .hasMessageContaining(p + " row 2: the label column 'label' is null");
    }

    @Test
    void textColumnOfNumbersIsRejected() throws Exception {
        Path p = fixture(ParquetTestFiles.STRING_LABELS);

        assertThatThrownBy(() -> DatasetFiles.load(p, new Fields("id", "label")))
                .hasMessageContaining("column 'id' is").hasMessageContaining("text column must hold strings");
    }
}
