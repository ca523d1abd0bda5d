package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The plain-text results table printed after a run: one row per method with final accuracy, macro-F1, worst client
 * and accuracy per quantization format, all in %, columns aligned ("-" where a value is missing):
 * <pre>
 * method    accuracy  macro-F1  worst client  nf2 acc  nf4 acc
 * --------  --------  --------  ------------  -------  -------
 * fedqlora     81.00     80.00         76.50    78.00    84.00
 * </pre>
 */
public final class SummaryTable {
    private static final String GAP = "  ";

    private SummaryTable() {
    }

    /** The table for summary.json's "methods" (see {@link ReportInputs}); ends with a newline. */
    public static String format(JsonNode summary) {
        List<String> formats = Json.formats(summary);
        if (Json.perplexity(summary)) {
            return perplexity(summary, formats);
        }
        List<String> header = new ArrayList<>(List.of("method", "accuracy", "macro-F1", "worst client"));
        formats.forEach(f -> header.add(f + " acc"));
        List<List<String>> rows = new ArrayList<>();
        for (Map.Entry<String, JsonNode> method : Json.methods(summary)) {
            JsonNode fin = method.getValue().path("final");
            List<String> row = new ArrayList<>(List.of(method.getKey(),
                    Numbers.percent(Json.number(fin, "accuracy")),
                    Numbers.percent(Json.number(fin, "macro_f1")),
                    Numbers.percent(Json.worstClientAccuracy(method.getValue()))));
            formats.forEach(f -> row.add(Numbers.percent(Json.number(fin.path("per_format").get(f), "accuracy"))));
            rows.add(row);
        }
        return render(header, rows) + "(final metrics in % on the global test set)\n";
    }

    /** Causal-LM runs: perplexity, loss, worst client (highest perplexity) and perplexity per format. */
    private static String perplexity(JsonNode summary, List<String> formats) {
        List<String> header = new ArrayList<>(List.of("method", "perplexity", "loss", "worst client"));
        formats.forEach(f -> header.add(f + " ppl"));
        List<List<String>> rows = new ArrayList<>();
        for (Map.Entry<String, JsonNode> method : Json.methods(summary)) {
            JsonNode fin = method.getValue().path("final");
            List<String> row = new ArrayList<>(List.of(method.getKey(), Numbers.decimal(Json.number(fin, "perplexity")),
                    Numbers.decimal(Json.number(fin, "loss")),
                    Numbers.decimal(Json.number(fin, "worst_client_perplexity"))));
            formats.forEach(f -> row.add(Numbers.decimal(Json.number(fin.path("per_format").get(f), "perplexity"))));
            rows.add(row);
        }
        return render(header, rows) + "(final perplexity and loss over response tokens of the global test set)\n";
    }

    /** First column left-aligned, the others right-aligned, each as wide as its widest cell. */
    private static String render(List<String> header, List<List<String>> rows) {
        int[] widths = new int[header.size()];
        for (int c = 0; c < widths.length; c++) {
            widths[c] = header.get(c).length();
            for (List<String> row : rows) {
                widths[c] = Math.max(widths[c], row.get(c).length());
            }
        }
        StringBuilder out = new StringBuilder();
        line(out, header, widths);
        line(out, header.stream().map(h -> "").toList(), widths, '-');
        rows.forEach(row -> line(out, row, widths));
        return out.toString();
    }

    private static void line(StringBuilder out, List<String> cells, int[] widths) {
        line(out, cells, widths, ' ');
    }

    private static void line(StringBuilder out, List<String> cells, int[] widths, char pad) {
        for (int c = 0; c < cells.size(); c++) {
            String cell = cells.get(c);
            String padding = String.valueOf(pad).repeat(widths[c] - cell.length());
            out.append(c == 0 ? "" : GAP).append(c == 0 ? cell + padding : padding + cell);
        }
        out.append('\n');
    }
}
