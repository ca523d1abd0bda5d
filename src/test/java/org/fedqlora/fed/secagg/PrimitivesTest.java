package org.fedqlora.fed.secagg;

import org.junit.jupiter.api.Test;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The protocol's primitives against published test vectors and closed forms. */
class PrimitivesTest {
    private static final HexFormat HEX = HexFormat.of();

    /** RFC 7748 §6.1: Alice's and Bob's X25519 keys and their shared secret. */
    @Test
    void x25519MatchesRfc7748Vectors() {
        byte[] a = HEX.parseHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        byte[] b = HEX.parseHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        byte[] aPub = HEX.parseHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        byte[] bPub = HEX.parseHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        byte[] shared = HEX.parseHex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

        assertThat(Crypto.publicKey(a)).isEqualTo(aPub);
        assertThat(Crypto.publicKey(b)).isEqualTo(bPub);
        assertThat(Crypto.x25519(a, bPub)).isEqualTo(shared);
        assertThat(Crypto.x25519(b, aPub)).isEqualTo(shared);
    }

    @Test
    void x25519RejectsASmallOrderPublicKey() {
        byte[] zero = new byte[32]; // u = 0 has order 4: the shared secret would be all zero
        assertThatThrownBy(() -> Crypto.x25519(Crypto.randomKey(new SecureRandom()), zero))
                .isInstanceOf(SecAggException.class).hasMessageContaining("small-order");
    }

    /** Wikipedia's worked example: f(x) = 1234 + 166x + 94x², shares (2, 1942), (4, 3402), (5, 4414). */
    @Test
    void shamirReconstructsThePublishedExample() {
        Map<Integer, BigInteger> shares = Map.of(2, BigInteger.valueOf(1942), 4, BigInteger.valueOf(3402),
                5, BigInteger.valueOf(4414));
        byte[] secret = Shamir.reconstruct(shares, 3, 2, "example");
        assertThat(new BigInteger(1, secret)).isEqualTo(BigInteger.valueOf(1234));
    }

    @Test
    void shamirAnyThresholdSubsetReconstructsAndFewerFail() throws Exception {
        SecureRandom random = seeded(7);
        byte[] secret = Crypto.randomKey(random);
        SortedMap<Integer, BigInteger> shares = Shamir.split(secret, 3, new int[] {1, 2, 3, 4, 5}, random);

        for (int[] subset : new int[][] {{1, 2, 3}, {1, 4, 5}, {2, 3, 5}, {3, 4, 5}}) {
            Map<Integer, BigInteger> some = new TreeMap<>();
            for (int x : subset) {
                some.put(x, shares.get(x));
            }
            assertThat(Shamir.reconstruct(some, 3, 32, "s")).isEqualTo(secret);
        }
        Map<Integer, BigInteger> two = Map.of(1, shares.get(1), 2, shares.get(2));
        assertThatThrownBy(() -> Shamir.reconstruct(two, 3, 32, "s")).isInstanceOf(SecAggException.class)
                .hasMessageContaining("threshold is 3");
    }

    @Test
    void shamirDetectsAnInconsistentExtraShare() throws Exception {
        SecureRandom random = seeded(8);
        SortedMap<Integer, BigInteger> shares = Shamir.split(Crypto.randomKey(random), 2, new int[] {1, 2, 3}, random);
        Map<Integer, BigInteger> tampered = new TreeMap<>(shares);
        tampered.put(3, shares.get(3).add(BigInteger.ONE).mod(Shamir.P));

        assertThatThrownBy(() -> Shamir.reconstruct(tampered, 2, 32, "seed of c1"))
                .isInstanceOf(SecAggException.class).hasMessageContaining("inconsistent");
    }

    /** AES-CTR from a zero counter block: word j is bytes 8j..8j+7 of AES_k(0) ‖ AES_k(1) ‖ …, little-endian. */
    @Test
    void prgIsAesCtrFromCounterZero() throws Exception {
        byte[] seed = HEX.parseHex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"); // SP 800-38A key
        Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
        ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(seed, "AES"));
        byte[] counters = new byte[32];
        counters[31] = 1; // blocks 0 and 1
        ByteBuffer stream = ByteBuffer.wrap(ecb.doFinal(counters)).order(ByteOrder.LITTLE_ENDIAN);

        long[] words = Prg.expand(seed, 4, 62);

        for (int j = 0; j < 4; j++) {
            assertThat(words[j]).isEqualTo(stream.getLong() & ((1L << 62) - 1));
        }
    }

    @Test
    void gcmRejectsTamperedCiphertextAndOtherAssociatedData() {
        SecureRandom random = new SecureRandom();
        byte[] key = Crypto.randomKey(random);
        byte[] aad = "s|a|b".getBytes(StandardCharsets.UTF_8);
        byte[] sealed = Crypto.seal(key, new byte[] {1, 2, 3}, aad, random);
        assertThat(Crypto.open(key, sealed, aad, "t")).containsExactly(1, 2, 3);

        byte[] flipped = sealed.clone();
        flipped[flipped.length - 1] ^= 1;
        assertThatThrownBy(() -> Crypto.open(key, flipped, aad, "t")).hasMessageContaining("authentication failed");
        assertThatThrownBy(() -> Crypto.open(key, sealed, "s|a|c".getBytes(StandardCharsets.UTF_8), "t"))
                .hasMessageContaining("authentication failed");
    }

    @Test
    void fixedPointRoundTripsSignedWordsAndPacking() {
        long[] words = {0, 1, (1L << 31) - 1, FixedPoint.word(-1, 32), FixedPoint.word(-(1L << 31), 32)};
        assertThat(FixedPoint.unpack(FixedPoint.pack(words, 32), 32, "w")).containsExactly(words);
        assertThat(FixedPoint.signed(words[3], 32)).isEqualTo(-1);
        assertThat(FixedPoint.signed(words[4], 32)).isEqualTo(-(1L << 31));
        assertThat(FixedPoint.pack(words, 40)).hasSize(5 * 5);
    }

    @Test
    void graphIsRegularSymmetricAndCompleteWhenKIsLarge() {
        var clients = java.util.stream.IntStream.range(0, 20).mapToObj(i -> String.format("c%02d", i)).toList();
        NeighbourGraph g = NeighbourGraph.of(clients, 6, new byte[32]);
        for (String u : clients) {
            assertThat(g.neighbours(u)).hasSize(6).doesNotContain(u);
            for (String v : g.neighbours(u)) {
                assertThat(g.neighbours(v)).contains(u);
            }
        }
        assertThat(g.connected(new java.util.TreeSet<>(clients))).isTrue();
        NeighbourGraph full = NeighbourGraph.of(clients, 40, new byte[32]);
        assertThat(full.neighbours("c00")).hasSize(19);
        assertThat(NeighbourGraph.defaultNeighbours(50)).isEqualTo(14);
        assertThat(NeighbourGraph.defaultNeighbours(10)).isEqualTo(9);
        assertThatThrownBy(() -> NeighbourGraph.of(clients, 5, new byte[32])).hasMessageContaining("even");
    }

    static SecureRandom seeded(long seed) throws Exception {
        SecureRandom r = SecureRandom.getInstance("SHA1PRNG");
        r.setSeed(seed);
        return r;
    }
}
