package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.UserException;
import org.fedqlora.fed.privacy.DpSettings;
import org.fedqlora.fed.privacy.RdpAccountant;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;
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
import static org.assertj.core.api.Assertions.within;

/** Simulations with differential privacy: the reported ε is the accountant's, budgets stop runs, resume is exact. */
class PrivacySimulationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    @BeforeAll
    static void data() throws IOException {
        SimulationTest.writeData(shared);
    }

    /** bert-tiny, 3 clients, lora and ffa-lora, central DP with z = 1.1 and q = 2/3. */
    private static SimConfig dp(String... more) {
        List<String> sets = new ArrayList<>(List.of("methods=[lora, ffa-lora]", "rounds=2", "fraction=0.6666666666666666",
                "privacy.mode=central", "privacy.clip=0.5", "privacy.noise_multiplier=1.1", "privacy.delta=1e-5"));
        sets.addAll(List.of(more));
        return SimulationTest.tiny(sets.toArray(String[]::new));
    }

    private static List<JsonNode> privacyLines(Path dir, String method) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            JsonNode l = JSON.readTree(line);
            if (l.get("split").asText().equals("privacy") && l.get("method").asText().equals(method)) {
                out.add(l);
            }
        }
        return out;
    }

    @Test
    void reportedEpsilonIsTheAccountantsForTheRunsSamplingNoiseAndRounds() throws IOException {
        List<Double> reported = new ArrayList<>();

        JsonNode summary = Simulation.run(dp(), dir, false, new Simulation.Listener() {
            @Override
            public void privacy(Run run, Method method, int round, double epsilon, double delta) {
                reported.add(epsilon);
            }
        });

        RdpAccountant accountant = new RdpAccountant(2.0 / 3, 1.1);
        for (String method : List.of("lora", "ffa-lora")) {
            JsonNode p = summary.get("methods").get(method).get("privacy");
            assertThat(p.get("epsilon").asDouble()).isCloseTo(accountant.epsilon(2, 1e-5), within(1e-9));
            assertThat(p.get("sampling_probability").asDouble()).isCloseTo(2.0 / 3, within(1e-12));
            assertThat(p.get("rounds_run").asInt()).isEqualTo(2);
            assertThat(p.get("stopped").isNull()).isTrue();
            List<JsonNode> lines = privacyLines(dir, method);
            assertThat(lines).hasSize(2);
            for (JsonNode l : lines) {
                assertThat(l.get("epsilon").asDouble()).isCloseTo(accountant.epsilon(l.get("round").asInt(), 1e-5),
                        within(1e-9));
                assertThat(l.get("clip").asDouble()).isCloseTo(0.5, within(1e-7));
            }
        }
        assertThat(reported).hasSize(4);
        assertThat(reported.get(1)).isCloseTo(accountant.epsilon(2, 1e-5), within(1e-9));
        assertThat(Files.readString(dir.resolve("report.html"))).contains("Differential privacy", "ε spent");
    }

    @Test
    void aRunStopsBeforeARoundWouldExceedTheTargetEpsilon() {
        RdpAccountant accountant = new RdpAccountant(2.0 / 3, 1.1);
        double target = (accountant.epsilon(2, 1e-5) + accountant.epsilon(3, 1e-5)) / 2;

        JsonNode summary = Simulation.run(dp("methods=[lora]", "rounds=4", "privacy.target_epsilon=" + target), dir,
                false, new Simulation.Listener() { });

        JsonNode lora = summary.get("methods").get("lora");
        assertThat(lora.get("privacy").get("rounds_run").asInt()).isEqualTo(2);
        assertThat(lora.get("privacy").get("epsilon").asDouble()).isLessThanOrEqualTo(target);
        assertThat(lora.get("privacy").get("stopped").asText()).contains("round 3 would raise ε", "stopped after round 2");
        assertThat(lora.get("rounds")).hasSize(2);
        assertThat(lora.get("final").get("round").asInt()).isEqualTo(2);
    }

    @Test
    void targetEpsilonWithoutNoiseMultiplierCalibratesTheNoiseForThePlannedRounds() {
        SimConfig c = dp("rounds=30", "privacy.noise_multiplier=0", "privacy.target_epsilon=4");

        DpSettings s = SimPrivacy.settings(c, Method.LORA).orElseThrow();

        assertThat(s.noiseMultiplier()).isEqualTo(DpSettings.calibrate(DpSettings.Mode.CENTRAL, 4, 1e-5, 2.0 / 3, 30));
        assertThat(s.accountant().epsilon(30, 1e-5)).isLessThanOrEqualTo(4).isGreaterThan(3.99);
        assertThat(s.expectedClients()).isCloseTo(2, within(1e-12));
        assertThat(SimPrivacy.settings(c, Method.LOCAL)).as("the local method shares nothing").isEmpty();
    }

    @Test
    void resumeWithAdaptiveClippingEndsExactlyLikeAnUninterruptedRun() throws IOException {
        SimConfig c = dp("methods=[lora]", "rounds=3", "fraction=1.0", "privacy.adaptive_clip.enabled=true",
                "privacy.adaptive_clip.count_noise=2");
        Simulation.run(c, dir.resolve("whole"), false, new Simulation.Listener() { });

        Path cut = dir.resolve("cut");
        assertThatThrownBy(() -> Simulation.run(c, cut, false, new Simulation.Listener() {
            @Override
            public void round(Run run, Method method, int round, int rounds, RoundRecord record) {
                if (round == 2) {
                    throw new IllegalStateException("killed");
                }
            }
        })).hasMessage("killed");
        Simulation.run(c, cut, true, new Simulation.Listener() { });

        assertThat(Files.readString(cut.resolve("metrics.jsonl")))
                .isEqualTo(Files.readString(dir.resolve("whole/metrics.jsonl")));
        List<JsonNode> lines = privacyLines(cut, "lora");
        assertThat(lines.get(2).get("clip").asDouble()).isNotEqualTo(0.5); // the clip adapted
    }

    @Test
    void localModeReportsTheLocalGuarantee() {
        JsonNode summary = Simulation.run(dp("methods=[lora]", "rounds=1", "privacy.mode=local",
                        "privacy.noise_multiplier=4"),
                dir, false, new Simulation.Listener() { });

        JsonNode p = summary.get("methods").get("lora").get("privacy");
        assertThat(p.get("mode").asText()).isEqualTo("local");
        assertThat(p.get("epsilon").asDouble()).isCloseTo(new RdpAccountant(1.0, 2.0).epsilon(1, 1e-5), within(1e-9));
    }

    @Test
    void adaptiveClippingWithTooLittleCountNoiseIsAClearError() {
        assertThatThrownBy(() -> Simulation.run(dp("methods=[lora]", "privacy.adaptive_clip.enabled=true"), dir, false,
                new Simulation.Listener() { })).isInstanceOf(UserException.class)
                .hasMessageContaining("must exceed z/2").hasMessageContaining("privacy.adaptive_clip.count_noise");
    }
}
