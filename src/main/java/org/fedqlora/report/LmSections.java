package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.report.Html.Cell;
import org.fedqlora.report.Html.Table;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The report's summary and per-client tables for causal-LM (instruction-tuning) runs: perplexity and loss over
 * response tokens where classification shows accuracy and macro-F1; the worst client has the highest perplexity.
 */
final class LmSections {
    /** The per-client columns of a causal-LM run; the worst client has the highest perplexity. */
    private static final PerClientSection.Metrics PER_CLIENT = new PerClientSection.Metrics(
            List.of("Perplexity", "Loss", "Local perplexity"), List.of("perplexity", "loss", "local_perplexity"),
            Numbers::decimal, method -> Json.number(method.path("final"), "worst_client_perplexity"),
            "The final model evaluated by each client: perplexity over response tokens of the global test set and "
                    + "of its own held-out data; each method's worst client is in bold.");

    private LmSections() {
    }

    static String summary(JsonNode summary) {
        List<String> formats = Json.formats(summary);
        List<Cell> header = new ArrayList<>(List.of(Cell.text("Method"), Cell.number("Perplexity"), Cell.number("Loss"),
                Cell.number("Worst client")));
        formats.forEach(f -> header.add(Cell.number(f + " ppl.")));
        header.addAll(List.of(Cell.number("Bytes up"), Cell.number("Bytes down"), Cell.number("Time")));
        Table table = new Table(header);
        for (Map.Entry<String, JsonNode> method : Json.methods(summary)) {
            JsonNode m = method.getValue();
            JsonNode fin = m.path("final");
            List<Cell> row = new ArrayList<>(List.of(Cell.text(method.getKey()).strong(true),
                    Cell.number(Numbers.decimal(Json.number(fin, "perplexity"))),
                    Cell.number(Numbers.decimal(Json.number(fin, "loss"))),
                    Cell.number(Numbers.decimal(Json.number(fin, "worst_client_perplexity")))));
            formats.forEach(f -> row.add(Cell.number(Numbers.decimal(
                    Json.number(fin.path("per_format").get(f), "perplexity")))));
            row.add(HtmlReport.bytesCell(Json.number(m, "bytes_up")));
            row.add(HtmlReport.bytesCell(Json.number(m, "bytes_down")));
            row.add(Cell.number(Numbers.seconds(Json.number(m, "seconds"))));
            table.row(row);
        }
        return "<section id=\"summary\">\n<h2>Summary</h2>\n" + table.render()
                + "<p class=\"note\">Perplexity (exp of the mean loss per response token; lower is better) and loss "
                + "on the global test set after the last round: mean over clients of each client's own model; worst "
                + "client = highest perplexity.</p>\n</section>\n";
    }

    static String perClient(ReportInputs in) {
        return PerClientSection.render(in, PER_CLIENT);
    }
}
