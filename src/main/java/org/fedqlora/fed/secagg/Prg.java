package org.fedqlora.fed.secagg;

import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;

/**
 * The mask generator: AES-256 in counter mode (NIST SP 800-38A) keyed by a 32-byte seed, counter block starting at
 * zero, read as little-endian 64-bit words of which the low {@code bits} are kept, so word j of the mask is uniform
 * in [0, 2^bits). Each seed is used for one mask only (seeds are fresh per round and per purpose).
 */
final class Prg {
    private static final int CHUNK_WORDS = 8192;

    private Prg() {
    }

    /**
     * acc[j] ← (acc[j] + sign · PRG(seed)[j]) mod 2^bits for j in 0..acc.length−1.
     *
     * @param sign +1 or −1
     */
    static void addMask(long[] acc, byte[] seed, int sign, int bits) {
        long mask = bits == 64 ? -1L : (1L << bits) - 1;
        try {
            Cipher aes = Cipher.getInstance("AES/CTR/NoPadding");
            aes.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(seed, "AES"), new IvParameterSpec(new byte[16]));
            byte[] zeros = new byte[8 * CHUNK_WORDS];
            byte[] out = new byte[8 * CHUNK_WORDS];
            for (int start = 0; start < acc.length; start += CHUNK_WORDS) {
                int words = Math.min(CHUNK_WORDS, acc.length - start);
                int n = aes.update(zeros, 0, 8 * words, out, 0);
                if (n != 8 * words) {
                    throw new IllegalStateException("AES-CTR returned " + n + " bytes, expected " + 8 * words);
                }
                ByteBuffer buf = ByteBuffer.wrap(out, 0, 8 * words).order(ByteOrder.LITTLE_ENDIAN);
                for (int j = 0; j < words; j++) {
                    long r = buf.getLong();
                    acc[start + j] = (sign > 0 ? acc[start + j] + r : acc[start + j] - r) & mask;
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CTR is missing from this JDK", e);
        }
    }

    /** PRG(seed) as {@code length} words of {@code bits} bits. */
    static long[] expand(byte[] seed, int length, int bits) {
        long[] out = new long[length];
        addMask(out, seed, 1, bits);
        return out;
    }
}
