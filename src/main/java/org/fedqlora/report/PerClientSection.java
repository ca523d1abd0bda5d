package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.report.Html.Cell;
import org.fedqlora.report.Html.Table;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.function.Function;

/**
 * The report's per-client section, for classification and causal-LM runs alike: one row per (method, client) from
 * final.per_client, with the examples the client trains on when partition.json has them ({@code train_examples},
 * its share without its local test split; else its whole share). Each method's worst client is in bold.
 */
final class PerClientSection {
    /**
     * What one kind of run shows per client.
     *
     * @param headers the three metric columns: the global test metric (bold for the worst client), a second global
     *                test metric, the metric on the client's own held-out data
     * @param fields  the final.per_client fields of those three columns, in the same order
     * @param format  how the metric values print
     * @param worst   a method's worst value of the first metric (from its summary.json entry)
     * @param note    the note under the title, as HTML
     */
    record Metrics(List<String> headers, List<String> fields, Function<OptionalDouble, String> format,
                   Function<JsonNode, OptionalDouble> worst, String note) {
        Metrics {
            headers = List.copyOf(headers);
            fields = List.copyOf(fields);
            if (headers.size() != 3 || fields.size() != 3) {
                throw new IllegalArgumentException("per-client metrics need 3 headers and 3 fields, got "
                        + headers + " and " + fields);
            }
        }
    }

    private PerClientSection() {
    }

    /** The section, or "" when no method has final.per_client. */
    static String render(ReportInputs in, Metrics metrics) {
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
        return !any ? "" : "<section id=\"per-client\">\n<h2>Per client</h2>\n<p class=\"note\">" + metrics.note()
                + "</p>\n" + table.render() + "</section>\n";
    }
}
