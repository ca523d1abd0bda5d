package org.fedqlora.fed.secagg;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Shamir's t-of-n secret sharing over the prime field GF(p), p = 2^521 − 1 (a Mersenne prime), for secrets of up to
 * 64 bytes (a 32-byte X25519 private key or PRG seed fits with room to spare).
 * <pre>
 *   split:        f(x) = s + a_1 x + … + a_{t−1} x^{t−1}  (a_i uniform in GF(p)),  share_j = (x_j, f(x_j)), x_j ≥ 1
 *   reconstruct:  s = f(0) = Σ_j y_j Π_{m≠j} x_m / (x_m − x_j)     (Lagrange at 0, from any t shares)
 * </pre>
 * Any t − 1 shares are independent of s (perfect secrecy). Given more than t shares, {@link #reconstruct} also checks
 * that every extra share lies on the polynomial through the first t, so a corrupted or substituted share is detected
 * instead of silently giving a wrong secret. Shares travel as {@link #SHARE_BYTES} big-endian bytes.
 */
public final class Shamir {
    /** p = 2^521 − 1. */
    public static final BigInteger P = BigInteger.ONE.shiftLeft(521).subtract(BigInteger.ONE);
    /** Bytes of one encoded share value (521 bits). */
    public static final int SHARE_BYTES = 66;
    /** Longest secret: 64 bytes (512 bits) is below p. */
    public static final int MAX_SECRET_BYTES = 64;

    private Shamir() {
    }

    /**
     * Splits {@code secret} into shares at the points {@code xs} (distinct, in 1..p−1), any {@code t} of which
     * reconstruct it.
     *
     * @return x → f(x)
     */
    public static SortedMap<Integer, BigInteger> split(byte[] secret, int t, int[] xs, SecureRandom random) {
        if (secret.length == 0 || secret.length > MAX_SECRET_BYTES) {
            throw new IllegalArgumentException("a Shamir secret has 1.." + MAX_SECRET_BYTES + " bytes, got "
                    + secret.length);
        }
        if (t < 1 || t > xs.length) {
            throw new IllegalArgumentException("threshold " + t + " must be in 1.." + xs.length
                    + " (the number of shares)");
        }
        if (Arrays.stream(xs).distinct().count() != xs.length || Arrays.stream(xs).anyMatch(x -> x < 1)) {
            throw new IllegalArgumentException("share points must be distinct and ≥ 1, got " + Arrays.toString(xs));
        }
        BigInteger[] coefficients = new BigInteger[t];
        coefficients[0] = new BigInteger(1, secret);
        for (int i = 1; i < t; i++) {
            coefficients[i] = uniform(random);
        }
        SortedMap<Integer, BigInteger> shares = new TreeMap<>();
        for (int x : xs) {
            shares.put(x, evaluate(coefficients, BigInteger.valueOf(x)));
        }
        return shares;
    }

    /**
     * The secret from at least {@code t} shares (x → y), as {@code length} bytes.
     *
     * @throws SecAggException if there are fewer than t shares, or a share beyond the first t is inconsistent
     *                         with them (a tampered share), or the secret does not fit in {@code length} bytes
     */
    public static byte[] reconstruct(Map<Integer, BigInteger> shares, int t, int length, String what) {
        if (shares.size() < t) {
            throw new SecAggException(what + ": " + shares.size() + " shares but the threshold is " + t);
        }
        TreeMap<Integer, BigInteger> sorted = new TreeMap<>(shares);
        int[] xs = sorted.keySet().stream().mapToInt(Integer::intValue).limit(t).toArray();
        BigInteger[] ys = sorted.values().stream().limit(t).toArray(BigInteger[]::new);
        for (BigInteger y : sorted.values()) {
            if (y.signum() < 0 || y.compareTo(P) >= 0) {
                throw new SecAggException(what + ": a share value is outside the field GF(2^521 − 1)");
            }
        }
        BigInteger secret = interpolate(xs, ys, BigInteger.ZERO);
        for (Map.Entry<Integer, BigInteger> extra : sorted.tailMap(xs[t - 1], false).entrySet()) {
            if (!interpolate(xs, ys, BigInteger.valueOf(extra.getKey())).equals(extra.getValue())) {
                throw new SecAggException(what + ": the share of holder x=" + extra.getKey()
                        + " is inconsistent with the others (tampered or corrupted share)");
            }
        }
        if (secret.bitLength() > 8 * length) {
            throw new SecAggException(what + ": the shares reconstruct a value longer than " + length
                    + " bytes (tampered or corrupted shares)");
        }
        return toBytes(secret, length);
    }

    /** A share value as {@link #SHARE_BYTES} big-endian bytes. */
    public static byte[] encode(BigInteger y) {
        return toBytes(y, SHARE_BYTES);
    }

    /** The share value of {@link #encode}'s bytes. */
    public static BigInteger decode(byte[] bytes) {
        if (bytes.length != SHARE_BYTES) {
            throw new SecAggException("a share has " + bytes.length + " bytes, expected " + SHARE_BYTES);
        }
        return new BigInteger(1, bytes);
    }

    /** f(x) by Horner's rule, mod p. */
    private static BigInteger evaluate(BigInteger[] coefficients, BigInteger x) {
        BigInteger y = BigInteger.ZERO;
        for (int i = coefficients.length - 1; i >= 0; i--) {
            y = y.multiply(x).add(coefficients[i]).mod(P);
        }
        return y;
    }

    /** The polynomial through (xs, ys) evaluated at z (Lagrange), mod p. */
    private static BigInteger interpolate(int[] xs, BigInteger[] ys, BigInteger z) {
        BigInteger sum = BigInteger.ZERO;
        for (int j = 0; j < xs.length; j++) {
            BigInteger num = BigInteger.ONE;
            BigInteger den = BigInteger.ONE;
            BigInteger xj = BigInteger.valueOf(xs[j]);
            for (int m = 0; m < xs.length; m++) {
                if (m != j) {
                    BigInteger xm = BigInteger.valueOf(xs[m]);
                    num = num.multiply(z.subtract(xm)).mod(P);
                    den = den.multiply(xj.subtract(xm)).mod(P);
                }
            }
            sum = sum.add(ys[j].multiply(num).multiply(den.modInverse(P))).mod(P);
        }
        return sum;
    }

    private static BigInteger uniform(SecureRandom random) {
        BigInteger r;
        do {
            r = new BigInteger(521, random);
        } while (r.compareTo(P) >= 0);
        return r;
    }

    private static byte[] toBytes(BigInteger value, int length) {
        byte[] raw = value.toByteArray();
        int skip = raw.length > length && raw[0] == 0 ? 1 : 0;
        if (raw.length - skip > length) {
            throw new IllegalArgumentException("value needs " + (raw.length - skip) + " bytes, more than " + length);
        }
        byte[] out = new byte[length];
        System.arraycopy(raw, skip, out, length - (raw.length - skip), raw.length - skip);
        return out;
    }
}
