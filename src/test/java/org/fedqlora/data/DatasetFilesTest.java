package org.fedqlora.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** JSONL loading, errors shared by all formats, label maps for evaluation files, JSONL writing. */
class DatasetFilesTest {
    @TempDir
    Path dir;

    private Path file(String name, String... lines) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, String.join("\n", lines) + "\n");
        return p;
    }

    @Test
    void loadsJsonlWithStringLabelsAndSkipsBlankLines() throws IOException {
        Path p = file("train.jsonl", "{\"text\": \"Stocks rally\", \"label\": \"business\"}", "",
                "{\"text\": \"Cup final\", \"label\": \"sports\", \"id\": 7}");

        Dataset data = DatasetFiles.load(p);

        assertThat(data.examples()).containsExactly(new Example("Stocks rally", 0), new Example("Cup final", 1));
        assertThat(data.labels().labels()).containsExactly("business", "sports");
        assertThat(data.source()).contains("train.jsonl").contains("jsonl");
    }

    @Test
    void loadsIntegerLabelsAndCustomFieldNames() throws IOException {
        Path p = file("train.json", "{\"sentence\": \"good\", \"y\": 1}", "{\"sentence\": \"bad\", \"y\": 0}");

        Dataset data = DatasetFiles.load(p, new Fields("sentence", "y"));

        assertThat(data.labels().labels()).containsExactly("0", "1");
        assertThat(data.labelIds()).containsExactly(1, 0);
    }

    @Test
    void missingLabelFieldNamesFieldFileLineAndPresentFields() throws IOException {
        Path p = file("train.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}",
                "{\"text\": \"no label here\", \"category\": \"b\"}");

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(p + " line 2")
                .hasMessageContaining("no field 'label'")
                .hasMessageContaining("fields present: text, category")
                .hasMessageContaining("{\"text\": \"no label here\", \"category\": \"b\"}");
    }

    @Test
    void badLineIsShownCutTo200Characters() throws IOException {
        String longText = "x".repeat(1000);
        String line = "{\"txt\": \"" + longText + "\", \"label\": \"a\"}";
        Path p = file("train.jsonl", line);

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .hasMessageContaining("no field 'text'")
                .hasMessageContaining("x".repeat(150))
                .hasMessageNotContaining("x".repeat(Messages.PREVIEW_CHARS + 1))
                .hasMessageContaining("(" + line.length() + " characters)");
    }

    @Test
    void malformedJsonNamesFileAndLine() throws IOException {
        Path p = file("train.jsonl", "{\"text\": \"a\", \"label\": \"x\"}", "{\"text\": \"b\", \"label\": ");

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(p + " line 2: not valid JSON");
    }

    @Test
    void jsonArrayFileGetsAHint() throws IOException {
        Path p = file("train.json", "[{\"text\": \"a\", \"label\": \"x\"}]");

        assertThatThrownBy(() -> DatasetFiles.load(p)).hasMessageContaining("one JSON array");
    }

    @Test
    void nullOrNonStringValuesAreErrors() throws IOException {
        Path nullLabel = file("a.jsonl", "{\"text\": \"a\", \"label\": null}");
        Path objectText = file("b.jsonl", "{\"text\": {\"x\": 1}, \"label\": \"a\"}");

        assertThatThrownBy(() -> DatasetFiles.load(nullLabel)).hasMessageContaining("a null value for field 'label'");
        assertThatThrownBy(() -> DatasetFiles.load(objectText))
                .hasMessageContaining("field 'text' is object, expected a string");
    }

    @Test
    void emptyFileIsAnError() throws IOException {
        Path p = dir.resolve("empty.jsonl");
        Files.writeString(p, "\n\n");

        assertThatThrownBy(() -> DatasetFiles.load(p)).isInstanceOf(DataException.class)
                .hasMessageContaining("has no examples");
    }

    @Test
    void unknownExtensionListsTheSupportedFormats() throws IOException {
        Path p = file("train.txt", "hello");

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .hasMessageContaining("extension '.txt'")
                .hasMessageContaining(".jsonl").hasMessageContaining(".csv").hasMessageContaining(".parquet");
    }

    @Test
    void evalFileIsEncodedWithTheTrainingLabelMap() throws IOException {
        LabelMap training = new LabelMap(List.of("business", "sports", "tech"));
        Path p = file("test.jsonl", "{\"text\": \"a\", \"label\": \"tech\"}", "{\"text\": \"b\", \"label\": \"sports\"}");

        Dataset eval = DatasetFiles.load(p, Fields.DEFAULT, training);

        assertThat(eval.labels()).isEqualTo(training);
        assertThat(eval.labelIds()).containsExactly(2, 1);
    }

    @Test
    void evalLabelUnseenInTrainingNamesLabelLineAndKnownLabels() throws IOException {
        LabelMap training = new LabelMap(List.of("business", "sports"));
        Path p = file("test.jsonl", "{\"text\": \"a\", \"label\": \"sports\"}", "{\"text\": \"b\", \"label\": \"travel\"}");

        assertThatThrownBy(() -> DatasetFiles.load(p, Fields.DEFAULT, training))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(p + " line 2")
                .hasMessageContaining("'travel'")
                .hasMessageContaining("[business, sports]");
    }

    @Test
    void withLabelMapRecodesByNameAndRejectsUnknownLabels() throws IOException {
        Dataset test = DatasetFiles.load(file("test.jsonl", "{\"text\": \"a\", \"label\": \"sports\"}"));

        Dataset recoded = test.withLabelMap(new LabelMap(List.of("business", "sports")));

        assertThat(recoded.labelIds()).containsExactly(1);
        assertThatThrownBy(() -> test.withLabelMap(new LabelMap(List.of("business"))))
                .hasMessageContaining("'sports'").hasMessageContaining("[business]");
    }

    @Test
    void writtenJsonlReadsBackTheSameExamples() throws IOException {
        Dataset data = new Dataset(List.of(new Example("a \"quoted\"\nline", 1), new Example("b", 0)),
                new LabelMap(List.of("neg", "pos")), "memory");
        Path p = dir.resolve("out.jsonl");

        DatasetFiles.writeJsonl(data, p, Fields.DEFAULT);

        assertThat(DatasetFiles.load(p).examples()).isEqualTo(data.examples());
    }
}
