package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Fields;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Sequence classification with a decoder (HF *ForSequenceClassification: last real token → linear head) through the
 * same train / eval commands as BERT: a short NF4 + QA + LoRA run on the tiny Llama whose loss falls.
 */
class DecoderClassificationTest {
    @TempDir
    Path dir;

    @Test
    void trainingATinyLlamaClassifierLowersTheLossAndEvalReproducesIt() throws IOException {
        DemoData.Demo d = DemoData.generate(5, new DemoData.Options(16, 16, 0.0));
        Path train = dir.resolve("train.jsonl");
        Path test = dir.resolve("test.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        DatasetFiles.writeJsonl(d.test(), test, Fields.DEFAULT);
        Path run = dir.resolve("run");
        String llama = Fixtures.model("llama-tiny").toString();

        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model", llama, "--data", train.toString(),
                "--eval", test.toString(), "--format", "nf4", "--group-size", "32", "--qa-rank", "4",
                "--lora-rank", "4", "--targets", "all-linear", "--steps", "20", "--batch", "16", "--lr", "1e-2",
                "--max-length", "24", "--out", run.toString());

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode metrics = new ObjectMapper().readTree(run.resolve("metrics.json").toFile());
        JsonNode losses = metrics.get("train_loss");
        double first = mean(losses, 0, 5);
        double last = mean(losses, losses.size() - 5, losses.size());
        System.out.printf("tiny llama classifier: train loss %.4f (first 5 steps) -> %.4f (last 5)%n", first, last);
        assertThat(last).isLessThan(first * 0.8);
        JsonNode head = new ObjectMapper().readTree(run.resolve("head.json").toFile());
        assertThat(head.get("pooling").asText()).isEqualTo("last");
        SafetensorsFile w = SafetensorsFile.open(run.resolve("adapter/adapter_model.safetensors"));
        assertThat(w.names()).hasSize(2 * 7 * 2).contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");

        CliErrorsTest.Result e = CliErrorsTest.run("eval", "--model", llama, "--adapter", run.toString(),
                "--data", test.toString());
        assertThat(e.code()).as(e.err()).isZero();
    }

    private static double mean(JsonNode a, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += a.get(i).asDouble();
        }
        return s / (to - from);
    }
}
