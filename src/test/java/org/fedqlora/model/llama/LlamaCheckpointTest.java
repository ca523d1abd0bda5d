package org.fedqlora.model.llama;

import org.fedqlora.model.ModelFolder;
import org.fedqlora.nn.Compute;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.Half;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.testing.Decoders;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A decoder checkpoint in BF16, in two shards, gives exactly the logits of the same values in one F32 file. */
class LlamaCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void shardedBf16CheckpointGivesTheLogitsOfItsValuesInF32() throws IOException {
        Path src = Fixtures.model("llama-tiny");
        SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"));
        Path bf16 = Files.createDirectories(tmp.resolve("bf16"));
        Path f32 = Files.createDirectories(tmp.resolve("f32"));
        List<String> names = new ArrayList<>(f.names());
        SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
        SafetensorsWriter rounded = new SafetensorsWriter();
        StringBuilder map = new StringBuilder("{\"weight_map\": {");
        for (int i = 0; i < names.size(); i++) {
            HostTensor t = f.get(names.get(i));
            float[] v = t.toFloats();
            ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int j = 0; j < v.length; j++) {
                b.putShort(j * 2, Half.floatToBf16(v[j]));
                v[j] = Half.bf16ToFloat(Half.floatToBf16(v[j]));
            }
            shards[i % 2].put(names.get(i), HostTensor.ofBytes(DType.BF16, b.array(), t.shape()));
            rounded.putFloats(names.get(i), v, t.shape());
            map.append(i == 0 ? "" : ", ").append('"').append(names.get(i)).append("\": \"model-0000")
                    .append(i % 2 + 1).append("-of-00002.safetensors\"");
        }
        shards[0].write(bf16.resolve("model-00001-of-00002.safetensors"));
        shards[1].write(bf16.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(bf16.resolve("model.safetensors.index.json"), map.append("}}").toString());
        rounded.write(f32.resolve("model.safetensors"));
        for (Path d : List.of(bf16, f32)) {
            Files.copy(src.resolve("config.json"), d.resolve("config.json"));
            Files.copy(src.resolve("tokenizer.json"), d.resolve("tokenizer.json"));
        }

        float[] fromBf16 = logits(bf16);
        float[] fromF32 = logits(f32);

        assertThat(Fixtures.maxAbsDiff("sharded bf16 vs f32 logits", fromBf16, fromF32)).isZero();
    }

    private static float[] logits(Path dir) {
        long[] ids = Fixtures.expected("llama-tiny").get("input_ids").toLongs();
        return Decoders.logits(ModelFolder.open(dir, dir.toString()), ids, 12, Compute.FP32);
    }
}
