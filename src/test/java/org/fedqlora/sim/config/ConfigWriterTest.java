package org.fedqlora.sim.config;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ConfigWriterTest {

    private static SimConfig rich() {
        return ConfigLoader.loadPreset("paper", List.of("data.test=held out.jsonl", "lora.targets=[query,key]",
                "local.lr=3e-5", "sweep={partition.method: [iid, dirichlet]}", "formats=[nf2, int8, fp32, bf16, nf4, nf4, nf3, int2, int4, int3]",
                "experiments=[{name: m, set: {formats: nf4, sweep: {}, sweep.lora.rank: [2, 4]}}]",
                "data.text_field='yes'", "seed=12345678901"));
    }

    @Test
    void yamlRoundTripGivesAnEqualConfig(@TempDir Path dir) throws IOException {
        for (SimConfig config : List.of(SimConfig.defaults(), ConfigLoader.loadPreset("demo", List.of()),
                ConfigLoader.loadPreset("paper", List.of()), rich())) {
            Path file = dir.resolve("config.yaml");
            Files.writeString(file, ConfigWriter.toYaml(config));

            SimConfig reloaded = ConfigLoader.load(file, List.of());

            assertThat(reloaded).isEqualTo(config);
            assertThat(ConfigWriter.toYaml(reloaded)).isEqualTo(ConfigWriter.toYaml(config));
            assertThat(reloaded.runs()).isEqualTo(config.runs());
        }
    }

    @Test
    void yamlIsNestedBySectionWithScalarListsInline() {
        String yaml = ConfigWriter.toYaml(SimConfig.defaults());

        assertThat(yaml).startsWith("# fedqlora simulation config");
        assertThat(yaml).contains("\nmodel: minilm\ndata:\n  train: demo\n  test: null\n");
        assertThat(yaml).contains("\nlora:\n  rank: 8\n  alpha: 16.0\n  dropout: 0.0\n  targets: [query, value]\n");
        assertThat(yaml).contains("\nformats: nf2:0.5,nf4:0.5\n");
        assertThat(yaml).contains("\nsweep: {}\nexperiments: []\n");
    }

    @Test
    void jsonHasTheSameStructure() {
        JsonNode json = ConfigWriter.toJson(rich());

        assertThat(json.get("clients").asInt()).isEqualTo(10);
        assertThat(json.get("local").get("lr").asDouble()).isEqualTo(3e-5);
        assertThat(json.get("data").get("test").asText()).isEqualTo("held out.jsonl");
        assertThat(json.get("formats").size()).isEqualTo(10);
        assertThat(json.get("sweep").get("partition.method").get(1).asText()).isEqualTo("dirichlet");
        assertThat(json.get("experiments").get(0).get("set").get("sweep.lora.rank").get(1).asInt()).isEqualTo(4);
        assertThat(json.get("seed").asLong()).isEqualTo(12345678901L);
        assertThat(ConfigWriter.toJson(SimConfig.defaults()).get("data").get("test").isNull()).isTrue();
    }

    @Test
    void fingerprintIsStableAndSensitiveToAnyChange() {
        String paper = ConfigWriter.fingerprint(ConfigLoader.loadPreset("paper", List.of()));

        assertThat(paper).hasSize(64).matches("[0-9a-f]+");
        assertThat(ConfigWriter.fingerprint(ConfigLoader.loadPreset("paper", List.of()))).isEqualTo(paper);
        assertThat(ConfigWriter.fingerprint(ConfigLoader.loadPreset("paper", List.of("local.lr=0.005"))))
                .isEqualTo(paper);
        assertThat(ConfigWriter.fingerprint(ConfigLoader.loadPreset("paper", List.of("local.lr=0.0051"))))
                .isNotEqualTo(paper);
        assertThat(ConfigWriter.fingerprint(ConfigLoader.loadPreset("paper", List.of("seeds=[1, 2]"))))
                .isNotEqualTo(paper);
        assertThat(ConfigWriter.fingerprint(SimConfig.defaults())).isNotEqualTo(paper);
    }
}
