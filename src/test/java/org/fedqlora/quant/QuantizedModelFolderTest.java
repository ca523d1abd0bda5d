package org.fedqlora.quant;

import org.fedqlora.cli.Main;
import org.fedqlora.linalg.Svd;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.nn.Linear;
import org.fedqlora.tensor.SafetensorsFile;
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
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A quantized folder loads without the full-precision weights and gives the same model. */
class QuantizedModelFolderTest {
    @TempDir
    Path dir;

    @Test
    void savedFolderReloadsToTheSameQuantizedWeightsAndQaAdapter() throws IOException {
        ModelFolder src = ModelFolder.open(Fixtures.model("bert-tiny"), "bert-tiny");
        QuantizedBase base = new QuantizedBase(new QuantSpec(QuantFormat.NF3, 32, false), new QaSpec(4, QaSpec.Method.SVD, 1));
        float[] original;
        try (TextEncoder enc = TextEncoder.load(src, base, 0)) {
            original = enc.embed(Fixtures.sentences())[0];
        }
        QuantizedModelFolder.write(dir, src, base, QuantizedModelFolder.summary(base, 0));

        QuantizedBase reload = new QuantizedBase(QuantSpec.of(QuantFormat.FP32), QaSpec.none(),
                QuantizedBase.Residency.PACKED, List.of());
        ModelFolder q = ModelFolder.open(dir, dir.toString());
        try (TextEncoder enc = TextEncoder.load(q, reload, 0)) {
            assertThat(enc.embed(Fixtures.sentences())[0]).containsExactly(original);
            for (Linear l : enc.encoder().linears()) {
                assertThat(l.base()).isInstanceOf(PackedWeight.class);
                assertThat(l.base().residentBytes()).isEqualTo(base.layers().get(l.name()).base().storageBytes());
            }
        }
        // the folder never holds the fp32 linear weights
        SafetensorsFile saved = SafetensorsFile.open(dir.resolve("model.safetensors"));
        assertThat(saved.names()).doesNotContain("encoder.layer.0.attention.self.query.weight")
                .contains("encoder.layer.0.attention.self.query.weight.qweight");
        Map<String, Svd.LowRank> qa = QuantizedModelFolder.readQa(dir);
        assertThat(qa).hasSize(12);
        assertThat(qa.get("encoder.layer.0.attention.self.query").product())
                .containsExactly(base.layers().get("encoder.layer.0.attention.self.query").qa().product());
    }

    @Test
    void packedResidencyKeepsTheFormatsTrueSize() {
        ModelFolder src = ModelFolder.open(Fixtures.model("bert-tiny"), "bert-tiny");
        QuantizedBase packed = new QuantizedBase(new QuantSpec(QuantFormat.NF2, 32, false), QaSpec.none(),
                QuantizedBase.Residency.PACKED, List.of());
        try (TextEncoder enc = TextEncoder.load(src, packed, 0)) {
            long linears = enc.encoder().linears().stream().mapToLong(l -> l.base().residentBytes()).sum();
            long fp32 = enc.encoder().linears().stream().mapToLong(l -> 4L * l.in() * l.out()).sum();
            // NF2 at block 32 (bert-tiny rows are 32 long): 2 bits of code + 32 bits of absmax per 32 weights
            assertThat(linears * 8.0 / (fp32 / 4.0)).isEqualTo(3.0);
        }
    }

    @Test
    void corruptedQuantizedFolderIsAClearError() throws IOException {
        ModelFolder src = ModelFolder.open(Fixtures.model("bert-tiny"), "bert-tiny");
        QuantizedBase base = new QuantizedBase(new QuantSpec(QuantFormat.NF4, 32, false), QaSpec.none());
        try (TextEncoder ignored = TextEncoder.load(src, base, 0)) {
            QuantizedModelFolder.write(dir, src, base, QuantizedModelFolder.summary(base, 0));
        }
        // drop one tensor's statistics by rewriting the file without it
        SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"));
        SafetensorsWriter w = new SafetensorsWriter().metadata(f.metadata());
        f.names().stream().filter(n -> !n.equals("encoder.layer.1.output.dense.weight.absmax")).forEach(n -> w.put(n, f.get(n)));
        Path broken = Files.createDirectories(dir.resolve("broken"));
        w.write(broken.resolve("model.safetensors"));
        Files.copy(dir.resolve("config.json"), broken.resolve("config.json"));
        Files.copy(dir.resolve("tokenizer.json"), broken.resolve("tokenizer.json"));

        assertThatThrownBy(() -> TextEncoder.load(ModelFolder.open(broken, "b"), new QuantizedBase(QuantSpec.of(QuantFormat.NF4), QaSpec.none()), 0))
                .hasMessageContaining("encoder.layer.1.output.dense.weight.absmax");
    }

    @Test
    void quantizeCommandRejectsUnknownFormatAndBadGroupSizeWithExitCode2() {
        assertThat(run("quantize", "--model", Fixtures.model("bert-tiny").toString(), "--format", "nf5"))
                .startsWith("2:").contains("nf2").contains("int8");
        assertThat(run("quantize", "--model", Fixtures.model("bert-tiny").toString(), "--format", "nf4", "--group-size", "48"))
                .startsWith("2:").contains("does not divide");
        assertThat(run("quantize", "--model", Fixtures.model("bert-tiny").toString(), "--format", "nf4", "--group-size", "32", "--qa-rank", "40"))
                .startsWith("2:").contains("larger than min(out, in)");
    }

    @Test
    void quantizeCommandJsonReportsEveryLayer() throws IOException {
        String out = run("quantize", "--model", Fixtures.model("bert-tiny").toString(), "--format", "int4", "--group-size", "32", "--qa-rank", "4",
                "--json", "--out", dir.resolve("q").toString());
        assertThat(out).startsWith("0:");
        assertThat(Files.exists(dir.resolve("q/qa_adapter.safetensors"))).isTrue();
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("q/quantization.json").toFile());
        assertThat(json.get("layers")).hasSize(12);
        assertThat(json.get("bits_per_weight").asDouble()).isEqualTo(6.0); // 4 + 64 bits of lo/scale per 32
        assertThat(json.get("total_relative_error_with_qa").asDouble()).isLessThan(json.get("total_relative_error").asDouble());
    }

    /** Runs the CLI; returns "code:" + stderr. */
    static String run(String... args) {
        PrintStream old = System.err;
        PrintStream oldOut = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            return Main.run(args) + ":" + buf.toString(StandardCharsets.UTF_8);
        } finally {
            System.setErr(old);
            System.setOut(oldOut);
        }
    }

}
