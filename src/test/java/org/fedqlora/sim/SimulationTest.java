package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.UserException;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Fields;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.testing.Fixtures;
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

/** End-to-end simulation on the tiny BERT fixture: outputs, determinism, resume, privacy of QA adapters, errors. */
class SimulationTest {
    @TempDir
    static Path shared;
    static Path train;
    static Path test;

    @TempDir
    Path dir;

    @BeforeAll
    static void data() throws IOException {
        writeData(shared);
    }

    /** Writes the tiny train and test sets into {@code folder} and points {@link #tiny} at them. */
    static void writeData(Path folder) throws IOException {
        DemoData.Demo d = DemoData.generate(3, new DemoData.Options(160, 60, 0.0));
        train = folder.resolve("train.jsonl");
        test = folder.resolve("test.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        DatasetFiles.writeJsonl(d.test(), test, Fields.DEFAULT);
    }

    /** A few-second config: bert-tiny, 3 clients, 2 rounds, every method. */
    static SimConfig tiny(String... more) {
        List<String> sets = new ArrayList<>(List.of(
                "model=" + Fixtures.model("bert-tiny"), "data.train=" + train, "data.test=" + test,
                "data.max_length=24", "clients=3", "formats=[nf2, nf4, int8]", "quant.group_size=32",
                "partition.method=dirichlet", "partition.alpha=1.0", "partition.min_size=5",
                "methods=[lora, ffa-lora, lora-truncated, fedqlora, ifedqlora, full-precision, local]",
                "rounds=2", "local.steps=2", "local.batch_size=8", "local.lr=5e-3", "lora.rank=2", "qa.rank=4",
                "eval.max_examples=30", "ifedqlora.refine=svd"));
        sets.addAll(List.of(more));
        return ConfigLoader.loadDefaults(sets);
    }

    @Test
    void writesEveryOutputWithAllMethodsAndFormats() throws IOException {
        JsonNode summary = Simulation.run(tiny(), dir, false, new Simulation.Listener() { });

        for (String f : List.of("config.yaml", "partition.json", "metrics.jsonl", "summary.json", "report.html")) {
            assertThat(dir.resolve(f)).exists();
        }
        assertThat(summary.get("methods").fieldNames()).toIterable()
                .containsExactly("lora", "ffa-lora", "lora-truncated", "fedqlora", "ifedqlora", "full-precision", "local");
        JsonNode fin = summary.get("methods").get("fedqlora").get("final");
        assertThat(fin.get("per_format").fieldNames()).toIterable().containsExactly("int8", "nf2", "nf4");
        assertThat(fin.get("per_client")).hasSize(3);
        assertThat(summary.get("methods").get("fedqlora").get("rounds")).hasSize(2);
        // ffa-lora sends only B and the head: fewer bytes up than lora; local sends nothing
        long loraUp = summary.get("methods").get("lora").get("bytes_up").asLong();
        assertThat(summary.get("methods").get("ffa-lora").get("bytes_up").asLong()).isLessThan(loraUp).isPositive();
        assertThat(summary.get("methods").get("local").get("bytes_up").asLong()).isZero();
        // the private QA adapters never travel: fedqlora and ifedqlora send exactly what lora sends
        assertThat(summary.get("methods").get("fedqlora").get("bytes_up").asLong()).isEqualTo(loraUp);
        assertThat(summary.get("methods").get("ifedqlora").get("bytes_up").asLong()).isEqualTo(loraUp);
        assertThat(summary.get("methods").get("ifedqlora").get("bytes_down").asLong())
                .isEqualTo(summary.get("methods").get("lora").get("bytes_down").asLong());
        // lora-truncated runs every client on the lowest precision present
        List<String> truncatedBases = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            JsonNode l = new ObjectMapper().readTree(line);
            if (l.get("method").asText().equals("lora-truncated")) {
                truncatedBases.add(l.get("base").asText());
            }
        }
        assertThat(truncatedBases).isNotEmpty().containsOnly("nf2");
    }

    @Test
    void sameConfigAndSeedGiveBitIdenticalResults() throws IOException {
        SimConfig c = tiny("methods=[lora, ifedqlora]");
        Simulation.run(c, dir.resolve("a"), false, new Simulation.Listener() { });
        Simulation.run(c, dir.resolve("b"), false, new Simulation.Listener() { });

        assertThat(Files.readString(dir.resolve("b/metrics.jsonl"))).isEqualTo(Files.readString(dir.resolve("a/metrics.jsonl")));
        assertThat(Files.readString(dir.resolve("b/partition.json"))).isEqualTo(Files.readString(dir.resolve("a/partition.json")));
    }

    /** Interrupted after a checkpoint (as by kill -9) and resumed, a run ends bit-identical to an uninterrupted one. */
    @Test
    void resumeAfterAnInterruptionEndsExactlyLikeAnUninterruptedRun() throws IOException {
        SimConfig c = tiny("methods=[fedqlora, ifedqlora, local]", "rounds=3", "server.optimizer=fedadam", "server.lr=0.05");
        Simulation.run(c, dir.resolve("whole"), false, new Simulation.Listener() { });

        Path cut = dir.resolve("cut");
        assertThatThrownBy(() -> Simulation.run(c, cut, false, new Simulation.Listener() {
            @Override
            public void round(Run run, Method method, int round, int rounds, RoundRecord record) {
                if (method == Method.IFEDQLORA && round == 2) {
                    throw new IllegalStateException("killed");
                }
            }
        })).hasMessage("killed");
        Simulation.run(c, cut, true, new Simulation.Listener() { });

        assertThat(Files.readString(cut.resolve("metrics.jsonl"))).isEqualTo(Files.readString(dir.resolve("whole/metrics.jsonl")));
    }

    @Test
    void resumeRefusesAFolderWrittenWithAnotherConfig() {
        Simulation.run(tiny("methods=[lora]", "rounds=1"), dir, false, new Simulation.Listener() { });

        assertThatThrownBy(() -> Simulation.run(tiny("methods=[lora]", "rounds=2"), dir, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class).hasMessageContaining("different config");
    }

    @Test
    void anExistingOutputFolderIsNeverSilentlyReused() throws IOException {
        Files.writeString(dir.resolve("notes.txt"), "mine");

        assertThatThrownBy(() -> Simulation.run(tiny("methods=[lora]"), dir, false, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class).hasMessageContaining("not empty");
        assertThat(Files.readString(dir.resolve("notes.txt"))).isEqualTo("mine");
    }

    @Test
    void moreClientsThanExamplesIsAClearError() {
        assertThatThrownBy(() -> Simulation.run(tiny("methods=[lora]", "clients=200", "formats=nf4",
                "partition.method=iid"), dir, false, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class).hasMessageContaining("200 clients but only");
    }

    @Test
    void badFormatAndAlphaAreRejectedBeforeAnythingRuns() {
        assertThatThrownBy(() -> tiny("formats=[nf2, nf5, int8]")).isInstanceOf(UserException.class)
                .hasMessageContaining("nf5").hasMessageContaining("nf4");
        assertThatThrownBy(() -> tiny("partition.alpha=0")).isInstanceOf(UserException.class)
                .hasMessageContaining("alpha");
    }
}
