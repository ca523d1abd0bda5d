package org.fedqlora.fed.privacy;

import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * Where DP noise comes from: one independent stream of standard normal samples per (round, purpose), e.g.
 * (3, "central") for the server's noise in round 3 or (3, "local/client-2") for a client's own noise.
 *
 * <p>Two sources, and the trade-off between them:
 * <ul>
 *   <li>{@link #secure()} (deployment): {@link SecureRandom} from the operating system's entropy (the JDK's
 *       default, NativePRNG / DRBG). Nobody, not even the operator, can reproduce the noise, which the privacy
 *       guarantee requires: anyone who can regenerate the noise can subtract it.</li>
 *   <li>{@link #seeded(long)} (simulation): AES-256 in counter mode (NIST SP 800-38A; the keystream generator
 *       underlying NIST SP 800-90A CTR_DRBG) keyed by SHA-256("fedqlora-dp-noise-v1" ‖ seed ‖ round ‖ purpose).
 *       The stream of a round depends only on (seed, round, purpose), so a simulation and its resumed run add
 *       bit-identical noise and give bit-identical models. It is a cryptographically strong generator, but the
 *       64-bit run seed is its only secret, and the seed is written in config.yaml: seeded noise gives NO privacy
 *       against anyone who knows the config. Use it only to measure the utility cost of DP in simulation.</li>
 * </ul>
 * The JDK's own DRBG cannot serve the second purpose: it always mixes in fresh entropy, so it cannot be made
 * deterministic; SHA1PRNG can, but only as an undocumented property of one provider.
 *
 * <p>Google's differential-privacy Java library (com.google.privacy.differentialprivacy) was the first choice for
 * the Gaussian mechanism, but it is not served by Maven Central here (maven-metadata.xml answers 404, versions 1.1.0
 * to 4.0.0 are absent), and its GaussianNoise is parameterised by (ε, δ) per value rather than by a set σ for a
 * vector, which is what DP-FedAvg and the RDP accountant need. So the normal samples are drawn here, by
 * {@link GaussianSampler} from the bits of one of these sources.
 */
public interface NoiseSource {
    /** A fresh stream for one use; calling it twice with the same arguments gives the same stream only if seeded. */
    GaussianSampler stream(int round, String purpose);

    /** What the source is, for reports: "secure (OS entropy)" or "seeded AES-256-CTR (simulation only)". */
    String describe();

    /** Noise from the operating system's entropy (deployment). */
    static NoiseSource secure() {
        return new NoiseSource() {
            private final SecureRandom random = new SecureRandom();

            @Override
            public GaussianSampler stream(int round, String purpose) {
                return new GaussianSampler(random::nextLong);
            }

            @Override
            public String describe() {
                return "secure (" + random.getAlgorithm() + ", OS entropy)";
            }
        };
    }

    /** Reproducible noise from the run seed (simulation only; see the interface comment). */
    static NoiseSource seeded(long seed) {
        return new NoiseSource() {
            @Override
            public GaussianSampler stream(int round, String purpose) {
                return new GaussianSampler(new AesCtrBits(key(seed, round, purpose))::nextLong);
            }

            @Override
            public String describe() {
                return "seeded AES-256-CTR (simulation only: reproducible from the run seed)";
            }
        };
    }

    /** SHA-256("fedqlora-dp-noise-v1" ‖ seed ‖ round ‖ purpose), the AES-256 key of one stream. */
    private static byte[] key(long seed, int round, String purpose) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update("fedqlora-dp-noise-v1".getBytes(StandardCharsets.UTF_8));
            sha.update(ByteBuffer.allocate(12).putLong(seed).putInt(round).array());
            sha.update(purpose.getBytes(StandardCharsets.UTF_8));
            return sha.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    /** The AES-256-CTR keystream (counter from 0) as 64-bit words, big-endian. */
    final class AesCtrBits {
        private final Cipher cipher;
        private final byte[] zeros = new byte[4096];
        private ByteBuffer block = ByteBuffer.allocate(0);

        AesCtrBits(byte[] key) {
            try {
                cipher = Cipher.getInstance("AES/CTR/NoPadding");
                cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/CTR/NoPadding is required by every Java platform", e);
            }
        }

        long nextLong() {
            if (block.remaining() < Long.BYTES) {
                block = ByteBuffer.wrap(cipher.update(zeros));
            }
            return block.getLong();
        }
    }
}
