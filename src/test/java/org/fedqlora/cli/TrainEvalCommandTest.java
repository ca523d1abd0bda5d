package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Fields;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** train → eval on the tiny BERT: outputs (PEFT export, head, metrics, predictions) and the errors around them. */
class TrainEvalCommandTest {
    @TempDir
    static Path dir;
    static Path train;
    static Path test;
    static Path run;
    static String bert = Fixtures.model("bert-tiny").toString();

    @BeforeAll
    static void trainOnce() throws IOException {
        DemoData.Demo d = DemoData.generate(5, new DemoData.Options(120, 40, 0.0));
        train = dir.resolve("train.jsonl");
        test = dir.resolve("test.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        DatasetFiles.writeJsonl(d.test(), test, Fields.DEFAULT);
        run = dir.resolve("run");
        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model", bert, "--data", train.toString(),
                "--eval", test.toString(), "--format", "nf4", "--group-size", "32", "--qa-rank", "4",
                "--lora-rank", "2", "--steps", "4", "--batch", "8", "--max-length", "24", "--out", run.toString());
        assertThat(r.code()).as(r.err()).isZero();
    }

    @Test
    void trainWritesAPeftAdapterHeadQaAndMetrics() throws IOException {
        JsonNode cfg = new ObjectMapper().readTree(run.resolve("adapter/adapter_config.json").toFile());
        assertThat(cfg.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(cfg.get("r").asInt()).isEqualTo(2);
        assertThat(cfg.get("target_modules")).extracting(JsonNode::asText).containsExactly("query", "value");
        SafetensorsFile w = SafetensorsFile.open(run.resolve("adapter/adapter_model.safetensors"));
        assertThat(w.names()).hasSize(8).contains("base_model.model.encoder.layer.0.attention.self.query.lora_A.weight");
        assertThat(w.get("base_model.model.encoder.layer.1.attention.self.value.lora_B.weight").shape()).containsExactly(32, 2);
        assertThat(w.names()).noneMatch(n -> n.contains("qa_"));
        assertThat(SafetensorsFile.open(run.resolve("qa_adapter.safetensors")).names()).hasSize(24);
        JsonNode metrics = new ObjectMapper().readTree(run.resolve("metrics.json").toFile());
        assertThat(metrics.get("train_loss")).hasSize(4);
        assertThat(metrics.get("eval").get("confusion")).hasSize(8);
        JsonNode head = new ObjectMapper().readTree(run.resolve("head.json").toFile());
        assertThat(head.get("labels")).hasSize(8);
        assertThat(head.get("format").asText()).isEqualTo("nf4");
    }

    @Test
    void evalReproducesTheTrainingEvaluationAndWritesPredictions() throws IOException {
        Path pred = dir.resolve("pred.jsonl");
        CliErrorsTest.Result r = CliErrorsTest.run("eval", "--model", bert, "--adapter", run.toString(),
                "--data", test.toString(), "--predictions", pred.toString());

        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = Files.readAllLines(pred);
        assertThat(lines).hasSize(40);
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        assertThat(first.get("index").asInt()).isZero();
        assertThat(first.get("probabilities")).hasSize(8);
        double sum = 0;
        for (JsonNode p : first.get("probabilities")) {
            sum += p.asDouble();
        }
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
        // the same adapter on the same base gives the accuracy train reported
        long correct = lines.stream().map(l -> {
            try {
                JsonNode n = new ObjectMapper().readTree(l);
                return n.get("label").asText().equals(n.get("predicted").asText());
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }).filter(b -> b).count();
        JsonNode metrics = new ObjectMapper().readTree(run.resolve("metrics.json").toFile());
        assertThat(correct / 40.0).isEqualTo(metrics.get("eval").get("accuracy").asDouble());
    }

    @Test
    void evalRefusesAnAdapterTrainedOnAnotherBaseModel() {
        CliErrorsTest.Result r = CliErrorsTest.run("eval", "--model", Fixtures.model("distilbert-tiny").toString(),
                "--adapter", run.toString(), "--data", test.toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("was trained on").doesNotContain("\tat ");
    }

    @Test
    void evalNamesATensorWhoseShapeDoesNotMatch() throws IOException {
        Path other = dir.resolve("rank4");
        CliErrorsTest.Result t = CliErrorsTest.run("train", "--model", bert, "--data", train.toString(), "--eval",
                test.toString(), "--lora-rank", "4", "--steps", "1", "--max-length", "16", "--out", other.toString());
        assertThat(t.code()).as(t.err()).isZero();
        Path mixed = dir.resolve("mixed");
        Files.createDirectories(mixed);
        for (String f : List.of("head.json", "head.safetensors")) {
            Files.copy(run.resolve(f), mixed.resolve(f));
        }
        Files.createDirectories(mixed.resolve("adapter"));
        Files.copy(run.resolve("adapter/adapter_config.json"), mixed.resolve("adapter/adapter_config.json"));
        Files.copy(other.resolve("adapter/adapter_model.safetensors"), mixed.resolve("adapter/adapter_model.safetensors"));

        CliErrorsTest.Result r = CliErrorsTest.run("eval", "--model", bert, "--adapter", mixed.toString(), "--data", test.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("lora_A.weight' has shape [4, 32]").contains("expects [2, 32]");
    }

    @Test
    void evalRejectsALabelUnseenInTraining() throws IOException {
        Path odd = Files.writeString(dir.resolve("odd.jsonl"), "{\"text\": \"hello\", \"label\": \"weather\"}\n");
        CliErrorsTest.Result r = CliErrorsTest.run("eval", "--model", bert, "--adapter", run.toString(), "--data", odd.toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("weather");
    }

    @Test
    void trainNeverWritesIntoANonEmptyOutWithoutOverwrite() throws IOException {
        Path out = Files.createDirectories(dir.resolve("taken"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model", bert, "--data", train.toString(), "--steps", "1",
                "--out", out.toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--overwrite");
        assertThat(Files.list(out).toList()).hasSize(1);
    }

    @Test
    void missingLabelFieldNamesTheFieldAndShowsTheLine() throws IOException {
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"text\": \"a\", \"category\": \"x\"}\n");
        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model", bert, "--data", bad.toString(), "--steps", "1",
                "--out", dir.resolve("o2").toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("'label'").contains("line 1").contains("category");
    }
}
