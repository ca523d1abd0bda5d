package org.fedqlora.quant;

import org.fedqlora.tensor.Checkpoint;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.MapTensorSource;
import org.fedqlora.tensor.SafetensorsException;
import org.fedqlora.tensor.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QuantizedTensorIOTest {
    private static final String PREFIX = "encoder.layer.0.attention.self.query.weight";

    @Test
    void everyFormatSurvivesAQuantizedModelFolderOnDisk(@TempDir Path dir) throws IOException {
        // Prepare: one file with a tensor per format (and nf4 with double quantization)
        float[] w = QuantFixture.gaussian(32 * 128, 11);
        Map<String, QuantizedTensor> saved = new HashMap<>();
        SafetensorsWriter writer = new SafetensorsWriter();
        for (QuantSpec spec : allSpecs()) {
            String prefix = PREFIX + "." + spec.format().id() + (spec.doubleQuant() ? "_dq" : "");
            QuantizedTensor q = Quantizer.quantize(prefix, w, 32, 128, spec);
            q.toTensors(prefix).addTo(writer);
            saved.put(prefix, q);
        }

        // Execute
        writer.write(dir.resolve("model.safetensors"));
        Checkpoint folder = Checkpoint.open(dir);

        // Assert: same format, shape, bytes and decoded values, without the full-precision weight
        for (var e : saved.entrySet()) {
            QuantizedTensor back = QuantizedTensor.fromTensors(e.getKey(), folder, folder.metadata());
            QuantizedTensor q = e.getValue();
            assertThat(back.format()).isEqualTo(q.format());
            assertThat(back.doubleQuant()).isEqualTo(q.doubleQuant());
            assertThat(back.rows()).isEqualTo(32);
            assertThat(back.cols()).isEqualTo(128);
            assertThat(back.blockSize()).isEqualTo(q.blockSize());
            assertThat(back.storageBytes()).isEqualTo(q.storageBytes());
            assertThat(back.dequantize()).as(e.getKey()).containsExactly(q.dequantize());
            assertThat(QuantizedTensor.isSaved(e.getKey(), folder.metadata())).isTrue();
        }
        assertThat(QuantizedTensor.isSaved(PREFIX, folder.metadata())).isFalse();
    }

    @Test
    void savedTensorsHoldExactlyTheStorageBytes() {
        float[] w = QuantFixture.gaussian(32 * 128, 12);

        for (QuantSpec spec : allSpecs()) {
            QuantizedTensor q = Quantizer.quantize("w", w, 32, 128, spec);

            long bytes = q.toTensors("w").tensors().values().stream().mapToLong(HostTensor::byteSize).sum();

            assertThat(bytes).as(q.toString()).isEqualTo(q.storageBytes());
        }
    }

    @Test
    void aNewerFormatVersionAsksToUpgrade() {
        // Prepare
        QuantizedTensor.Parts parts = Quantizer.quantize("w", new float[64], 1, 64, QuantSpec.of(QuantFormat.NF4))
                .toTensors(PREFIX);
        Map<String, String> metadata = new HashMap<>(parts.metadata());
        metadata.put(PREFIX + ".quant.version", "2");

        // Execute / Assert
        assertThatThrownBy(() -> QuantizedTensor.fromTensors(PREFIX, new MapTensorSource("model.safetensors",
                parts.tensors()), metadata))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("'" + PREFIX + "'")
                .hasMessageContaining("written by a newer fedqlora (format version 2, this build reads 1): upgrade");
    }

    @Test
    void codesOfTheWrongLengthAreReportedWithTheTensorName() {
        // Prepare: nf4 metadata over int8 codes (twice as many bytes)
        float[] w = QuantFixture.gaussian(4 * 64, 13);
        QuantizedTensor.Parts nf4 = Quantizer.quantize("w", w, 4, 64, QuantSpec.of(QuantFormat.NF4))
                .toTensors(PREFIX);
        QuantizedTensor.Parts int8 = Quantizer.quantize("w", w, 4, 64, QuantSpec.of(QuantFormat.INT8))
                .toTensors(PREFIX);
        Map<String, HostTensor> tensors = new HashMap<>(nf4.tensors());
        tensors.put(PREFIX + ".qweight", int8.tensors().get(PREFIX + ".qweight"));

        // Execute / Assert
        assertThatThrownBy(() -> QuantizedTensor.fromTensors(PREFIX, new MapTensorSource("model.safetensors", tensors),
                nf4.metadata()))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("tensor '" + PREFIX + ".qweight' is U8[256] (256 bytes)")
                .hasMessageContaining("needs U8[128] (128 bytes)");
    }

    @Test
    void aMissingPieceIsReportedWithTheTensorName() {
        QuantizedTensor.Parts parts = Quantizer.quantize("w", new float[64], 1, 64,
                new QuantSpec(QuantFormat.NF4, 64, true)).toTensors(PREFIX);
        Map<String, HostTensor> tensors = new HashMap<>(parts.tensors());
        tensors.remove(PREFIX + ".absmax_scale");

        assertThatThrownBy(() -> QuantizedTensor.fromTensors(PREFIX, new MapTensorSource("model.safetensors", tensors),
                parts.metadata()))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("missing tensor '" + PREFIX + ".absmax_scale'");
    }

    @Test
    void missingMetadataSaysWhatWasExpected() {
        QuantizedTensor.Parts parts = Quantizer.quantize("w", new float[64], 1, 64, QuantSpec.of(QuantFormat.INT4))
                .toTensors(PREFIX);

        assertThatThrownBy(() -> QuantizedTensor.fromTensors(PREFIX, new MapTensorSource("model.safetensors",
                parts.tensors()), Map.of()))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageContaining("metadata key '" + PREFIX + ".quant.version' is missing");
    }

    private static List<QuantSpec> allSpecs() {
        List<QuantSpec> specs = new ArrayList<>();
        for (QuantFormat f : QuantFormat.values()) {
            specs.add(QuantSpec.of(f));
        }
        specs.add(new QuantSpec(QuantFormat.NF4, 64, true));
        specs.add(new QuantSpec(QuantFormat.NF3, 32, true));
        return specs;
    }
}
