package org.fedqlora.model;

import org.fedqlora.UserException;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.TensorSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.TreeSet;

/**
 * The content hash that ties an adapter to the exact base weights it was trained on ("same path, other weights"
 * is refused). SHA-256 over every tensor in name order: name, dtype, shape and all of its bytes, so the hash does
 * not depend on how the checkpoint is sharded or ordered, only on what it holds. The full bytes are hashed
 * (measured on all-MiniLM-L6-v2, 91 MB: about 0.2 s, see README "Integrity"), so a single flipped weight changes
 * the hash; a sample would miss it.
 *
 * <p>A quantized folder written by {@code fedqlora quantize --out} reports the hash of the full-precision model it
 * was made from (recorded at write time), so an adapter trained on the fp32 model matches its quantized copies.
 * Recorded as {@value #KEY} in head.json, adapter_config.json and simulation summaries; the gRPC handshake can
 * compare the same string.
 */
public final class BaseModelHash {
    /** The key under which the hash is recorded (head.json, adapter_config.json, quantization.json). */
    public static final String KEY = "base_model_sha256";

    private BaseModelHash() {
    }

    /** 64 lower-case hex digits. */
    public static String of(TensorSource weights) {
        MessageDigest md = sha256();
        for (String name : new TreeSet<>(weights.names())) {
            HostTensor t = weights.get(name);
            md.update(name.getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(t.dtype().name().getBytes(StandardCharsets.US_ASCII));
            ByteBuffer shape = ByteBuffer.allocate(8 * (t.shape().length + 1));
            shape.putLong(t.shape().length);
            for (long s : t.shape()) {
                shape.putLong(s);
            }
            md.update(shape.flip());
            md.update(t.data().duplicate());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Refuses a base model whose hash differs from the one an adapter recorded, unless {@code allowMismatch}.
     * A missing recorded hash (adapters from before hashes were recorded, or from other tools) is accepted.
     *
     * @param recorded the hash in the adapter's files, or null / empty
     * @param what     the file that recorded it, for the message
     */
    public static void check(String recorded, ModelFolder model, String what, boolean allowMismatch) {
        if (recorded == null || recorded.isEmpty() || allowMismatch) {
            return;
        }
        String actual = model.contentHash();
        if (!recorded.equals(actual)) {
            throw new UserException(what + " was trained on a base model with content hash " + shortHash(recorded)
                    + " but --model " + model.name() + " has " + shortHash(actual) + " (same name, different weights): "
                    + "pass the exact base model it was trained on, or --allow-base-mismatch to evaluate anyway");
        }
    }

    public static String shortHash(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
