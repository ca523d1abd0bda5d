package org.fedqlora.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CsvTest {
    @TempDir
    Path dir;

    private static List<List<String>> parse(String csv) throws IOException {
        CsvParser parser = new CsvParser(new StringReader(csv), "t.csv");
        List<List<String>> records = new ArrayList<>();
        List<String> r;
        while ((r = parser.next()) != null) {
            records.add(r);
        }
        return records;
    }

    @Test
    void parsesQuotedCommasDoubledQuotesAndLineBreaks() throws IOException {
        String csv = "text,label\r\n\"a, b\",x\r\n\"say \"\"hi\"\"\",y\n\"two\nlines\",z\n";

        assertThat(parse(csv)).containsExactly(List.of("text", "label"), List.of("a, b", "x"),
                List.of("say \"hi\"", "y"), List.of("two\nlines", "z"));
    }

    @Test
    void keepsEmptyFieldsSkipsEmptyLinesAndReadsALastLineWithoutBreak() throws IOException {
        assertThat(parse("a,b,c\n,,\n\nx,,z")).containsExactly(List.of("a", "b", "c"), List.of("", "", ""),
                List.of("x", "", "z"));
    }

    @Test
    void recordLineIsWhereAMultiLineRecordStarts() throws IOException {
        CsvParser parser = new CsvParser(new StringReader("h\n\"1\n2\n3\"\nnext\n"), "t.csv");
        parser.next();
        parser.next();
        parser.next();

        assertThat(parser.recordLine()).isEqualTo(5);
        assertThat(parser.rawRecord()).isEqualTo("next");
    }

    @Test
    void unterminatedQuoteNamesTheLineWhereTheFieldOpens() {
        assertThatThrownBy(() -> parse("text,label\nok,1\n\"never closed,2\nmore\n"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("t.csv line 3: a quoted field is never closed");
    }

    @Test
    void textAfterAClosingQuoteIsAnError() {
        assertThatThrownBy(() -> parse("a\n\"x\"y\n")).hasMessageContaining("line 2: unexpected character 'y'");
    }

    @Test
    void loadsCsvWithHeaderByColumnName() throws IOException {
        Path p = dir.resolve("train.csv");
        Files.writeString(p, "\uFEFFid,label,text\n1, sports ,\"Cup final, again\"\n2,business,Stocks\n");

        Dataset data = DatasetFiles.load(p);

        assertThat(data.examples()).containsExactly(new Example("Cup final, again", 1), new Example("Stocks", 0));
        assertThat(data.labels().labels()).containsExactly("business", "sports");
    }

    @Test
    void missingColumnNamesItAndListsTheHeader() throws IOException {
        Path p = dir.resolve("train.csv");
        Files.writeString(p, "sentence,label\nhello,a\n");

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(p + " line 1 (the header): no column 'text'")
                .hasMessageContaining("fields present: sentence, label")
                .hasMessageContaining("The line: sentence,label");
    }

    @Test
    void wrongFieldCountNamesLineAndShowsTheRecord() throws IOException {
        Path p = dir.resolve("train.csv");
        Files.writeString(p, "text,label\nfine,a\nnot, quoted,b\n");

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .hasMessageContaining(p + " line 3: 3 fields but the header has 2")
                .hasMessageContaining("not, quoted,b");
    }

    @Test
    void emptyLabelNamesTheLine() throws IOException {
        Path p = dir.resolve("train.csv");
        Files.writeString(p, "text,label\nfine,a\nno label here,\n");

        assertThatThrownBy(() -> DatasetFiles.load(p))
                .hasMessageContaining(p + " line 3: the label is empty (text: no label here)");
    }

    @Test
    void headerOnlyFileHasNoExamples() throws IOException {
        Path p = dir.resolve("train.csv");
        Files.writeString(p, "text,label\n");

        assertThatThrownBy(() -> DatasetFiles.load(p)).hasMessageContaining("has no examples");
    }
}
