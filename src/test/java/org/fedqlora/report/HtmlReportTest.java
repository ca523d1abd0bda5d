package org.fedqlora.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HtmlReportTest {
    private static final Pattern CHART_JSON =
            Pattern.compile("<script type=\"application/json\" data-chart=\"([^\"]+)\">(.*?)</script>", Pattern.DOTALL);
    private static final Pattern NETWORK_REFERENCE =
            Pattern.compile("(?i)(src|href|action)\\s*=\\s*[\"']?\\s*(https?:|//)|@import|url\\(\\s*[\"']?(https?:|//)");
    private static final String HOSTILE_LABEL = "</script><b>x";
    private static final String HOSTILE_METHOD = "<img src=x onerror=alert(1)>";

    @Test
    void reportInlinesEchartsAndReferencesNoNetworkResource() throws IOException {
        String html = HtmlReport.render(ReportInputs.read(sampleDir()));

        assertThat(html).contains(echartsSource());
        assertThat(NETWORK_REFERENCE.matcher(html).find()).as("a src/href/url() to the network").isFalse();
        assertThat(html).doesNotContainIgnoringCase("<link").doesNotContainIgnoringCase("<script src");
    }

    @Test
    void summaryTableShowsEveryMethodWithItsFinalNumbersInPercent() {
        String html = HtmlReport.render(ReportInputs.read(sampleDir()));
        String summary = section(html, "summary");

        assertThat(summary).contains("<strong>fedqlora</strong>", "<strong>fedavg-qlora</strong>",
                "<strong>lora-fp32</strong>");
        // fedqlora: accuracy 0.84, macro-F1 0.83, worst client 0.8025, nf2 0.81, nf4 0.86; 1966080 bytes up
        assertThat(summary).contains(">84.00<", ">83.00<", ">80.25<", ">81.00<", ">86.00<", ">1.9 MiB<",
                "title=\"1966080 bytes\"", ">10.5 s<");
        assertThat(summary).contains(">nf2 acc.<", ">nf4 acc.<");
    }

    @Test
    void accuracyChartHasOneLinePerMethodWithTheSummaryRounds() {
        JsonNode option = chartOption(HtmlReport.render(ReportInputs.read(sampleDir())), "chart-accuracy-per-round");

        assertThat(names(option.get("series"))).containsExactly("fedqlora", "fedavg-qlora", "lora-fp32");
        JsonNode fedqlora = option.get("series").get(0);
        assertThat(fedqlora.get("type").asText()).isEqualTo("line");
        assertThat(fedqlora.get("data")).hasSize(5);
        assertThat(fedqlora.get("data").get(4).toString()).isEqualTo("[5,84.0]");
    }

    @Test
    void accuracyChartFallsBackToMetricsWhenTheSummaryHasNoRounds() {
        ReportInputs sample = ReportInputs.read(sampleDir());
        ObjectNode summary = sample.summary().deepCopy();
        summary.get("methods").forEach(m -> ((ObjectNode) m).remove("rounds"));

        JsonNode option = chartOption(HtmlReport.render(new ReportInputs(summary, sample.metrics(),
                sample.partition(), sample.configYaml())), "chart-accuracy-per-round");

        // round 5 of fedqlora: client accuracies 0.84 + (-0.03, -0.03, +0.02, +0.02) + (-1.5..1.5) * 0.005, equal weights
        assertThat(option.get("series").get(0).get("data").get(4).toString()).isEqualTo("[5,83.5]");
    }

    @Test
    void formatChartGroupsFinalAccuracyByFormatWithOneBarPerMethod() {
        JsonNode option = chartOption(HtmlReport.render(ReportInputs.read(sampleDir())), "chart-accuracy-per-format");

        assertThat(option.at("/xAxis/data").toString()).isEqualTo("[\"nf2\",\"nf4\"]");
        assertThat(names(option.get("series"))).containsExactly("fedqlora", "fedavg-qlora", "lora-fp32");
        assertThat(option.at("/series/0/type").asText()).isEqualTo("bar");
        assertThat(option.at("/series/0/data").toString()).isEqualTo("[81.0,86.0]");
    }

    @Test
    void partitionChartStacksTheLabelCountsOfEachClient() {
        JsonNode option = chartOption(HtmlReport.render(ReportInputs.read(sampleDir())), "chart-partition-histogram");

        assertThat(option.at("/xAxis/data").toString()).isEqualTo(
                "[\"client 0\\nnf2\",\"client 1\\nnf2\",\"client 2\\nnf4\",\"client 3\\nnf4\"]");
        assertThat(names(option.get("series"))).containsExactly("World", "Sports", "Business", "Sci/Tech");
        assertThat(option.at("/series/0/stack").asText()).isEqualTo("labels");
        assertThat(option.at("/series/0/data").toString()).isEqualTo("[60.0,8.0,40.0,22.0]");
    }

    @Test
    void aggregateTableHasMethodsAsRowsSettingsAsColumnsAndBoldsTheBestMean() {
        String aggregate = section(HtmlReport.render(ReportInputs.read(sampleDir())), "aggregate");

        assertThat(aggregate).contains(">clients=4,partition=iid<", ">clients=4,dirichlet=0.5<",
                ">clients=8,dirichlet=0.1<");
        assertThat(aggregate).contains("<td class=\"num\" title=\"3 runs\"><strong>84.00 ± 0.40</strong></td>");
        assertThat(aggregate).contains("<td class=\"num\" title=\"3 runs\">79.00 ± 0.40</td>");
        assertThat(aggregate).contains("<h3>Accuracy</h3>", "<h3>Macro-F1</h3>");
    }

    @Test
    void aggregateHasOneAccuracyTablePerFormatWhenClientsMixFormats(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ReportInputs.SUMMARY), "{\"methods\": {}, \"aggregate\": ["
                + "{\"setting\": \"mixed\", \"method\": \"lora\", \"accuracy_mean\": 0.6, \"accuracy_std\": 0.01, "
                + "\"runs\": 4, \"per_format\": {\"nf2\": {\"accuracy_mean\": 0.4, \"accuracy_std\": 0.02, \"runs\": 4}, "
                + "\"nf4\": {\"accuracy_mean\": 0.8, \"accuracy_std\": 0.03, \"runs\": 4}}}, "
                + "{\"setting\": \"all-nf2\", \"method\": \"lora\", \"accuracy_mean\": 0.5, \"accuracy_std\": 0.01, "
                + "\"runs\": 4, \"per_format\": {\"nf2\": {\"accuracy_mean\": 0.5, \"accuracy_std\": 0.01, \"runs\": 4}}}]}");

        String aggregate = section(HtmlReport.render(ReportInputs.read(dir)), "aggregate");

        assertThat(aggregate).contains("<h3>Accuracy of the NF2 clients alone</h3>",
                "<h3>Accuracy of the NF4 clients alone</h3>", "40.00 ± 2.00", "80.00 ± 3.00");
        String nf4 = aggregate.substring(aggregate.indexOf("NF4 clients alone"));
        assertThat(nf4).contains("<strong>80.00 ± 3.00</strong>").doesNotContain("50.00");
    }

    @Test
    void perplexityAggregateIsShownAsItIsWithTheLowestMeanInBold(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ReportInputs.SUMMARY), "{\"methods\": {\"lora\": {\"final\": {\"perplexity\": "
                + "11.0}}, \"fedqlora\": {\"final\": {\"perplexity\": 8.0}}}, \"aggregate\": ["
                + "{\"setting\": \"base\", \"method\": \"lora\", \"perplexity_mean\": 11.0, \"perplexity_std\": 1.4142, "
                + "\"loss_mean\": 2.4, \"loss_std\": 0.1, \"runs\": 2}, "
                + "{\"setting\": \"base\", \"method\": \"fedqlora\", \"perplexity_mean\": 8.0, \"perplexity_std\": 0.0, "
                + "\"loss_mean\": 2.1, \"loss_std\": 0.1, \"runs\": 2}]}");

        String aggregate = section(HtmlReport.render(ReportInputs.read(dir)), "aggregate");

        assertThat(aggregate).contains("<h3>Perplexity (lower is better)</h3>", "lower is better",
                "<td class=\"num\" title=\"2 runs\"><strong>8.000 ± 0.000</strong></td>",
                "<td class=\"num\" title=\"2 runs\">11.000 ± 1.414</td>", "2.400 ± 0.100")
                .doesNotContain("Accuracy", "In %");
    }

    @Test
    void perClientTableShowsEachClientWithItsPartitionSizeAndBoldsTheWorst() {
        String perClient = section(HtmlReport.render(ReportInputs.read(sampleDir())), "per-client");

        // fedqlora client 0: nf2, 120 examples in partition.json, accuracy 0.8025 (its worst), local 0.8425
        assertThat(perClient).contains("<tr><td>fedqlora</td><td class=\"num\">0</td><td>nf2</td>"
                + "<td class=\"num\">120</td><td class=\"num\"><strong>80.25</strong></td>"
                + "<td class=\"num\">79.25</td><td class=\"num\">84.25</td></tr>");
    }

    @Test
    void configYamlIsShownVerbatimAndEscaped() {
        ReportInputs sample = ReportInputs.read(sampleDir());
        String yaml = "model: all-MiniLM-L6-v2\nnote: \"<b>&</b>\"\n";

        String html = HtmlReport.render(new ReportInputs(sample.summary(), List.of(), Optional.empty(),
                Optional.of(yaml)));

        assertThat(section(html, "config")).contains("<pre>model: all-MiniLM-L6-v2\nnote: &quot;&lt;b&gt;&amp;"
                + "&lt;/b&gt;&quot;\n</pre>");
    }

    @Test
    void labelThatClosesAScriptTagStaysInsideItsChartJson() {
        ReportInputs sample = ReportInputs.read(sampleDir());
        ObjectNode partition = sample.partition().orElseThrow().deepCopy();
        ((ArrayNode) partition.get("labels")).set(0, HOSTILE_LABEL);

        String html = HtmlReport.render(new ReportInputs(sample.summary(), sample.metrics(), Optional.of(partition),
                sample.configYaml()));

        assertThat(html).doesNotContain("<b>x");
        assertThat(count(html, "<script")).isEqualTo(count(html, "</script>"));
        JsonNode option = chartOption(html, "chart-partition-histogram");
        assertThat(option.at("/series/0/name").asText()).isEqualTo(HOSTILE_LABEL);
    }

    @Test
    void methodNameWithMarkupIsEscapedInTablesAndCharts() {
        ReportInputs sample = ReportInputs.read(sampleDir());
        ObjectNode summary = sample.summary().deepCopy();
        ObjectNode methods = (ObjectNode) summary.get("methods");
        methods.set(HOSTILE_METHOD, methods.remove("fedqlora"));

        String html = HtmlReport.render(new ReportInputs(summary, sample.metrics(), sample.partition(),
                sample.configYaml()));

        assertThat(html).doesNotContain(HOSTILE_METHOD).contains("&lt;img src=x onerror=alert(1)&gt;");
        assertThat(names(chartOption(html, "chart-accuracy-per-round").get("series"))).contains(HOSTILE_METHOD);
        assertBalancedTags(html);
    }

    @Test
    void pageTagsAreBalancedAndEveryChartHasItsDiv() {
        String html = HtmlReport.render(ReportInputs.read(sampleDir()));

        assertBalancedTags(html);
        Matcher charts = CHART_JSON.matcher(html);
        List<String> ids = new ArrayList<>();
        while (charts.find()) {
            ids.add(charts.group(1));
            assertThat(html).contains("<div class=\"chart\" id=\"" + charts.group(1) + "\"></div>");
        }
        assertThat(ids).containsExactly("chart-accuracy-per-round", "chart-loss-per-round",
                "chart-accuracy-per-format", "chart-partition-histogram");
    }

    @Test
    void summaryAloneRendersWithoutTheOptionalSections(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ReportInputs.SUMMARY), "{\"methods\": {\"a\": {\"final\": {\"accuracy\": 0.5}}}}");

        String html = HtmlReport.render(ReportInputs.read(dir));

        assertThat(section(html, "summary")).contains(">50.00<");
        assertThat(html).doesNotContain("data-chart=", "id=\"partition\"", "id=\"config\"", "id=\"aggregate\"",
                "id=\"per-client\"");
        assertBalancedTags(html);
    }

    @Test
    void writePutsReportHtmlBesideTheInputsAndLeavesNoTemporaryFile(@TempDir Path dir) throws IOException {
        try (Stream<Path> files = Files.list(sampleDir())) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }

        Path written = HtmlReport.write(dir);

        assertThat(written).isEqualTo(dir.resolve("report.html"));
        assertThat(Files.readString(written)).isEqualTo(HtmlReport.render(ReportInputs.read(dir)));
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                    "config.yaml", "metrics.jsonl", "partition.json", "summary.json", "report.html");
        }
    }

    @Test
    void missingSummaryIsAUserErrorNamingTheFolder(@TempDir Path dir) {
        assertThatThrownBy(() -> HtmlReport.write(dir)).isInstanceOf(UserException.class)
                .hasMessageContaining("no summary.json in " + dir).hasMessageContaining("--out");
    }

    @Test
    void brokenMetricsLineIsAUserErrorNamingTheLine(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ReportInputs.SUMMARY), "{\"methods\": {}}");
        Files.writeString(dir.resolve(ReportInputs.METRICS), "{\"round\": 1}\n\n{\"round\": 2, \"acc\n");

        assertThatThrownBy(() -> ReportInputs.read(dir)).isInstanceOf(UserException.class)
                .hasMessageContaining("metrics.jsonl line 3 is not a JSON object");
    }

    @Test
    void summaryWithoutMethodsIsAUserErrorShowingTheExpectedShape(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve(ReportInputs.SUMMARY), "{\"method\": {}}");

        assertThatThrownBy(() -> ReportInputs.read(dir)).isInstanceOf(UserException.class)
                .hasMessageContaining("summary.json has no \"methods\" object; expected {\"methods\"");
    }

    static Path sampleDir() {
        try {
            return Path.of(HtmlReportTest.class.getResource("/report/sample/summary.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String echartsSource() throws IOException {
        try (InputStream in = HtmlReport.class.getClassLoader().getResourceAsStream(HtmlReport.ECHARTS_RESOURCE)) {
            assertThat(in).as(HtmlReport.ECHARTS_RESOURCE).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The option JSON of one chart, parsed back. */
    private static JsonNode chartOption(String html, String divId) {
        Matcher m = CHART_JSON.matcher(html);
        while (m.find()) {
            if (m.group(1).equals(divId)) {
                try {
                    return ReportInputs.MAPPER.readTree(m.group(2));
                } catch (IOException e) {
                    throw new AssertionError("chart " + divId + " has invalid JSON: " + m.group(2), e);
                }
            }
        }
        throw new AssertionError("no chart " + divId);
    }

    private static String section(String html, String id) {
        int start = html.indexOf("<section id=\"" + id + "\">");
        assertThat(start).as("section " + id).isNotNegative();
        return html.substring(start, html.indexOf("</section>", start));
    }

    private static List<String> names(JsonNode series) {
        List<String> names = new ArrayList<>();
        series.forEach(s -> names.add(s.get("name").asText()));
        return names;
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }

    /** Outside script elements, every opened tag is closed in order (void elements aside). */
    private static void assertBalancedTags(String html) {
        String markup = html.replaceAll("(?s)<script[^>]*>.*?</script>", "").replace("<!DOCTYPE html>", "");
        Set<String> voids = Set.of("meta", "br", "hr", "img", "input", "link");
        Deque<String> open = new ArrayDeque<>();
        Matcher tag = Pattern.compile("<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>").matcher(markup);
        while (tag.find()) {
            String name = tag.group(2).toLowerCase();
            if (tag.group(1).isEmpty()) {
                if (!voids.contains(name)) {
                    open.push(name);
                }
            } else {
                assertThat(open.poll()).as("closing tag </" + name + "> at " + tag.start()).isEqualTo(name);
            }
        }
        assertThat(open).as("unclosed tags").isEmpty();
        assertThat(markup).doesNotContain("<script");
    }
}
