package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.report.Html.Cell;
import org.fedqlora.report.Html.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.function.Function;

/**
 * The report's summary and per-client tables, written once for both kinds of run: classification (accuracy and
 * macro-F1, in %) and causal-LM instruction tuning (perplexity and loss over response tokens). A {@link Metrics}
 * names a kind's columns; everything else (rows, bytes, time, the worst client in bold) is common.
 */
final class MetricSections {
    /**
     * What one kind of run shows.
     *
     * @param headers      the three metric columns: the main global test metric, a second one, and the main metric on
     *                     a client's own held-out data (the last only in the per-client table)
     * @param fields       their fields in final and final.per_client of summary.json, in the same order; the
     *                     summary's per-format columns show the main one
     * @param formatSuffix after a format's name in the summary's per-format column headers ("nf4 acc.")
     * @param format       how the metric values print
     * @param worst        a method's worst client value of the main metric (from its summary.json entry)
     * @param summaryNote  the note under the summary table, as HTML
     * @param perClientNote the note under the per-client title, as HTML
     */
    record Metrics(List<String> headers, List<String> fields, String formatSuffix,
                   Function<OptionalDouble, String> format, Function<JsonNode, OptionalDouble> worst,
                   String summaryNote, String perClientNote) {
        Metrics {
            headers = List.copyOf(headers);
            fields = List.copyOf(fields);
            if (headers.size() != 3 || fields.size() != 3) {
                throw new IllegalArgumentException("report metrics need 3 headers and 3 fields, got " + headers
                        + " and " + fields);
            }
        }
    }

    /** Classification runs, in %; the worst client has the lowest accuracy. */
    static final Metrics ACCURACY = new Metrics(List.of("Accuracy", "Macro-F1", "Local accuracy"),
            List.of("accuracy", "macro_f1", "local_accuracy"), " acc.", Numbers::percent, Json::worstClientAccuracy,
            "Accuracy, macro-F1 and per-format accuracy in %, after the last round.",
            "The final model evaluated by each client (in %); each method's worst client is in bold.");

    /** Causal-LM runs, over response tokens; the worst client has the highest perplexity. */
    static final Metrics PERPLEXITY = new Metrics(List.of("Perplexity", "Loss", "Local perplexity"),
            List.of("perplexity", "loss", "local_perplexity"), " ppl.", Numbers::decimal,
            method -> Json.number(method.path("final"), "worst_client_perplexity"),
            "Perplexity (exp of the mean loss per response token; lower is better) and loss on the global test set "
                    + "after the last round: mean over clients of each client's own model; worst client = highest "
                    + "perplexity.",
            "The final model evaluated by each client: perplexity over response tokens of the global test set and "
                    + "of its own held-out data; each method's worst client is in bold.");

    private MetricSections() {
    }

    /** One row per method: its final metrics, worst client, each format's main metric, traffic and time. */
    static String summary(JsonNode summary, Metrics metrics) {
        List<String> formats = Json.formats(summary);
        List<String> headers = metrics.headers();
        List<String> fields = metrics.fields();
        List<Cell> header = new ArrayList<>(List.of(Cell.text("Method"), Cell.number(headers.get(0)),
                Cell.number(headers.get(1)), Cell.number("Worst client")));
        formats.forEach(f -> header.add(Cell.number(f + metrics.formatSuffix())));
        header.addAll(List.of(Cell.number("Bytes up"), Cell.number("Bytes down"), Cell.number("Time")));
        Table table = new Table(header);
        for (Map.Entry<String, JsonNode> method : Json.methods(summary)) {
            JsonNode m = method.getValue();
            JsonNode fin = m.path("final");
            List<Cell> row = new ArrayList<>(List.of(Cell.text(method.getKey()).strong(true),
                    Cell.number(metrics.format().apply(Json.number(fin, fields.get(0)))),
                    Cell.number(metrics.format().apply(Json.number(fin, fields.get(1)))),
                    Cell.number(metrics.format().apply(metrics.worst().apply(m)))));
            formats.forEach(f -> row.add(Cell.number(metrics.format().apply(
                    Json.number(fin.path("per_format").get(f), fields.get(0))))));
            row.add(bytesCell(Json.number(m, "bytes_up")));
            row.add(bytesCell(Json.number(m, "bytes_down")));
            row.add(Cell.number(Numbers.seconds(Json.number(m, "seconds"))));
            table.row(row);
        }
        return "<section id=\"summary\">\n<h2>Summary</h2>\n" + table.render() + "<p class=\"note\">"
                + metrics.summaryNote() + "</p>\n</section>\n";
    }

    /**
     * One row per (method, client) from final.per_client, with the examples the client trains on when
     * partition.json has them ({@code train_examples}, its share without its local test split; else its whole
     * share); each method's worst client in bold. "" when no method has final.per_client.
     */
    static String perClient(ReportInputs in, Metrics metrics) {
        Map<String, String> sizes = new LinkedHashMap<>();
        in.partition().ifPresent(p -> Json.elements(p.get("clients")).forEach(c ->
                sizes.put(Json.text(c, "client", "?"), c.has("train_examples")
                        ? Json.text(c, "train_examples", Numbers.MISSING) : Json.text(c, "size", Numbers.MISSING))));
        List<String> headers = metrics.headers();
        List<String> fields = metrics.fields();
        Table table = new Table(List.of(Cell.text("Method"), Cell.number("Client"), Cell.text("Format"),
                Cell.number("Train examples"), Cell.number(headers.get(0)), Cell.number(headers.get(1)),
                Cell.number(headers.get(2))));
        boolean any = false;
        for (Map.Entry<String, JsonNode> method : Json.methods(in.summary())) {
            List<JsonNode> clients = Json.elements(method.getValue().path("final").get("per_client"));
            OptionalDouble worst = metrics.worst().apply(method.getValue());
            for (JsonNode c : clients) {
                OptionalDouble main = Json.number(c, fields.get(0));
                String client = Json.text(c, "client", "?");
                table.row(List.of(Cell.text(method.getKey()), Cell.number(client),
                        Cell.text(Json.text(c, "format", Numbers.MISSING)),
                        Cell.number(sizes.getOrDefault(client, Numbers.MISSING)),
                        Cell.number(metrics.format().apply(main)).strong(main.equals(worst)),
                        Cell.number(metrics.format().apply(Json.number(c, fields.get(1)))),
                        Cell.number(metrics.format().apply(Json.number(c, fields.get(2))))));
                any = true;
            }
        }
        return !any ? "" : "<section id=\"per-client\">\n<h2>Per client</h2>\n<p class=\"note\">"
                + metrics.perClientNote() + "</p>\n" + table.render() + "</section>\n";
    }

    /** A byte count in binary units, the exact number as its tooltip. */
    static Cell bytesCell(OptionalDouble bytes) {
        Cell cell = Cell.number(Numbers.bytes(bytes));
        return bytes.isPresent() ? cell.title(String.format(Locale.ROOT, "%.0f bytes", bytes.getAsDouble())) : cell;
    }
}
