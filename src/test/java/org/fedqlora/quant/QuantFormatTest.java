package org.fedqlora.quant;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QuantFormatTest {

    @Test
    void parseAcceptsLowerAndUpperCaseNames() {
        // Execute / Assert
        assertThat(QuantFormat.parse("nf4")).isEqualTo(QuantFormat.NF4);
        assertThat(QuantFormat.parse(" INT8 ")).isEqualTo(QuantFormat.INT8);
        assertThat(QuantFormat.parse("bf16")).isEqualTo(QuantFormat.BF16);
        assertThat(QuantFormat.parse("fp32")).isEqualTo(QuantFormat.FP32);
    }

    @Test
    void parseOfAnUnknownNameListsTheValidOnes() {
        assertThatThrownBy(() -> QuantFormat.parse("nf5"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'nf5'")
                .hasMessageContaining("nf2, nf3, nf4, int2, int3, int4, int8, fp32, bf16");
    }

    @Test
    void blockOf64WeightsHasTheDocumentedByteSize() {
        // Prepare: the table in QuantFormat's documentation
        Map<QuantFormat, Long> expected = Map.of(
                QuantFormat.NF2, 20L, QuantFormat.NF3, 28L, QuantFormat.NF4, 36L,
                QuantFormat.INT2, 24L, QuantFormat.INT3, 32L, QuantFormat.INT4, 40L, QuantFormat.INT8, 72L,
                QuantFormat.FP32, 256L, QuantFormat.BF16, 128L);

        // Execute / Assert
        for (QuantFormat f : QuantFormat.values()) {
            assertThat(f.bytesPerBlock(64)).as(f.id()).isEqualTo(expected.get(f));
        }
    }

    @Test
    void storageOfAQuantizedTensorIsItsBlocksTimesTheBlockSize() {
        // Prepare
        float[] w = QuantFixture.gaussian(32 * 128, 5);

        for (QuantFormat f : QuantFormat.values()) {
            // Execute
            QuantizedTensor q = Quantizer.quantize("w", w, 32, 128, QuantSpec.of(f));

            // Assert: 64 blocks of 64 weights
            assertThat(q.storageBytes()).as(f.id()).isEqualTo(64 * f.bytesPerBlock(64));
            assertThat(q.bitsPerWeight()).as(f.id()).isEqualTo(8.0 * f.bytesPerBlock(64) / 64);
            assertThat(q.residentBytes()).as(f.id()).isEqualTo(q.storageBytes());
        }
    }

    @Test
    void doubleQuantNf4CostsAbout4point127BitsPerWeight() {
        // Prepare: 1024 blocks of 64 = 4 groups of 256 blocks
        float[] w = QuantFixture.gaussian(256 * 256, 6);

        // Execute
        QuantizedTensor q = Quantizer.quantize("w", w, 256, 256, new QuantSpec(QuantFormat.NF4, 64, true));

        // Assert: 32 KiB codes + 1024 u8 absmax + 4 fp32 group scales + 1 fp32 offset
        assertThat(q.storageBytes()).isEqualTo(32768 + 1024 + 4 * 4 + 4);
        assertThat(q.residentBytes()).isEqualTo(q.storageBytes());
        System.out.printf("nf4 double quant: %.5f bits/weight%n", q.bitsPerWeight());
        assertThat(q.bitsPerWeight()).isBetween(4.127, 4.128);
    }

    @Test
    void doubleQuantIsRejectedForFormatsWithoutAbsmax() {
        assertThatThrownBy(() -> new QuantSpec(QuantFormat.INT4, 64, true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("int4")
                .hasMessageContaining("nf4");
    }
}
