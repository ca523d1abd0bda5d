package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Results over several runs: mean ± sample standard deviation over seeds of each method's final accuracy and
 * macro-F1 (classification) or perplexity and loss over response tokens (causal-LM, lower is better), per setting
 * (experiment and sweep values), as the paper's tables show them.
 */
final class Aggregate {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Aggregate() {
    }

    /** The two metrics aggregated for {@code task}: accuracy and macro-F1, or perplexity and loss. */
    static List<String> metrics(SimTask task) {
        return RoundRecord.keys(task).subList(0, 2);
    }

    static ObjectNode summary(List<Simulation.RunSummary> runs, JsonNode config) {
        ObjectNode top = JSON.createObjectNode();
        SimTask task = runs.stream().anyMatch(r -> SimTask.of(r.run().config()).causalLm()) ? SimTask.CAUSAL_LM
                : SimTask.CLASSIFICATION;
        List<String> metrics = metrics(task);
        // setting → method → [accuracy, macro-F1] (or [perplexity, loss]) per run
        Map<String, Map<String, List<double[]>>> cells = new LinkedHashMap<>();
        // setting → method → format → [metric 0, metric 1] per run, over that format's clients
        Map<String, Map<String, Map<String, List<double[]>>>> formatCells = new LinkedHashMap<>();
        Map<String, Map<String, List<JsonNode>>> finalsByMethod = new LinkedHashMap<>();
        ArrayNode runList = top.putArray("runs");
        for (Simulation.RunSummary r : runs) {
            String setting = settingName(r);
            runList.addObject().put("run", r.run().id()).put("setting", setting).put("seed", r.run().seed());
            r.summary().get("methods").properties().forEach(e -> {
                JsonNode fin = e.getValue().get("final");
                cells.computeIfAbsent(setting, k -> new LinkedHashMap<>())
                        .computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                        .add(new double[] {Reports.num(fin.get(metrics.get(0))), Reports.num(fin.get(metrics.get(1)))});
                fin.path("per_format").properties().forEach(f -> formatCells
                        .computeIfAbsent(setting, k -> new LinkedHashMap<>())
                        .computeIfAbsent(e.getKey(), k -> new TreeMap<>())
                        .computeIfAbsent(f.getKey(), k -> new ArrayList<>())
                        .add(new double[] {Reports.num(f.getValue().get(metrics.get(0))),
                                Reports.num(f.getValue().get(metrics.get(1)))}));
                if (r.run().experiment().equals("base")) {
                    finalsByMethod.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>())
                            .computeIfAbsent("all", k -> new ArrayList<>()).add(fin);
                }
            });
        }
        ArrayNode agg = top.putArray("aggregate");
        cells.forEach((setting, byMethod) -> byMethod.forEach((method, vals) -> {
            ObjectNode a = agg.addObject();
            a.put("setting", setting);
            a.put("method", method);
            putMeanStd(a, metrics, vals);
            Map<String, List<double[]>> byFormat = formatCells.getOrDefault(setting, Map.of()).getOrDefault(method, Map.of());
            if (!byFormat.isEmpty()) {
                ObjectNode pf = a.putObject("per_format");         // the same, over each format's clients alone
                byFormat.forEach((format, fv) -> putMeanStd(pf.putObject(format), metrics, fv));
            }
        }));
        ObjectNode methods = top.putObject("methods");
        finalsByMethod.forEach((method, m) -> methods.set(method, meanFinal(m.get("all"), task)));
        top.set("config", config);
        top.set("seeds", JSON.valueToTree(runs.stream().map(r -> r.run().seed()).distinct().toList()));
        return top;
    }

    /** "experiment: sweep values" or just one of them. */
    static String settingName(Simulation.RunSummary r) {
        String exp = r.run().experiment();
        String label = r.run().label();
        if (exp.equals("base")) {
            return label.isEmpty() ? "base" : label;
        }
        return label.isEmpty() ? exp : exp + ": " + label;
    }

    /** Mean over runs of the final metrics (accuracy or perplexity, macro-F1 or loss, worst client, per format). */
    private static ObjectNode meanFinal(List<JsonNode> finals, SimTask task) {
        ObjectNode m = JSON.createObjectNode();
        ObjectNode fin = m.putObject("final");
        List<String> key = RoundRecord.keys(task);
        for (String k : List.of(key.get(0), key.get(1), "worst_client_" + key.get(0), key.get(3))) {
            Reports.put(fin, k, finals.stream().mapToDouble(f -> Reports.num(f.get(k))).filter(Double::isFinite)
                    .average().orElse(Double.NaN));
        }
        Map<String, List<double[]>> pf = new TreeMap<>();
        for (JsonNode f : finals) {
            f.path("per_format").properties().forEach(e -> pf.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                    .add(new double[] {Reports.num(e.getValue().get(key.get(0))), Reports.num(e.getValue().get(key.get(1)))}));
        }
        ObjectNode pfo = fin.putObject("per_format");
        pf.forEach((f, v) -> {
            ObjectNode x = pfo.putObject(f);
            Reports.put(x, key.get(0), mean(v, 0));
            Reports.put(x, key.get(1), mean(v, 1));
        });
        m.putArray("rounds");
        return m;
    }

    static double mean(List<double[]> v, int k) {
        return v.stream().mapToDouble(x -> x[k]).filter(Double::isFinite).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (n − 1); 0 for one run. */
    static double std(List<double[]> v, int k) {
        double[] x = v.stream().mapToDouble(a -> a[k]).filter(Double::isFinite).toArray();
        if (x.length < 2) {
            return 0;
        }
        double mu = 0;
        for (double d : x) {
            mu += d;
        }
        mu /= x.length;
        double ss = 0;
        for (double d : x) {
            ss += (d - mu) * (d - mu);
        }
        return Math.sqrt(ss / (x.length - 1));
    }

    /** {metric_mean, metric_std} of both metrics over the runs, and the number of runs. */
    private static void putMeanStd(ObjectNode o, List<String> metrics, List<double[]> vals) {
        for (int k = 0; k < 2; k++) {
            Reports.put(o, metrics.get(k) + "_mean", mean(vals, k));
            Reports.put(o, metrics.get(k) + "_std", std(vals, k));
        }
        o.put("runs", vals.size());
    }

    /** The formats that appear in any entry's per_format, sorted. */
    static List<String> formats(JsonNode aggregate) {
        java.util.TreeSet<String> out = new java.util.TreeSet<>();
        for (JsonNode a : aggregate) {
            a.path("per_format").fieldNames().forEachRemaining(out::add);
        }
        return List.copyOf(out);
    }

    /** The aggregate restricted to one format's clients: entries {setting, method, metric_mean, metric_std, runs}. */
    static ArrayNode forFormat(JsonNode aggregate, String format) {
        ArrayNode out = JSON.createArrayNode();
        for (JsonNode a : aggregate) {
            JsonNode f = a.path("per_format").path(format);
            if (f.isObject()) {
                ObjectNode row = out.addObject().put("setting", a.get("setting").asText())
                        .put("method", a.get("method").asText());
                f.properties().forEach(e -> row.set(e.getKey(), e.getValue()));
            }
        }
        return out;
    }

    /**
     * The paper-shaped table: rows = methods, columns = settings, cells "mean ± std" in percent (accuracy, macro-F1)
     * or as they are (perplexity, loss).
     */
    static String table(JsonNode aggregate, String metric) {
        boolean percent = metric.equals("accuracy") || metric.equals("macro_f1");
        double scale = percent ? 100 : 1;
        String cell = percent ? "%.2f ± %.2f" : "%.3f ± %.3f";
        Map<String, Map<String, String>> rows = new LinkedHashMap<>();
        List<String> settings = new ArrayList<>();
        for (JsonNode a : aggregate) {
            String s = a.get("setting").asText();
            if (!settings.contains(s)) {
                settings.add(s);
            }
            rows.computeIfAbsent(a.get("method").asText(), k -> new LinkedHashMap<>()).put(s, String.format(Locale.ROOT,
                    cell, scale * Reports.num(a.get(metric + "_mean")), scale * Reports.num(a.get(metric + "_std"))));
        }
        StringBuilder sb = new StringBuilder();
        int w = Math.max(16, settings.stream().mapToInt(String::length).max().orElse(0) + 2);
        sb.append(String.format(Locale.ROOT, "%-16s", metric));
        settings.forEach(s -> sb.append(String.format(Locale.ROOT, "%" + w + "s", s)));
        sb.append('\n');
        rows.forEach((method, cells) -> {
            sb.append(String.format(Locale.ROOT, "%-16s", method));
            settings.forEach(s -> sb.append(String.format(Locale.ROOT, "%" + w + "s", cells.getOrDefault(s, "-"))));
            sb.append('\n');
        });
        return sb.toString();
    }
}
