package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class SummaryTableTest {
    @Test
    void rowsShowFinalMetricsInPercentUnderTheirHeaders() {
        JsonNode summary = ReportInputs.read(HtmlReportTest.sampleDir()).summary();

        List<String> lines = SummaryTable.format(summary).lines().toList();
        System.out.println(String.join("\n", lines));

        assertThat(lines.get(0).split(" {2,}")).containsExactly("method", "accuracy", "macro-F1", "worst client",
                "nf2 acc", "nf4 acc");
        assertThat(lines.get(2).split(" +")).containsExactly("fedqlora", "84.00", "83.00", "80.25", "81.00", "86.00");
        assertThat(lines).hasSize(6);
        assertThat(lines.get(5)).isEqualTo("(final metrics in % on the global test set)");
    }

    @Test
    void columnsAreAlignedWithMethodsLeftAndNumbersRight() {
        JsonNode summary = ReportInputs.read(HtmlReportTest.sampleDir()).summary();

        List<String> table = SummaryTable.format(summary).lines().limit(5).toList();

        assertThat(table).extracting(String::length).containsOnly(table.get(0).length());
        int[] columnGaps = gaps(table.get(1));
        assertThat(columnGaps).hasSize(2 * 5);
        for (String line : table) {
            for (int i : columnGaps) {
                assertThat(line.charAt(i)).as("column gap at %d in '%s'", i, line).isEqualTo(' ');
            }
        }
        assertThat(table.get(3)).startsWith("fedavg-qlora  ");
    }

    @Test
    void missingValuesPrintAsADashAndWorstClientFallsBackToThePerClientMinimum() throws IOException {
        JsonNode summary = ReportInputs.MAPPER.readTree("""
                {"methods": {"lora": {"final": {"accuracy": 0.7,
                   "per_client": [{"client": 0, "accuracy": 0.65}, {"client": 1, "accuracy": 0.75}]}}}}""");

        List<String> lines = SummaryTable.format(summary).lines().toList();

        assertThat(lines.get(0).split(" {2,}")).containsExactly("method", "accuracy", "macro-F1", "worst client");
        assertThat(lines.get(2).split(" +")).containsExactly("lora", "70.00", "-", "65.00");
    }

    /** Indexes of the blanks in the dash line (the gaps between columns): every row must be blank there too. */
    private static int[] gaps(String dashLine) {
        return IntStream.range(0, dashLine.length()).filter(i -> dashLine.charAt(i) == ' ').toArray();
    }
}
