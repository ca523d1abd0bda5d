package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.report.Html.Cell;
import org.fedqlora.report.Html.Table;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * report.html: one self-contained page (Apache ECharts inlined, nothing loaded from the network) built from a
 * simulation's output folder (see {@link ReportInputs}). Sections: how to read it, summary table, accuracy and
 * loss per round, final accuracy per format, per-client table, partition histogram, the paper-style mean ± std
 * table when summary.json has "aggregate", and the config. A section whose inputs are missing is left out.
 *
 * <p>Chart options are JSON in {@code <script type="application/json" data-chart="ID">} elements (escaped by
 * {@link Html#inlineJson}); a short script at the end hands each to {@code echarts.init} on the div with that id.
 */
public final class HtmlReport {
    public static final String FILE_NAME = "report.html";
    /** Where the webjar org.webjars.npm:echarts:5.3.1 keeps the minified library. */
    static final String ECHARTS_RESOURCE = "META-INF/resources/webjars/echarts/5.3.1/dist/echarts.min.js";

    private static final String STYLE = """
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;\
            background:#fff;margin:0}
            main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
            h1{font-size:24px;margin:0 0 4px}
            h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
            p{margin:6px 0;max-width:820px} .meta{color:#57606a} .note{color:#57606a;font-size:13px}
            ul.read{margin:6px 0;padding-left:20px;max-width:820px} ul.read li{margin:2px 0}
            .scroll{overflow-x:auto}
            table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:8px 0}
            th,td{padding:4px 12px;border-bottom:1px solid #e5e7eb;text-align:left;white-space:nowrap}
            th{background:#f6f8fa;font-weight:600;border-bottom:1px solid #d0d7de}
            .num{text-align:right} tbody tr:nth-child(even){background:#fafbfc}
            .chart{width:100%;height:380px}
            pre{background:#f6f8fa;padding:12px;border-radius:6px;overflow:auto;\
            font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
            """;

    private static final String INIT_SCRIPT = """
            (function () {
              var charts = [];
              document.querySelectorAll('script[data-chart]').forEach(function (s) {
                var chart = echarts.init(document.getElementById(s.getAttribute('data-chart')));
                chart.setOption(JSON.parse(s.textContent));
                charts.push(chart);
              });
              window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
            })();
            """;

    private HtmlReport() {
    }

    /** Reads the simulation files in {@code dir} and writes dir/report.html (temporary file, then rename). */
    public static Path write(Path dir) {
        String html = render(ReportInputs.read(dir));
        Path target = dir.resolve(FILE_NAME);
        try {
            // not Files.createTempFile: its owner-only permissions would carry over to report.html
            Path tmp = dir.resolve("." + FILE_NAME + "." + UUID.randomUUID() + ".tmp");
            try {
                Files.writeString(tmp, html, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE);
                moveIntoPlace(tmp, target);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UserException("cannot write " + target + ": " + org.fedqlora.OutputPaths.why(e), e);
        }
        return target;
    }

    /** The whole page as a string. */
    public static String render(ReportInputs in) {
        JsonNode summary = in.summary();
        StringBuilder body = new StringBuilder();
        body.append(header(in));
        boolean lm = Json.perplexity(summary);
        MetricSections.Metrics metrics = lm ? MetricSections.PERPLEXITY : MetricSections.ACCURACY;
        body.append(MetricSections.summary(summary, metrics));
        body.append(privacySection(summary));
        if (lm) {
            Charts.perplexityPerRound(in).ifPresent(o -> body.append(chartSection("perplexity-per-round",
                    "Perplexity per round", "Global test perplexity over response tokens after each round, one line "
                            + "per method (lower is better).", o)));
        } else {
            Charts.accuracyPerRound(in).ifPresent(o -> body.append(chartSection("accuracy-per-round",
                    "Accuracy per round", "Global test accuracy (%) after each round, one line per method.", o)));
        }
        Charts.trainLossPerRound(in).ifPresent(o -> body.append(chartSection("loss-per-round",
                "Training loss per round", "Mean training loss of the clients in each round.", o)));
        if (lm) {
            Charts.finalPerplexityPerFormat(summary).ifPresent(o -> body.append(chartSection("perplexity-per-format",
                    "Final perplexity per format", "Perplexity of the final model on the global test set, grouped "
                            + "by the clients' quantization format; one bar per method.", o)));
        } else {
            Charts.finalAccuracyPerFormat(summary).ifPresent(o -> body.append(chartSection("accuracy-per-format",
                    "Final accuracy per format", "Accuracy (%) of the final model on the global test set, grouped by "
                            + "the clients' quantization format; one bar per method.", o)));
        }
        body.append(MetricSections.perClient(in, metrics));
        in.partition().ifPresent(p -> body.append(partitionSection(p)));
        body.append(aggregateSection(summary));
        body.append(configSection(in));
        return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                + "<title>fedqlora report</title>\n<style>\n" + STYLE + "</style>\n</head>\n<body>\n<main>\n"
                + body + "</main>\n<script>\n" + Echarts.SOURCE + "\n</script>\n<script>\n" + INIT_SCRIPT
                + "</script>\n</body>\n</html>\n";
    }

    private static String header(ReportInputs in) {
        JsonNode summary = in.summary();
        List<String> facts = new ArrayList<>();
        facts.add(count(Json.methods(summary).size(), "method"));
        Json.methods(summary).stream().mapToInt(m -> Json.elements(m.getValue().get("rounds")).size()).max()
                .ifPresent(r -> facts.add(count(r, "round")));
        in.partition().ifPresent(p -> facts.add(count(Json.elements(p.get("clients")).size(), "client")
                + partitionDescription(p)));
        List<JsonNode> seeds = Json.elements(summary.get("seeds"));
        if (!seeds.isEmpty()) {
            facts.add((seeds.size() == 1 ? "seed " : "seeds ")
                    + seeds.stream().map(JsonNode::asText).collect(Collectors.joining(", ")));
        }
        return """
                <h1>FedQLoRA simulation report</h1>
                <p class="meta">%s</p>
                <ul class="read">
                <li>Every method was run by the same simulated clients on the same data partition. Accuracy and \
                macro-F1 are percentages on the global test set after the last round; for instruction tuning \
                (causal-LM), perplexity = exp(mean negative log-likelihood per response token), lower is better.</li>
                <li>Per-format and per-client numbers evaluate the final model on each client's own quantized \
                base model (its format: nf2 = 2-bit NormalFloat, and so on). <em>Worst client</em> is the lowest \
                per-client accuracy; <em>local accuracy</em> is measured on a client's own held-out data.</li>
                <li>Bytes up / down: adapter traffic from the clients to the server and back, over the whole run.</li>
                <li>Charts are interactive: hover for values; click a legend entry to hide or show a series.</li>
                </ul>
                """.formatted(Html.escape(String.join(" · ", facts)));
    }

    /** Differential privacy per method (summary.json methods.*.privacy), when a method ran with it. */
    static String privacySection(JsonNode summary) {
        Table table = new Table(List.of(Cell.text("Method"), Cell.text("Mode"), Cell.number("ε spent"),
                Cell.number("δ"), Cell.number("Target ε"), Cell.number("Noise mult. z"), Cell.number("Clip S"),
                Cell.number("Final clip"), Cell.number("q"), Cell.number("Rounds"), Cell.text("Stopped")));
        String accountant = null;
        for (Map.Entry<String, JsonNode> method : Json.methods(summary)) {
            JsonNode p = method.getValue().get("privacy");
            if (p == null || !p.isObject()) {
                continue;
            }
            accountant = Json.text(p, "accountant", "");
            double target = Json.number(p, "target_epsilon").orElse(0);
            table.row(List.of(Cell.text(method.getKey()).strong(true),
                    Cell.text(Json.text(p, "mode", "?") + (p.path("adaptive_clip").asBoolean() ? ", adaptive clip" : "")),
                    Cell.number(format(Json.number(p, "epsilon"), "%.3f")), Cell.number(format(Json.number(p, "delta"),
                            "%.1e")), Cell.number(target > 0 ? String.format(Locale.ROOT, "%.3g", target) : "none"),
                    Cell.number(format(Json.number(p, "noise_multiplier"), "%.4g")),
                    Cell.number(format(Json.number(p, "clip"), "%.4g")),
                    Cell.number(format(Json.number(p, "final_clip"), "%.4g")),
                    Cell.number(format(Json.number(p, "sampling_probability"), "%.3g")),
                    Cell.number(Json.text(p, "rounds_run", "?")),
                    Cell.text(p.path("stopped").isTextual() ? "yes" : "no")));
        }
        if (accountant == null) {
            return "";
        }
        return "<section id=\"privacy\">\n<h2>Differential privacy</h2>\n" + table.render()
                + "<p class=\"note\">Client-level (ε, δ)-DP of the released global models, after the rounds run: "
                + "a smaller ε means any one client's data changes the distribution of the models less (e^ε bounds "
                + "the likelihood ratio, except with probability δ). " + Html.escape(accountant) + ". Clients are "
                + "Poisson-sampled with probability q per round. Simulation noise is seeded from the run seed: it "
                + "measures the utility cost of DP but protects nothing against whoever knows the config.</p>\n"
                + "</section>\n";
    }

    private static String format(OptionalDouble value, String pattern) {
        return value.isPresent() ? String.format(Locale.ROOT, pattern, value.getAsDouble()) : Numbers.MISSING;
    }

    static String chartSection(String id, String title, String note, ObjectNode option) {
        return "<section id=\"" + id + "\">\n<h2>" + Html.escape(title) + "</h2>\n<p class=\"note\">"
                + Html.escape(note) + "</p>\n" + chart("chart-" + id, option) + "</section>\n";
    }

    /** The chart's div and its option as inline JSON, which the init script pairs by id. */
    private static String chart(String divId, ObjectNode option) {
        return "<div class=\"chart\" id=\"" + divId + "\"></div>\n<script type=\"application/json\" data-chart=\""
                + divId + "\">" + Html.inlineJson(option) + "</script>\n";
    }

    private static String partitionSection(JsonNode partition) {
        StringBuilder out = new StringBuilder("<section id=\"partition\">\n<h2>Data partition</h2>\n<p class=\"note\">"
                + Html.escape(count(Json.elements(partition.get("clients")).size(), "client")
                + partitionDescription(partition)) + ". Each bar is one client's training data, stacked by label."
                + "</p>\n");
        Charts.partitionHistogram(partition).ifPresent(o -> out.append(chart("chart-partition-histogram", o)));
        return out.append("</section>\n").toString();
    }

    private static String partitionDescription(JsonNode partition) {
        List<String> parts = new ArrayList<>();
        String method = Json.text(partition, "method", "");
        if (!method.isEmpty()) {
            parts.add(method + " partition");
        }
        if (Json.number(partition, "alpha").isPresent()) {
            parts.add("α = " + Json.text(partition, "alpha", ""));
        }
        String seed = Json.text(partition, "seed", "");
        if (!seed.isEmpty()) {
            parts.add("seed " + seed);
        }
        return parts.isEmpty() ? "" : " (" + String.join(", ", parts) + ")";
    }

    /** summary.aggregate as the paper's table: methods as rows, settings as columns, mean ± std (best in bold). */
    private static String aggregateSection(JsonNode summary) {
        List<JsonNode> rows = Json.elements(summary.get("aggregate"));
        if (rows.isEmpty()) {
            return "";
        }
        Set<String> settings = new LinkedHashSet<>();
        Set<String> methods = new LinkedHashSet<>();
        Map<String, JsonNode> cells = new LinkedHashMap<>();
        for (JsonNode row : rows) {
            String setting = Json.text(row, "setting", Numbers.MISSING);
            String method = Json.text(row, "method", Numbers.MISSING);
            settings.add(setting);
            methods.add(method);
            cells.put(method + '\n' + setting, row);
        }
        boolean lm = rows.stream().anyMatch(r -> r.has("perplexity_mean"));
        StringBuilder out = new StringBuilder("<section id=\"aggregate\">\n<h2>Mean ± std over runs</h2>\n"
                + "<p class=\"note\">" + (lm ? "Over the response tokens of the global test set; lower is better; "
                + "rows are methods, columns are settings; the best (lowest) mean of each column is in bold."
                : "In %; rows are methods, columns are settings; the best mean of each column is in bold.")
                + " Hover a cell for its number of runs.</p>\n");
        Map<String, String> titles = new LinkedHashMap<>();
        titles.put("accuracy", "Accuracy");
        titles.put("macro_f1", "Macro-F1");
        titles.put("perplexity", "Perplexity (lower is better)");
        titles.put("loss", "Loss, nats per response token (lower is better)");
        for (String metric : lm ? List.of("perplexity", "loss") : List.of("accuracy", "macro_f1")) {
            boolean present = rows.stream().anyMatch(r -> Json.number(r, metric + "_mean").isPresent());
            if (present) {
                out.append("<h3>").append(titles.get(metric)).append("</h3>\n")
                        .append(aggregateTable(metric, List.copyOf(settings), List.copyOf(methods), cells, lm));
            }
        }
        Set<String> formats = new java.util.TreeSet<>();
        rows.forEach(r -> r.path("per_format").fieldNames().forEachRemaining(formats::add));
        if (!lm && formats.size() > 1) {   // the quantization bias shows in one format's clients, not in the mean
            for (String format : formats) {
                Map<String, JsonNode> formatCells = new LinkedHashMap<>();
                cells.forEach((key, row) -> {
                    JsonNode f = row.path("per_format").path(format);
                    if (f.isObject()) {
                        formatCells.put(key, f);
                    }
                });
                out.append("<h3>Accuracy of the ").append(Html.escape(format.toUpperCase(java.util.Locale.ROOT)))
                        .append(" clients alone</h3>\n")
                        .append(aggregateTable("accuracy", List.copyOf(settings), List.copyOf(methods), formatCells, false));
            }
        }
        return out.append("</section>\n").toString();
    }

    /** One metric's table; {@code lowerIsBetter} (perplexity, loss): printed as they are, the lowest in bold. */
    private static String aggregateTable(String metric, List<String> settings, List<String> methods,
                                         Map<String, JsonNode> cells, boolean lowerIsBetter) {
        List<Cell> header = new ArrayList<>(List.of(Cell.text("Method")));
        settings.forEach(s -> header.add(Cell.number(s)));
        Table table = new Table(header);
        Map<String, OptionalDouble> best = new LinkedHashMap<>();
        for (String setting : settings) {
            java.util.stream.DoubleStream means = methods.stream()
                    .map(m -> Json.number(cells.get(m + '\n' + setting), metric + "_mean"))
                    .filter(OptionalDouble::isPresent).mapToDouble(OptionalDouble::getAsDouble);
            best.put(setting, lowerIsBetter ? means.min() : means.max());
        }
        for (String method : methods) {
            List<Cell> row = new ArrayList<>(List.of(Cell.text(method).strong(true)));
            for (String setting : settings) {
                JsonNode cell = cells.get(method + '\n' + setting);
                OptionalDouble mean = Json.number(cell, metric + "_mean");
                OptionalDouble std = Json.number(cell, metric + "_std");
                String text = lowerIsBetter
                        ? Numbers.decimal(mean) + (mean.isPresent() && std.isPresent() ? " ± " + Numbers.decimal(std) : "")
                        : Numbers.percent(mean) + (mean.isPresent() && std.isPresent() ? " ± " + Numbers.percent(std) : "");
                row.add(Cell.number(text).strong(mean.isPresent() && mean.equals(best.get(setting)))
                        .title(cell == null ? "" : count((int) Json.number(cell, "runs").orElse(0), "run")));
            }
            table.row(row);
        }
        return table.render();
    }

    /** config.yaml verbatim; without it, the resolved config from summary.json as indented JSON. */
    private static String configSection(ReportInputs in) {
        Optional<String> text = in.configYaml().or(() -> Optional.ofNullable(in.summary().get("config"))
                .filter(JsonNode::isObject).map(JsonNode::toPrettyString));
        return text.map(t -> "<section id=\"config\">\n<h2>Configuration</h2>\n<pre>" + Html.escape(t)
                + "</pre>\n</section>\n").orElse("");
    }

    private static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    private static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The ECharts library text, read once from the webjar on the classpath. */
    private static final class Echarts {
        static final String SOURCE = load();

        private static String load() {
            try (InputStream in = HtmlReport.class.getClassLoader().getResourceAsStream(ECHARTS_RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException(ECHARTS_RESOURCE + " is not on the classpath: the webjar "
                            + "org.webjars.npm:echarts:5.3.1 is missing from this build");
                }
                String source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                String lower = source.toLowerCase(Locale.ROOT);
                if (lower.contains("</script") || lower.contains("<!--")) {
                    throw new IllegalStateException(ECHARTS_RESOURCE + " contains </script or <!--; it cannot "
                            + "be inlined into a script element as is");
                }
                return source;
            } catch (IOException e) {
                throw new IllegalStateException("cannot read " + ECHARTS_RESOURCE + " from the classpath", e);
            }
        }
    }
}
