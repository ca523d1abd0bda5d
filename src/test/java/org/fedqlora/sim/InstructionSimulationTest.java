package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.testing.TinyDecoder;
import org.fedqlora.testing.TinyInstructions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Federated instruction tuning on the tiny decoder (llama-tiny, plain chat template): perplexity over response
 * tokens falls round by round, QA adapters never travel, and a resumed run ends bit-identical.
 */
class InstructionSimulationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path shared;
    static Path model;
    static Path train;
    static Path test;

    @TempDir
    Path dir;

    @BeforeAll
    static void data() throws IOException {
        model = TinyDecoder.plain(shared.resolve("tiny-chat"));
        train = shared.resolve("train.jsonl");
        test = shared.resolve("test.jsonl");
        TinyInstructions.write(train, 48, 1);
        TinyInstructions.write(test, 12, 2);
    }

    static SimConfig tiny(String... more) {
        List<String> sets = new ArrayList<>(List.of(
                "model=" + model, "data.train=" + train, "data.test=" + test, "data.max_length=32",
                "clients=3", "formats=[nf2, nf4, nf4]", "quant.group_size=32",
                "partition.method=dirichlet", "partition.alpha=1.0", "partition.min_size=5",
                "methods=[lora, fedqlora]", "rounds=3", "local.steps=3", "local.batch_size=8", "local.lr=1e-2",
                "lora.rank=4", "lora.targets=[all-linear]", "qa.rank=4"));
        sets.addAll(List.of(more));
        return ConfigLoader.loadDefaults(sets);
    }

    private static List<Double> perplexities(JsonNode summary, String method) {
        List<Double> out = new ArrayList<>();
        summary.get("methods").get(method).get("rounds").forEach(r -> out.add(r.get("perplexity").asDouble()));
        return out;
    }

    @Test
    void perplexityFallsEveryRoundAndQaAdaptersNeverTravel() throws IOException {
        JsonNode summary = Simulation.run(tiny(), dir, false, new Simulation.Listener() { });

        for (String method : List.of("lora", "fedqlora")) {
            List<Double> ppl = perplexities(summary, method);
            assertThat(ppl).as(method).hasSize(3);
            for (int i = 1; i < ppl.size(); i++) {
                assertThat(ppl.get(i)).as(method + " round " + (i + 1) + " vs " + i + ": " + ppl).isLessThan(ppl.get(i - 1));
            }
            JsonNode fin = summary.get("methods").get(method).get("final");
            assertThat(fin.get("perplexity").asDouble()).isEqualTo(ppl.get(2));
            assertThat(fin.get("worst_client_perplexity").asDouble()).isGreaterThanOrEqualTo(fin.get("perplexity").asDouble());
            assertThat(fin.get("per_format").fieldNames()).toIterable().containsExactly("nf2", "nf4");
            assertThat(fin.get("per_client")).hasSize(3);
            assertThat(fin.get("per_client").get(0).has("perplexity")).isTrue();
            // evaluation is counted in the throughput as training is
            assertThat(summary.get("methods").get(method).get("throughput").get("eval").get("tokens").asLong())
                    .isPositive();
        }
        // fedqlora's private QA adapters never leave a client: it sends exactly the bytes lora sends
        JsonNode methods = summary.get("methods");
        assertThat(methods.get("fedqlora").get("bytes_up").asLong()).isEqualTo(methods.get("lora").get("bytes_up").asLong());
        assertThat(methods.get("fedqlora").get("bytes_down").asLong()).isEqualTo(methods.get("lora").get("bytes_down").asLong());
        // metric lines: per client, global and local perplexity over response tokens
        JsonNode line = null;
        for (String l : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            JsonNode n = JSON.readTree(l);
            if (n.get("split").asText().equals("global")) {
                line = n;
                break;
            }
        }
        assertThat(line).isNotNull();
        assertThat(line.get("perplexity").asDouble()).isCloseTo(Math.exp(line.get("loss").asDouble()),
                org.assertj.core.data.Offset.offset(1e-6 * line.get("perplexity").asDouble()));
        assertThat(line.get("tokens").asLong()).isPositive();
        assertThat(Files.readString(dir.resolve("report.html"))).contains("Perplexity per round");
        JsonNode partition = JSON.readTree(dir.resolve("partition.json").toFile());
        assertThat(partition.get("labels")).extracting(JsonNode::asText).containsExactly("colors", "numbers");
    }

    /** Interrupted after a checkpoint and resumed, a run ends bit-identical to an uninterrupted one. */
    @Test
    void resumeAfterAnInterruptionEndsExactlyLikeAnUninterruptedRun() throws IOException {
        SimConfig c = tiny("methods=[fedqlora, ifedqlora]", "rounds=2", "local.steps=2");
        Simulation.run(c, dir.resolve("whole"), false, new Simulation.Listener() { });

        Path cut = dir.resolve("cut");
        assertThatThrownBy(() -> Simulation.run(c, cut, false, new Simulation.Listener() {
            @Override
            public void round(Run run, Method method, int round, int rounds, RoundRecord record) {
                if (method == Method.IFEDQLORA && round == 1) {
                    throw new IllegalStateException("killed");
                }
            }
        })).hasMessage("killed");
        Simulation.run(c, cut, true, new Simulation.Listener() { });

        assertThat(Files.readString(cut.resolve("metrics.jsonl"))).isEqualTo(Files.readString(dir.resolve("whole/metrics.jsonl")));
        assertThat(withoutTimings(cut.resolve("summary.json"))).isEqualTo(withoutTimings(dir.resolve("whole/summary.json")));
    }

    /** summary.json without what measures time ("seconds", and "throughput", which counts only this process's work). */
    private static com.fasterxml.jackson.databind.JsonNode withoutTimings(Path summary) throws IOException {
        com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(summary.toFile());
        strip(n);
        return n;
    }

    private static void strip(com.fasterxml.jackson.databind.JsonNode n) {
        if (n instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
            o.remove(List.of("seconds", "throughput"));
        }
        n.forEach(InstructionSimulationTest::strip);
    }

    @Test
    void dirichletWithoutCategoriesIsAClearError() throws IOException {
        Path plain = shared.resolve("no-categories.jsonl");
        Files.writeString(plain, Files.readString(train).replaceAll(", \"category\": \"[a-z]+\"", ""));
        assertThatThrownBy(() -> Simulation.run(tiny("data.train=" + plain), dir, false, new Simulation.Listener() { }))
                .hasMessageContaining("partition.method = dirichlet skews the clients over categories")
                .hasMessageContaining("no 'category' field");
    }
}
