package org.fedqlora.quant;

/**
 * Dense packing of k-bit codes (k = 1..8) into bytes.
 *
 * <p>Bit order: element i occupies bits [i*k, i*k + k) of a little-endian bit stream, where bit j of the stream
 * is bit (j mod 8) of byte j / 8 (bit 0 = least significant). Codes therefore cross byte boundaries when k does
 * not divide 8 (k = 3: element 2 is bits 6..7 of byte 0 and bit 0 of byte 1); for k = 4 the even element is the
 * low nibble. n codes take ceil(n*k / 8) bytes; the unused high bits of the last byte are zero.
 */
public final class BitPacking {
    private BitPacking() {
    }

    /** Bytes that n codes of k bits take. */
    public static long packedBytes(long count, int bits) {
        checkBits(bits);
        return (count * bits + 7) / 8;
    }

    /** Packs codes (unsigned bytes, each below 2^bits) into ceil(n*bits/8) bytes. */
    public static byte[] pack(byte[] codes, int bits) {
        checkBits(bits);
        byte[] out = new byte[Math.toIntExact(packedBytes(codes.length, bits))];
        int limit = 1 << bits;
        long acc = 0;
        int accBits = 0;
        int dst = 0;
        for (int i = 0; i < codes.length; i++) {
            int c = codes[i] & 0xFF;
            if (c >= limit) {
                throw new IllegalArgumentException("code " + c + " at index " + i + " does not fit in " + bits
                        + " bits");
            }
            acc |= (long) c << accBits;
            accBits += bits;
            while (accBits >= 8) {
                out[dst++] = (byte) acc;
                acc >>>= 8;
                accBits -= 8;
            }
        }
        if (accBits > 0) {
            out[dst] = (byte) acc;
        }
        return out;
    }

    /** Unpacks count codes of k bits, one unsigned code per output byte. */
    public static byte[] unpack(byte[] packed, int bits, int count) {
        long need = packedBytes(count, bits);
        if (packed.length != need) {
            throw new IllegalArgumentException(count + " codes of " + bits + " bits take " + need
                    + " bytes, got " + packed.length);
        }
        byte[] out = new byte[count];
        int mask = (1 << bits) - 1;
        long acc = 0;
        int accBits = 0;
        int src = 0;
        for (int i = 0; i < count; i++) {
            if (accBits < bits) {
                acc |= (long) (packed[src++] & 0xFF) << accBits;
                accBits += 8;
            }
            out[i] = (byte) (acc & mask);
            acc >>>= bits;
            accBits -= bits;
        }
        return out;
    }

    private static void checkBits(int bits) {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("bits per code must be 1..8, got " + bits);
        }
    }
}
