package org.fedqlora.quant;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BitPackingTest {

    /** k-bit codes of a length that is often not a multiple of 8 or 64. */
    record Codes(int bits, byte[] codes) {
    }

    @Provide
    Arbitrary<Codes> codes() {
        return Arbitraries.of(1, 2, 3, 4, 5, 7, 8).flatMap(bits -> Combinators.combine(
                        Arbitraries.just(bits),
                        Arbitraries.integers().between(0, (1 << bits) - 1).list().ofMaxSize(300))
                .as((k, list) -> {
                    byte[] b = new byte[list.size()];
                    for (int i = 0; i < b.length; i++) {
                        b[i] = (byte) (int) list.get(i);
                    }
                    return new Codes(k, b);
                }));
    }

    @Property
    void unpackInvertsPack(@ForAll("codes") Codes c) {
        // Execute
        byte[] packed = BitPacking.pack(c.codes(), c.bits());
        byte[] back = BitPacking.unpack(packed, c.bits(), c.codes().length);

        // Assert
        assertThat(packed).hasSize((c.codes().length * c.bits() + 7) / 8);
        assertThat(back).containsExactly(c.codes());
    }

    @Property
    void elementIOccupiesBitsIkToIkPlusK(@ForAll("codes") Codes c) {
        // Execute
        byte[] packed = BitPacking.pack(c.codes(), c.bits());

        // Assert: read each element back bit by bit from the little-endian bit stream
        for (int i = 0; i < c.codes().length; i++) {
            int v = 0;
            for (int j = 0; j < c.bits(); j++) {
                int bit = i * c.bits() + j;
                v |= ((packed[bit / 8] >>> (bit % 8)) & 1) << j;
            }
            assertThat(v).as("element %d", i).isEqualTo(c.codes()[i] & 0xFF);
        }
    }

    @Test
    void fourBitCodesPutTheEvenElementInTheLowNibble() {
        byte[] packed = BitPacking.pack(new byte[] {0x3, 0xA, 0xF}, 4);

        assertThat(packed).containsExactly((byte) 0xA3, (byte) 0x0F);
    }

    @Test
    void threeBitCodesCrossByteBoundaries() {
        // Prepare: codes 1..5 -> bits 001 010 011 100 101 from bit 0 upwards
        byte[] packed = BitPacking.pack(new byte[] {1, 2, 3, 4, 5}, 3);

        // Assert: byte 0 = 11 010 001, byte 1 = 0 101 100 0 (bit 0 = high bit of code 3), all read LSB first
        assertThat(packed).containsExactly((byte) 0b11010001, (byte) 0b01011000);
    }

    @Test
    void packRejectsACodeThatDoesNotFit() {
        assertThatThrownBy(() -> BitPacking.pack(new byte[] {0, 4}, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("code 4 at index 1 does not fit in 2 bits");
    }

    @Test
    void unpackRejectsAWrongByteCount() {
        assertThatThrownBy(() -> BitPacking.unpack(new byte[5], 3, 16))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16 codes of 3 bits take 6 bytes, got 5");
    }
}
