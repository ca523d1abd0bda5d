package org.fedqlora.fed.secagg;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.NamedParameterSpec;
import java.security.spec.XECPrivateKeySpec;
import java.security.spec.XECPublicKeySpec;
import java.util.Arrays;

/**
 * The cryptographic primitives of the protocol, all from the JDK (SunEC XDH, SunJCE AES):
 * <ul>
 *   <li>X25519 key agreement (RFC 7748): a private key is 32 random bytes (the scalar, clamped by X25519), a
 *       public key the 32-byte little-endian u-coordinate; {@link #publicKey} is X25519(sk, 9).</li>
 *   <li>Key derivation: {@code SHA-256(label ‖ 0x00 ‖ context ‖ 0x00 ‖ shared secret)}, a different label per use
 *       (pairwise mask seed, share encryption key), the context binding the session.</li>
 *   <li>AES-256-GCM (128-bit tag, random 96-bit nonce sent in front of the ciphertext) with associated data, so a
 *       ciphertext only decrypts for the (session, sender, receiver) it was made for.</li>
 * </ul>
 */
final class Crypto {
    static final int KEY_BYTES = 32;
    static final int NONCE_BYTES = 12;
    static final int TAG_BITS = 128;
    private static final byte[] BASE_POINT = new byte[KEY_BYTES];

    static {
        BASE_POINT[0] = 9;
    }

    private Crypto() {
    }

    /** 32 fresh random bytes: an X25519 private key or a PRG seed. */
    static byte[] randomKey(SecureRandom random) {
        byte[] k = new byte[KEY_BYTES];
        random.nextBytes(k);
        return k;
    }

    /** The X25519 public key of private key {@code sk}: X25519(sk, 9). */
    static byte[] publicKey(byte[] sk) {
        return x25519(sk, BASE_POINT);
    }

    /**
     * X25519(sk, pk): the shared secret of two parties.
     *
     * @throws SecAggException if {@code pk} is malformed or of small order (the shared secret would be zero)
     */
    static byte[] x25519(byte[] sk, byte[] pk) {
        if (sk.length != KEY_BYTES || pk.length != KEY_BYTES) {
            throw new SecAggException("X25519 keys have " + KEY_BYTES + " bytes, got " + sk.length + " and "
                    + pk.length);
        }
        try {
            KeyFactory factory = KeyFactory.getInstance("XDH");
            PrivateKey priv = factory.generatePrivate(new XECPrivateKeySpec(NamedParameterSpec.X25519, sk));
            byte[] le = pk.clone();
            le[KEY_BYTES - 1] &= 0x7f; // RFC 7748 §5: the top bit of u is ignored
            PublicKey pub = factory.generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519,
                    new BigInteger(1, reverse(le))));
            KeyAgreement ka = KeyAgreement.getInstance("XDH");
            ka.init(priv);
            ka.doPhase(pub, true);
            return ka.generateSecret();
        } catch (GeneralSecurityException e) {
            throw new SecAggException("X25519 key agreement failed (malformed or small-order public key): "
                    + e.getMessage(), e);
        }
    }

    /** SHA-256(label ‖ 0 ‖ context ‖ 0 ‖ secret): a 32-byte key for one use. */
    static byte[] derive(String label, String context, byte[] secret) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(label.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(context.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(secret);
            return sha.digest();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** nonce ‖ AES-256-GCM(key, nonce, plaintext, aad). */
    static byte[] seal(byte[] key, byte[] plaintext, byte[] aad, SecureRandom random) {
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(aad);
            byte[] ct = c.doFinal(plaintext);
            byte[] out = Arrays.copyOf(nonce, NONCE_BYTES + ct.length);
            System.arraycopy(ct, 0, out, NONCE_BYTES, ct.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /**
     * The plaintext of {@link #seal}'s output.
     *
     * @throws SecAggException if the tag does not verify: the ciphertext was changed, or it was made for other
     *                         associated data (another session, sender or receiver: a replayed or redirected message)
     */
    static byte[] open(byte[] key, byte[] sealed, byte[] aad, String what) {
        if (sealed.length < NONCE_BYTES + TAG_BITS / 8) {
            throw new SecAggException(what + ": ciphertext of " + sealed.length + " bytes is too short");
        }
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"),
                    new GCMParameterSpec(TAG_BITS, sealed, 0, NONCE_BYTES));
            c.updateAAD(aad);
            return c.doFinal(sealed, NONCE_BYTES, sealed.length - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new SecAggException(what + ": AES-GCM authentication failed (the ciphertext was tampered with, "
                    + "or replayed from another session, sender or receiver)", e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption failed", e);
        }
    }

    private static byte[] reverse(byte[] b) {
        byte[] r = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            r[i] = b[b.length - 1 - i];
        }
        return r;
    }
}
