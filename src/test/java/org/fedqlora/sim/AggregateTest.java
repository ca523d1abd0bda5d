package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/** Mean ± std over seeds: of perplexity and loss for causal-LM runs, of accuracy and macro-F1 otherwise. */
class AggregateTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One run's summary whose methods' final metrics are {key0: a, key1: b} per method. */
    private static Simulation.RunSummary run(Run run, String key0, String key1, double... values) {
        ObjectNode s = JSON.createObjectNode();
        ObjectNode methods = s.putObject("methods");
        String[] names = {"lora", "fedqlora"};
        for (int i = 0; i < names.length; i++) {
            ObjectNode fin = methods.putObject(names[i]).putObject("final");
            fin.put(key0, values[2 * i]);
            fin.put(key1, values[2 * i + 1]);
            fin.putObject("per_format").putObject("nf2").put(key0, values[2 * i]).put(key1, values[2 * i + 1]);
        }
        return new Simulation.RunSummary(run, s, List.of());
    }

    private static List<Run> twoSeeds(String... more) {
        List<String> sets = new ArrayList<>(List.of("seeds=[1, 2]"));
        sets.addAll(List.of(more));
        SimConfig c = ConfigLoader.loadDefaults(sets);
        assertThat(c.runs()).hasSize(2);
        return c.runs();
    }

    @Test
    void causalLmRunsAggregatePerplexityAndLossAsTheyAreAndSayLowerIsBetter() {
        List<Run> runs = twoSeeds("data.task=causal-lm");
        // lora: perplexity 10 and 12 (mean 11, sample std √2); fedqlora: 8 and 8 (std 0)
        List<Simulation.RunSummary> summaries = List.of(run(runs.get(0), "perplexity", "loss", 10, 2.3, 8, 2.0),
                run(runs.get(1), "perplexity", "loss", 12, 2.5, 8, 2.2));

        ObjectNode top = Aggregate.summary(summaries, JSON.createObjectNode());

        JsonNode lora = top.get("aggregate").get(0);
        assertThat(lora.get("method").asText()).isEqualTo("lora");
        assertThat(lora.get("perplexity_mean").asDouble()).isEqualTo(11.0);
        assertThat(lora.get("perplexity_std").asDouble()).isCloseTo(Math.sqrt(2), offset(1e-12));
        assertThat(lora.get("loss_mean").asDouble()).isCloseTo(2.4, offset(1e-12));
        assertThat(lora.get("loss_std").asDouble()).isCloseTo(Math.sqrt(0.02), offset(1e-12));
        assertThat(lora.has("accuracy_mean")).isFalse();
        JsonNode fin = top.get("methods").get("fedqlora").get("final");
        assertThat(fin.get("perplexity").asDouble()).isEqualTo(8.0);
        assertThat(fin.get("per_format").get("nf2").get("loss").asDouble()).isCloseTo(2.1, offset(1e-12));
        String tables = Tables.paper(top);
        assertThat(tables).contains("Perplexity over response tokens (lower is better), mean ± std over seeds",
                "Loss (nats per response token, lower is better)", "11.000 ± 1.414", "8.000 ± 0.000")
                .doesNotContain("Accuracy");
    }

    @Test
    void classificationRunsAggregateAccuracyInPercent() {
        List<Run> runs = twoSeeds();
        List<Simulation.RunSummary> summaries = List.of(run(runs.get(0), "accuracy", "macro_f1", 0.5, 0.4, 0.6, 0.5),
                run(runs.get(1), "accuracy", "macro_f1", 0.7, 0.6, 0.6, 0.5));

        ObjectNode top = Aggregate.summary(summaries, JSON.createObjectNode());

        assertThat(top.get("aggregate").get(0).get("accuracy_mean").asDouble()).isCloseTo(0.6, offset(1e-12));
        assertThat(top.get("aggregate").get(0).has("perplexity_mean")).isFalse();
        assertThat(Tables.paper(top)).contains("Accuracy (%), mean ± std over seeds", "60.00 ± 14.14")
                .doesNotContain("Perplexity");
    }

    @Test
    void eachFormatsClientsAreAggregatedAloneSoTheQuantizationBiasShows() {
        List<Run> runs = twoSeeds();
        // lora's NF2 clients: 0.30 and 0.40 (mean 35 %, sample std √0.005 = 7.07 %); its NF4 clients 0.80 and 0.80
        List<Simulation.RunSummary> summaries = new ArrayList<>();
        double[][] nf2 = {{0.30, 0.50}, {0.40, 0.50}};
        for (int seed = 0; seed < 2; seed++) {
            ObjectNode s = JSON.createObjectNode();
            ObjectNode methods = s.putObject("methods");
            String[] names = {"lora", "fedqlora"};
            for (int i = 0; i < 2; i++) {
                ObjectNode fin = methods.putObject(names[i]).putObject("final");
                fin.put("accuracy", (nf2[seed][i] + 0.8) / 2).put("macro_f1", 0.5);
                ObjectNode pf = fin.putObject("per_format");
                pf.putObject("nf2").put("accuracy", nf2[seed][i]).put("macro_f1", 0.4);
                pf.putObject("nf4").put("accuracy", 0.8).put("macro_f1", 0.6);
            }
            summaries.add(new Simulation.RunSummary(runs.get(seed), s, List.of()));
        }

        ObjectNode top = Aggregate.summary(summaries, JSON.createObjectNode());

        JsonNode lora = top.get("aggregate").get(0).get("per_format");
        assertThat(lora.get("nf2").get("accuracy_mean").asDouble()).isCloseTo(0.35, offset(1e-12));
        assertThat(lora.get("nf2").get("accuracy_std").asDouble()).isCloseTo(Math.sqrt(0.005), offset(1e-12));
        assertThat(lora.get("nf2").get("runs").asInt()).isEqualTo(2);
        assertThat(lora.get("nf4").get("accuracy_std").asDouble()).isEqualTo(0.0);
        assertThat(Tables.paper(top)).contains("Accuracy (%) of the NF2 clients alone, mean ± std over seeds",
                "35.00 ± 7.07", "50.00 ± 0.00", "Accuracy (%) of the NF4 clients alone", "80.00 ± 0.00");
    }
}
