package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * ECharts option objects (plain JSON: no functions) for the report's charts. Each builder returns empty when the
 * inputs lack what its chart needs, and the report then leaves the chart out. Metrics are plotted in percent.
 */
final class Charts {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Charts() {
    }

    /**
     * Global test accuracy per round, one line per method: summary rounds[].accuracy, or, for a method without
     * rounds in the summary, the example-weighted mean over clients of its "global" lines in metrics.jsonl.
     */
    static Optional<ObjectNode> accuracyPerRound(ReportInputs in) {
        return perRound(in, "accuracy", "global", "accuracy", true, "accuracy (%)");
    }

    /** Global test perplexity (over response tokens) per round, one line per method; causal-LM runs. */
    static Optional<ObjectNode> perplexityPerRound(ReportInputs in) {
        return perRound(in, "perplexity", "global", "perplexity", false, "perplexity");
    }

    /** Training loss per round, one line per method: rounds[].train_loss, else the mean of "train" metric lines. */
    static Optional<ObjectNode> trainLossPerRound(ReportInputs in) {
        return perRound(in, "train_loss", "train", "train_loss", false, "training loss");
    }

    /** Final accuracy per quantization format: formats on x, one bar per method (final.per_format[f].accuracy). */
    static Optional<ObjectNode> finalAccuracyPerFormat(JsonNode summary) {
        return finalPerFormat(summary, "accuracy", true, "accuracy (%)");
    }

    /** Final perplexity per quantization format (final.per_format[f].perplexity); causal-LM runs. */
    static Optional<ObjectNode> finalPerplexityPerFormat(JsonNode summary) {
        return finalPerFormat(summary, "perplexity", false, "perplexity");
    }

    private static Optional<ObjectNode> finalPerFormat(JsonNode summary, String key, boolean percent, String axis) {
        List<String> formats = Json.formats(summary);
        if (formats.isEmpty()) {
            return Optional.empty();
        }
        ObjectNode option = bars(axis);
        option.set("xAxis", category(formats, "format"));
        ArrayNode series = option.putArray("series");
        for (Map.Entry<String, JsonNode> method : Json.methods(summary)) {
            JsonNode perFormat = method.getValue().path("final").path("per_format");
            ArrayNode data = NODES.arrayNode();
            formats.forEach(f -> {
                if (percent) {
                    addPercent(data, Json.number(perFormat.get(f), key));
                } else {
                    addNumber(data, Json.number(perFormat.get(f), key));
                }
            });
            ObjectNode bar = series.addObject().put("name", method.getKey()).put("type", "bar");
            bar.set("data", data);
            bar.putObject("label").put("show", true).put("position", "top").put("fontSize", 10);
        }
        return Optional.of(option);
    }

    /**
     * Label counts per client as stacked bars: clients on x (with their format), one stack segment per label
     * (partition.labels[j], or "label j" without names). Empty when no client has a label_histogram.
     */
    static Optional<ObjectNode> partitionHistogram(JsonNode partition) {
        List<JsonNode> clients = Json.elements(partition.get("clients"));
        int labels = clients.stream().mapToInt(c -> c.path("label_histogram").size()).max().orElse(0);
        if (labels == 0) {
            return Optional.empty();
        }
        ObjectNode option = bars("examples");
        ObjectNode x = category(clients.stream().map(Charts::clientName).toList(), "client");
        x.put("nameGap", 48).putObject("axisLabel").put("lineHeight", 16); // two-line labels: client, format
        option.set("xAxis", x);
        ArrayNode series = option.putArray("series");
        for (int j = 0; j < labels; j++) {
            ArrayNode data = NODES.arrayNode();
            for (JsonNode client : clients) {
                addNumber(data, Json.number(client.path("label_histogram").get(j)));
            }
            ObjectNode bar = series.addObject().put("name", labelName(partition, j)).put("type", "bar")
                    .put("stack", "labels");
            bar.putObject("emphasis").put("focus", "series");
            bar.set("data", data);
        }
        return Optional.of(option);
    }

    static String labelName(JsonNode partition, int j) {
        JsonNode name = partition.path("labels").get(j);
        return name == null || name.isNull() || name.isContainerNode() ? "label " + j : name.asText();
    }

    static String clientName(JsonNode client) {
        String name = "client " + Json.text(client, "client", "?");
        String format = Json.text(client, "format", "");
        return format.isEmpty() ? name : name + "\n" + format;
    }

    private static Optional<ObjectNode> perRound(ReportInputs in, String roundField, String split,
                                                 String metricField, boolean percent, String yName) {
        ObjectNode option = base(yName);
        ((ObjectNode) option.get("yAxis")).put("scale", true);
        ObjectNode x = option.putObject("xAxis").put("type", "value").put("name", "round").put("minInterval", 1)
                .put("nameLocation", "middle").put("nameGap", 28).put("min", "dataMin").put("max", "dataMax");
        x.putObject("splitLine").put("show", false);
        ArrayNode series = option.putArray("series");
        for (Map.Entry<String, JsonNode> method : Json.methods(in.summary())) {
            SortedMap<Integer, Double> points = fromRounds(method.getValue(), roundField);
            if (points.isEmpty()) {
                points = fromMetrics(in.metrics(), method.getKey(), split, metricField);
            }
            if (!points.isEmpty()) {
                ArrayNode data = NODES.arrayNode();
                points.forEach((round, v) -> data.addArray().add(round).add(percent ? Numbers.percentValue(v)
                        : Math.round(v * 10_000) / 10_000.0));
                ObjectNode line = series.addObject().put("name", method.getKey()).put("type", "line")
                        .put("symbolSize", 6);
                line.set("data", data);
            }
        }
        return series.isEmpty() ? Optional.empty() : Optional.of(option);
    }

    private static SortedMap<Integer, Double> fromRounds(JsonNode method, String field) {
        SortedMap<Integer, Double> points = new TreeMap<>();
        for (JsonNode round : Json.elements(method.get("rounds"))) {
            OptionalDouble r = Json.number(round, "round");
            OptionalDouble v = Json.number(round, field);
            if (r.isPresent() && v.isPresent()) {
                points.put((int) r.getAsDouble(), v.getAsDouble());
            }
        }
        return points;
    }

    /** Example-weighted mean per round of {@code field} over the metric lines of one method and split. */
    private static SortedMap<Integer, Double> fromMetrics(List<JsonNode> metrics, String method, String split,
                                                          String field) {
        SortedMap<Integer, double[]> sums = new TreeMap<>();
        for (JsonNode row : metrics) {
            OptionalDouble r = Json.number(row, "round");
            OptionalDouble v = Json.number(row, field);
            if (method.equals(Json.text(row, "method", null)) && split.equals(Json.text(row, "split", null))
                    && r.isPresent() && v.isPresent()) {
                double weight = Json.number(row, "examples").orElse(1);
                double[] sum = sums.computeIfAbsent((int) r.getAsDouble(), k -> new double[2]);
                sum[0] += weight * v.getAsDouble();
                sum[1] += weight;
            }
        }
        SortedMap<Integer, Double> points = new TreeMap<>();
        sums.forEach((round, sum) -> {
            if (sum[1] > 0) {
                points.put(round, sum[0] / sum[1]);
            }
        });
        return points;
    }

    /** {@link #base} with the tooltip's pointer shading the hovered category, as suits bar charts. */
    private static ObjectNode bars(String yName) {
        ObjectNode option = base(yName);
        ((ObjectNode) option.get("tooltip")).putObject("axisPointer").put("type", "shadow");
        return option;
    }

    /** Settings every chart shares: no animation (the page is also printed and screenshotted), legend on top. */
    private static ObjectNode base(String yName) {
        ObjectNode option = NODES.objectNode().put("animation", false);
        option.putObject("legend").put("type", "scroll").put("top", 0);
        option.putObject("grid").put("left", 16).put("right", 24).put("top", 48).put("bottom", 40)
                .put("containLabel", true);
        option.putObject("tooltip").put("trigger", "axis");
        option.putObject("yAxis").put("type", "value").put("name", yName);
        return option;
    }

    private static ObjectNode category(List<String> values, String name) {
        ObjectNode axis = NODES.objectNode().put("type", "category").put("name", name)
                .put("nameLocation", "middle").put("nameGap", 40);
        ArrayNode data = axis.putArray("data");
        values.forEach(data::add);
        return axis;
    }

    private static void addPercent(ArrayNode data, OptionalDouble fraction) {
        if (fraction.isPresent()) {
            data.add(Numbers.percentValue(fraction.getAsDouble()));
        } else {
            data.addNull();
        }
    }

    private static void addNumber(ArrayNode data, OptionalDouble value) {
        if (value.isPresent()) {
            data.add(value.getAsDouble());
        } else {
            data.addNull();
        }
    }
}
