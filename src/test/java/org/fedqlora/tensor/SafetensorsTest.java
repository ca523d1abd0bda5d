package org.fedqlora.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void writeThenReadRoundTripsEveryDtypeAndMetadata() throws IOException {
        Path f = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .putFloats("a", new float[] {1.5f, -2.25f, 3f, 0f, 1e-3f, 7f}, 2, 3)
                .put("ids", HostTensor.ofLongs(new long[] {1, 2, 3}, 3))
                .put("codes", HostTensor.ofBytes(DType.U8, new byte[] {(byte) 0xF3, 1}, 2))
                .put("i32", new HostTensor(DType.I32, new long[] {2}, le(8).putInt(7).putInt(-9).flip()))
                .put("scalar", HostTensor.ofFloats(new float[] {4f}))
                .metadata("format", "nf4")
                .write(f);

        SafetensorsFile r = SafetensorsFile.open(f);
        assertThat(r.names()).containsExactly("a", "ids", "codes", "i32", "scalar");
        assertThat(r.get("a").toFloats()).containsExactly(1.5f, -2.25f, 3f, 0f, 1e-3f, 7f);
        assertThat(r.get("a").shape()).containsExactly(2, 3);
        assertThat(r.get("ids").toLongs()).containsExactly(1, 2, 3);
        assertThat(r.get("codes").toLongs()).containsExactly(243, 1);
        assertThat(r.get("i32").toLongs()).containsExactly(7, -9);
        assertThat(r.get("scalar").shape()).isEmpty();
        assertThat(r.metadata()).containsEntry("format", "nf4");
        // header is padded to a multiple of 8 bytes, as the reference writer does
        long n = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n % 8).isZero();
    }

    @Test
    void halfAndBfloat16AreUpcastExactly() throws IOException {
        float[] values = {1f, -2.5f, 65504f, 6.1035156e-05f, 5.9604645e-08f, 0f, -0f, 0.333251953125f};
        ByteBuffer f16 = le(2 * values.length);
        ByteBuffer bf16 = le(2 * values.length);
        for (float v : values) {
            f16.putShort(Half.floatToF16(v));
            bf16.putShort(Half.floatToBf16(v));
        }
        Path f = dir.resolve("h.safetensors");
        new SafetensorsWriter()
                .put("h", new HostTensor(DType.F16, new long[] {values.length}, f16.flip()))
                .put("b", new HostTensor(DType.BF16, new long[] {values.length}, bf16.flip()))
                .write(f);

        SafetensorsFile r = SafetensorsFile.open(f);
        assertThat(r.get("h").toFloats()).containsExactly(values);
        float[] b = r.get("b").toFloats();
        for (int i = 0; i < values.length; i++) {
            // bf16 keeps 7 explicit mantissa bits: rounding error at most half an ulp, 2^-8 relative
            assertThat((double) Math.abs(b[i] - values[i])).isLessThanOrEqualTo(Math.abs(values[i]) / 256.0);
        }
    }

    @Test
    void float16ConversionMatchesTheStandardOnEveryBitPattern() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Half.f16ToFloat((short) bits);
            if (Float.isNaN(f)) {
                continue;
            }
            assertThat(Half.floatToF16(f)).as("bits %04x", bits).isEqualTo((short) bits);
        }
        assertThat(Half.f16ToFloat((short) 0x3C00)).isEqualTo(1f);
        assertThat(Half.f16ToFloat((short) 0x0001)).isEqualTo(5.9604645e-08f);
        assertThat(Half.floatToF16(1f + 1f / 2048)).isEqualTo((short) 0x3C00); // tie rounds to even
    }

    @Test
    void shardedCheckpointIsReadThroughItsIndex() throws IOException {
        new SafetensorsWriter().putFloats("x.weight", new float[] {1, 2}, 2).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().putFloats("y.weight", new float[] {3}, 1).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), """
                {"metadata": {"total_size": 12}, "weight_map": {
                  "x.weight": "model-00001-of-00002.safetensors",
                  "y.weight": "model-00002-of-00002.safetensors"}}""");

        Checkpoint c = Checkpoint.open(dir);

        assertThat(c.names()).containsExactlyInAnyOrder("x.weight", "y.weight");
        assertThat(c.get("y.weight").toFloats()).containsExactly(3f);
    }

    @Test
    void missingShardIsNamed() throws IOException {
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"x\": \"model-00001-of-00002.safetensors\"}}");

        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("model-00001-of-00002.safetensors");
    }

    @Test
    void missingTensorAndWrongShapeAreNamed() throws IOException {
        new SafetensorsWriter().putFloats("w", new float[6], 2, 3).write(dir.resolve("model.safetensors"));
        Checkpoint c = Checkpoint.open(dir);

        assertThatThrownBy(() -> c.require("v", 2, 3)).hasMessageContaining("missing tensor 'v'");
        assertThatThrownBy(() -> c.require("w", 3, 2)).hasMessageContaining("'w' has shape [2, 3], expected [3, 2]");
    }

    @Test
    void truncatedFileIsReportedAsCorrupt() throws IOException {
        Path f = dir.resolve("t.safetensors");
        new SafetensorsWriter().putFloats("w", new float[16], 16).write(f);
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length - 4));

        assertThatThrownBy(() -> SafetensorsFile.open(f)).hasMessageContaining("the file is truncated");
    }

    @Test
    void garbageIsNotMistakenForSafetensors() throws IOException {
        Path f = dir.resolve("g.safetensors");
        Files.write(f, "this is not a tensor file at all".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> SafetensorsFile.open(f)).hasMessageContaining("not safetensors");
    }

    @Test
    void writerNeverLeavesAPartialFileUnderTheFinalName() throws IOException {
        Path f = dir.resolve("w.safetensors");
        new SafetensorsWriter().putFloats("a", new float[] {1}, 1).write(f);
        new SafetensorsWriter().putFloats("a", new float[] {2}, 1).write(f);

        assertThat(SafetensorsFile.open(f).get("a").toFloats()).containsExactly(2f);
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("w.safetensors");
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

}
