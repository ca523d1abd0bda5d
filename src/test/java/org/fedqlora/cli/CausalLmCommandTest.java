package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.DemoInstructions;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.TinyDecoder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** train → eval for instruction tuning on the tiny decoder (task auto-detected from the data). */
class CausalLmCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static Path model;
    static Path data;
    static Path run;
    static CliErrorsTest.Result trained;

    @BeforeAll
    static void trainOnce() throws IOException {
        model = TinyDecoder.plain(dir.resolve("tiny-chat"));
        data = dir.resolve("instruct");
        DemoInstructions.write(DemoData.generate(3, new DemoData.Options(48, 12, 0.0)), data);
        run = dir.resolve("run");
        trained = CliErrorsTest.run("train", "--model", model.toString(), "--data", data.resolve("train.jsonl").toString(),
                "--eval", data.resolve("test.jsonl").toString(), "--format", "nf4", "--group-size", "32",
                "--qa-rank", "2", "--lora-rank", "2", "--steps", "3", "--batch", "8", "--max-length", "120",
                "--targets", "q_proj,v_proj", "--out", run.toString());
        assertThat(trained.code()).as(trained.err()).isZero();
    }

    @Test
    void trainWritesACausalLmPeftAdapterAndPerplexity() throws IOException {
        JsonNode cfg = JSON.readTree(run.resolve("adapter/adapter_config.json").toFile());
        assertThat(cfg.get("task_type").asText()).isEqualTo("CAUSAL_LM");
        assertThat(cfg.get("target_modules")).extracting(JsonNode::asText).containsExactly("q_proj", "v_proj");
        SafetensorsFile w = SafetensorsFile.open(run.resolve("adapter/adapter_model.safetensors"));
        assertThat(w.names()).hasSize(8).contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
        assertThat(w.get("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight").shape()).containsExactly(16, 2);
        JsonNode lm = JSON.readTree(run.resolve("lm.json").toFile());
        assertThat(lm.get("task").asText()).isEqualTo("causal-lm");
        assertThat(lm.get("format").asText()).isEqualTo("nf4");
        JsonNode m = JSON.readTree(run.resolve("metrics.json").toFile());
        assertThat(m.get("train_loss")).hasSize(3);
        double loss = m.get("eval").get("loss").asDouble();
        assertThat(m.get("eval").get("perplexity").asDouble()).isCloseTo(Math.exp(loss),
                org.assertj.core.data.Offset.offset(1e-6 * Math.exp(loss)));
        assertThat(m.get("eval").get("examples").asInt()).isEqualTo(8);   // 4 of 12 lose every answer token at 120
        // long messages are cut at 120 tokens; the truncation is reported, not silent
        assertThat(trained.err()).contains("warning: ").contains("were truncated");
    }

    @Test
    void evalReproducesTrainsPerplexityAndWritesGeneratedAnswers() throws IOException {
        Path gen = dir.resolve("answers.jsonl");
        CliErrorsTest.Result r = CliErrorsTest.run("eval", "--model", model.toString(), "--adapter", run.toString(),
                "--data", data.resolve("test.jsonl").toString(), "--generate", gen.toString(), "--max-new-tokens", "3");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = Files.readAllLines(gen);
        assertThat(lines).hasSize(12);
        JsonNode first = JSON.readTree(lines.get(0));
        assertThat(first.get("reference").asText()).startsWith("The ").endsWith(".");
        assertThat(first.get("generated_tokens").asInt()).isBetween(1, 3);
        assertThat(first.has("generated")).isTrue();
        assertThat(first.get("category").asText()).isNotEmpty();
    }

    @Test
    void aConversationWithoutAnAssistantTurnIsOneErrorLine() throws IOException {
        Path bad = dir.resolve("no-answer.jsonl");
        Files.writeString(bad, "{\"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}\n");
        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model", model.toString(), "--data", bad.toString(),
                "--out", dir.resolve("bad-run").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("error: " + bad + " line 1: the conversation has no assistant turn");
    }

    @Test
    void anUnrenderableChatTemplateIsOneErrorLine() {
        Path m = TinyDecoder.folder(dir.resolve("bad-template"), "{\"eos_token\": \"[SEP]\", \"chat_template\": "
                + "\"{% for m in messages %}{% if m.content.startswith('x') %}x{% endif %}{{ m.content }}{% endfor %}\"}");
        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model", m.toString(), "--data",
                data.resolve("train.jsonl").toString(), "--steps", "1", "--out", dir.resolve("bad-template-run").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).startsWith("error: the chat template (" + m.resolve("tokenizer_config.json")
                + ") uses a feature fedqlora's Jinja engine (Jinjava) cannot render: ").contains("startswith");
    }

    @Test
    void causalLmNeedsADecoder() throws IOException {
        CliErrorsTest.Result r = CliErrorsTest.run("train", "--model",
                org.fedqlora.testing.Fixtures.model("bert-tiny").toString(), "--data", data.resolve("train.jsonl").toString(),
                "--out", dir.resolve("bert-run").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("needs a decoder");
    }
}
