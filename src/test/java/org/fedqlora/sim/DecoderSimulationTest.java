package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Fields;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The classification simulation on a decoder (tiny Llama, last-token pooling) with the defaults an encoder gets. */
class DecoderSimulationTest {
    @TempDir
    Path dir;

    @Test
    void mixedPrecisionFederationRunsOnATinyLlamaWithPrivateQaAdapters() throws IOException {
        DemoData.Demo d = DemoData.generate(3, new DemoData.Options(32, 10, 0.0));
        Path train = dir.resolve("train.jsonl");
        Path test = dir.resolve("test.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        DatasetFiles.writeJsonl(d.test(), test, Fields.DEFAULT);
        var cfg = ConfigLoader.loadDefaults(List.of(
                "model=" + Fixtures.model("llama-tiny"), "data.train=" + train, "data.test=" + test,
                "data.max_length=16", "clients=2", "formats=[nf2, nf4]", "quant.group_size=32",
                "partition.method=iid", "methods=[lora, fedqlora]", "rounds=1", "local.steps=1",
                "local.batch_size=8", "local.lr=5e-3", "lora.rank=2", "qa.rank=4", "eval.max_examples=10"));

        JsonNode summary = Simulation.run(cfg, dir.resolve("out"), false, new Simulation.Listener() { });

        JsonNode lora = summary.get("methods").get("lora");
        JsonNode fedqlora = summary.get("methods").get("fedqlora");
        assertThat(fedqlora.get("rounds")).hasSize(1);
        assertThat(fedqlora.get("final").get("per_format").fieldNames()).toIterable().containsExactly("nf2", "nf4");
        assertThat(fedqlora.get("bytes_up").asLong()).isEqualTo(lora.get("bytes_up").asLong()).isPositive();
    }
}
