package org.fedqlora.fed.secagg;

/**
 * Fixed-point encoding of real vectors as integers mod 2^bits (see {@link SecAggConfig} for the range argument):
 * q = w · round(clamp(x, −clip, clip) / Δ) mod 2^bits, decoded as the signed value in [−2^{bits−1}, 2^{bits−1}).
 */
public final class FixedPoint {
    private FixedPoint() {
    }

    /**
     * Writes w · round(clamp(x_j) / step) mod 2^bits into out[offset + j].
     *
     * @return how many coordinates were outside [−clip, clip] and clamped
     */
    public static int encode(double[] x, long weight, double clip, double step, int bits, long[] out, int offset) {
        long mask = (1L << bits) - 1;
        int clamped = 0;
        for (int j = 0; j < x.length; j++) {
            double v = x[j];
            if (Double.isNaN(v)) {
                throw new IllegalArgumentException("coordinate " + j + " is NaN: a diverged update cannot be "
                        + "aggregated");
            }
            if (v > clip || v < -clip) {
                clamped++;
                v = Math.max(-clip, Math.min(clip, v));
            }
            out[offset + j] = (weight * Math.round(v / step)) & mask;
        }
        return clamped;
    }

    /** An integer mod 2^bits (non-negative, below 2^bits) as the signed value it encodes. */
    public static long signed(long word, int bits) {
        long half = 1L << (bits - 1);
        return word >= half ? word - (1L << bits) : word;
    }

    /** v mod 2^bits for a signed v. */
    public static long word(long v, int bits) {
        return v & ((1L << bits) - 1);
    }

    /** Bytes of one word on the wire: ⌈bits / 8⌉. */
    public static int wordBytes(int bits) {
        return (bits + 7) / 8;
    }

    /** words (each below 2^bits) as ⌈bits/8⌉ little-endian bytes each. */
    public static byte[] pack(long[] words, int bits) {
        int b = wordBytes(bits);
        byte[] out = new byte[words.length * b];
        for (int i = 0; i < words.length; i++) {
            long w = words[i];
            for (int k = 0; k < b; k++) {
                out[i * b + k] = (byte) (w >>> (8 * k));
            }
        }
        return out;
    }

    /** The words of {@link #pack}'s bytes; a word at or above 2^bits is an error. */
    public static long[] unpack(byte[] data, int bits, String what) {
        int b = wordBytes(bits);
        if (data.length % b != 0) {
            throw new SecAggException(what + ": " + data.length + " bytes is not a whole number of " + b
                    + "-byte words");
        }
        long[] out = new long[data.length / b];
        for (int i = 0; i < out.length; i++) {
            out[i] = word(data, i, bits, what);
        }
        return out;
    }

    /**
     * sum[i] = (sum[i] + unpack(data)[i]) mod 2^bits without unpacking into a second array (the server's running sum
     * of masked inputs). data must hold exactly sum.length words; a word at or above 2^bits is the same error as in
     * {@link #unpack}. Every word is checked before any is added, so on either error sum is left unchanged.
     */
    public static void addPacked(long[] sum, byte[] data, int bits, String what) {
        int b = wordBytes(bits);
        if (data.length != sum.length * b) {
            throw new SecAggException(what + ": " + data.length + " bytes for " + sum.length + " words of " + b
                    + " bytes");
        }
        int bad = firstWordNotBelow(data, bits);
        if (bad >= 0) {
            throw new SecAggException(what + ": word " + bad + " is not below 2^" + bits);
        }
        addWords(sum, data, bits);
    }

    /** The add of {@link #addPacked} for data already checked (whole words, each below 2^bits). */
    static void addWords(long[] sum, byte[] data, int bits) {
        long mask = (1L << bits) - 1;
        for (int i = 0; i < sum.length; i++) {
            sum[i] = (sum[i] + rawWord(data, i, bits)) & mask;
        }
    }

    /**
     * The index of the first word of packed data (whole words: ⌈bits/8⌉ bytes each) at or above 2^bits, or −1 if
     * every word is below it. Only the top byte of each word is read: a word is too large iff that byte has a bit set
     * at position bits − 8 · (⌈bits/8⌉ − 1) or higher (counting from 0), so when bits is a multiple of 8 none can be.
     */
    public static int firstWordNotBelow(byte[] data, int bits) {
        int b = wordBytes(bits);
        int topBits = bits - 8 * (b - 1); // bits of the word's value in its top byte, 1..8
        for (int i = 0; i < data.length / b; i++) {
            if ((data[i * b + b - 1] & 0xff) >>> topBits != 0) {
                return i;
            }
        }
        return -1;
    }

    /** Word i of packed data as sent (⌈bits/8⌉ little-endian bytes), not checked against 2^bits. */
    public static long rawWord(byte[] data, int i, int bits) {
        int b = wordBytes(bits);
        long w = 0;
        for (int k = 0; k < b; k++) {
            w |= (data[i * b + k] & 0xffL) << (8 * k);
        }
        return w;
    }

    /** Word i of packed data, checked to be below 2^bits. */
    private static long word(byte[] data, int i, int bits, String what) {
        long w = rawWord(data, i, bits);
        if (w >= 1L << bits) {
            throw new SecAggException(what + ": word " + i + " is not below 2^" + bits);
        }
        return w;
    }
}
