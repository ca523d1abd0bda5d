package org.fedqlora.cli;

import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Bad input gets a clear message and exit code 2, never a stack trace. */
class CliErrorsTest {
    @TempDir
    Path dir;

    record Result(int code, String err) {
    }

    static Result run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Result(code, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(old);
        }
    }

    private Result encode(Path model) {
        return run("encode", "--model", model.toString(), "--text", "hi", "--out", dir.resolve("o.json").toString());
    }

    @Test
    void missingFolder() {
        Result r = encode(dir.resolve("nope"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("does not exist").doesNotContain("\tat ");
    }

    @Test
    void folderWithoutConfig() {
        Result r = encode(dir);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("has no config.json").doesNotContain("\tat ");
    }

    @Test
    void unsupportedModelTypeListsTheSupportedOnes() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
        Result r = encode(dir);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("'gpt2' is not supported").contains("bert, distilbert");
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path m = copyBertTiny();
        new SafetensorsWriter().putFloats("embeddings.word_embeddings.weight", new float[4096 * 32], 4096, 32)
                .write(m.resolve("model.safetensors"));
        Result r = encode(m);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("missing tensor 'embeddings.position_embeddings.weight'").doesNotContain("\tat ");
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path m = copyBertTiny();
        Files.writeString(m.resolve("config.json"), Files.readString(m.resolve("config.json"))
                .replace("\"intermediate_size\": 64", "\"intermediate_size\": 65"));
        Result r = encode(m);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("tensor 'encoder.layer.0.intermediate.dense.bias' has shape [64], expected [65]");
    }

    @Test
    void emptyInputFile() throws IOException {
        Path in = Files.writeString(dir.resolve("in.txt"), "\n  \n");
        Result r = run("encode", "--model", Fixtures.model("bert-tiny").toString(), "--input", in.toString(),
                "--out", dir.resolve("o.json").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("is empty");
    }

    @Test
    void existingOutputIsNotOverwritten() throws IOException {
        Path out = Files.writeString(dir.resolve("o.json"), "precious");
        Result r = run("encode", "--model", Fixtures.model("bert-tiny").toString(), "--text", "x", "--out", out.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--overwrite");
        assertThat(Files.readString(out)).isEqualTo("precious");
    }

    @Test
    void unknownOptionSuggestsUsage() {
        Result r = run("encode", "--modle", "minilm", "--out", dir.resolve("o.json").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--modle");
    }

    @Test
    void encodeWritesEmbeddingsInInputOrder() throws IOException {
        Path out = dir.resolve("e.json");
        Result r = run("encode", "--model", Fixtures.model("bert-tiny").toString(), "--text", "Short one.",
                "--text", "A tiny model is enough for a test.", "--batch", "1", "--out", out.toString());
        assertThat(r.code()).isEqualTo(0);
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.toFile());
        assertThat(json.get("dimension").asInt()).isEqualTo(32);
        assertThat(json.get("embeddings")).hasSize(2);
        // sentence order is kept although batching sorts by length: compare with the fixture's 4th/3rd sentences
        float[] ref = Fixtures.expected("bert-tiny").get("sentence_embedding").toFloats();
        assertThat(json.get("embeddings").get(0).get(0).floatValue()).isCloseTo(ref[3 * 32], org.assertj.core.data.Offset.offset(1e-4f));
        assertThat(json.get("embeddings").get(1).get(0).floatValue()).isCloseTo(ref[2 * 32], org.assertj.core.data.Offset.offset(1e-4f));
    }

    private Path copyBertTiny() throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(Fixtures.model("bert-tiny").resolve(f), m.resolve(f));
        }
        return m;
    }
}
