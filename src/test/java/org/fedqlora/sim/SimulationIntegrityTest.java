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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Saved state is trusted only when it is what was written: checkpoint checksums and the run's fingerprint (config,
 * data file bytes, model weights) are verified on resume; a failed run is marked FAILED and stays resumable;
 * validation happens before any output exists.
 */
class SimulationIntegrityTest {
    @TempDir
    Path dir;
    Path train;
    Path test;

    @BeforeEach
    void data() throws IOException {
        DemoData.Demo d = DemoData.generate(3, new DemoData.Options(60, 20, 0.0));
        train = dir.resolve("train.jsonl");
        test = dir.resolve("test.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        DatasetFiles.writeJsonl(d.test(), test, Fields.DEFAULT);
    }

    private SimConfig tiny(String... more) {
        List<String> sets = new ArrayList<>(List.of(
                "model=" + Fixtures.model("bert-tiny"), "data.train=" + train, "data.test=" + test,
                "data.max_length=16", "clients=2", "formats=[nf4, nf4]", "quant.group_size=32",
                "partition.method=iid", "methods=[lora]", "rounds=2", "local.steps=1", "local.batch_size=4",
                "lora.rank=2", "qa.rank=2", "eval.max_examples=10"));
        sets.addAll(List.of(more));
        return ConfigLoader.loadDefaults(sets);
    }

    /** Runs {@code c} into {@code out}, stopping it (as a crash would) after round 1 is checkpointed. */
    private static void interruptAfterRound1(SimConfig c, Path out) {
        assertThatThrownBy(() -> Simulation.run(c, out, false, new Simulation.Listener() {
            @Override
            public void round(Run run, Method method, int round, int rounds, RoundRecord record) {
                if (round == 1) {
                    throw new IllegalStateException("killed");
                }
            }
        })).hasMessage("killed");
    }

    private Path ckptDir(Path out) throws IOException {
        try (var s = Files.walk(out.resolve("checkpoints"))) {
            return s.filter(p -> p.getFileName().toString().equals("progress.json")).findFirst().orElseThrow().getParent();
        }
    }

    @Test
    void aFailedRunIsMarkedFailedAndResumesToTheSameResult() throws IOException {
        SimConfig c = tiny();
        Simulation.run(c, dir.resolve("whole"), false, new Simulation.Listener() { });
        Path out = dir.resolve("cut");

        interruptAfterRound1(c, out);

        assertThat(Files.readString(out.resolve(RunState.FAILED))).contains("killed").contains("--resume");
        JsonNode st = new ObjectMapper().readTree(out.resolve(RunState.STATE).toFile());
        assertThat(st.get("status").asText()).isEqualTo("failed");
        assertThat(st.get("data_files").has(train.toString())).isTrue();

        Simulation.run(c, out, true, new Simulation.Listener() { });

        assertThat(out.resolve(RunState.FAILED)).doesNotExist();
        assertThat(new ObjectMapper().readTree(out.resolve(RunState.STATE).toFile()).get("status").asText()).isEqualTo("finished");
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).isEqualTo(Files.readString(dir.resolve("whole/metrics.jsonl")));
    }

    @Test
    void aFlippedValueInACheckpointFileIsRefusedOnResume() throws IOException {
        SimConfig c = tiny();
        Path out = dir.resolve("run");
        interruptAfterRound1(c, out);
        Path global = ckptDir(out).resolve("global-1.safetensors");
        byte[] b = Files.readAllBytes(global);
        b[b.length - 3] ^= 0x10;
        Files.write(global, b);

        assertThatThrownBy(() -> Simulation.run(c, out, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("global-1.safetensors does not match its SHA-256")
                .hasMessageContaining("to redo this method");
    }

    @Test
    void anEditedProgressFileIsRefusedOnResume() throws IOException {
        SimConfig c = tiny();
        Path out = dir.resolve("run");
        interruptAfterRound1(c, out);
        Path progress = ckptDir(out).resolve("progress.json");
        Files.writeString(progress, Files.readString(progress).replaceFirst("\"bytes_up\" : \\d+", "\"bytes_up\" : 7"));

        assertThatThrownBy(() -> Simulation.run(c, out, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class).hasMessageContaining("progress.json does not match its checksum");

        Files.writeString(progress, "{\"round\": ");
        assertThatThrownBy(() -> Simulation.run(c, out, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class).hasMessageContaining("progress.json (a checkpoint's progress) is not valid JSON: line 1")
                .hasMessageNotContaining("Source");
    }

    @Test
    void trainingDataEditedBetweenInterruptionAndResumeIsRefusedNamingTheFile() throws IOException {
        SimConfig c = tiny();
        Path out = dir.resolve("run");
        interruptAfterRound1(c, out);
        Files.writeString(train, Files.readString(train).replaceFirst("\"text\":\"", "\"text\":\"edited "));

        assertThatThrownBy(() -> Simulation.run(c, out, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("data file " + train + " changed since the run")
                .hasMessageContaining("restore the original file");
    }

    @Test
    void aChangedConfigIsRefusedNamingTheKeys() {
        Path out = dir.resolve("run");
        interruptAfterRound1(tiny(), out);

        assertThatThrownBy(() -> Simulation.run(tiny("rounds=3", "lora.rank=4"), out, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("rounds: 2 -> 3").hasMessageContaining("lora.rank: 2 -> 4");
    }

    @Test
    void aCorruptStateFileIsRefusedWithHowToRecover() throws IOException {
        Path out = dir.resolve("run");
        interruptAfterRound1(tiny(), out);
        Files.writeString(out.resolve(RunState.STATE), "");

        assertThatThrownBy(() -> Simulation.run(tiny(), out, true, new Simulation.Listener() { }))
                .isInstanceOf(UserException.class).hasMessageContaining("state.json (the simulation's state) is empty")
                .hasMessageContaining("start a new run in another --out");
    }

    @Test
    void failingValidationCreatesNoOutputAtAll() throws IOException {
        Path out = dir.resolve("run");
        assertThatThrownBy(() -> Simulation.run(tiny("clients=200", "formats=nf4"), out, false, new Simulation.Listener() { }))
                .hasMessageContaining("200 clients but only");
        assertThat(out).doesNotExist();

        // the group size fits no row of the model: found while loading the models, still before any output
        assertThatThrownBy(() -> Simulation.run(tiny("quant.group_size=48"), out, false, new Simulation.Listener() { }))
                .hasMessageContaining("group size 48");
        assertThat(out).doesNotExist();

        Files.write(dir.resolve("bad.jsonl"), new byte[] {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xFF, '"', '}', '\n'});
        assertThatThrownBy(() -> Simulation.run(tiny("data.test=" + dir.resolve("bad.jsonl")), out, false,
                new Simulation.Listener() { })).isInstanceOf(UserException.class).hasMessageContaining("UTF-8");
        assertThat(out).doesNotExist();

        // the corrected command then runs in the same --out
        Simulation.run(tiny("rounds=1"), out, false, new Simulation.Listener() { });
        assertThat(out.resolve("summary.json")).exists();
        assertThat(Files.readString(out.resolve(RunState.STATE), StandardCharsets.UTF_8)).contains("\"finished\"");
    }
}
