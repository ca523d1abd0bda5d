package org.fedqlora.fed.secagg;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One protocol message: named byte payloads from a sender to a receiver, for one stage of one session. This is all
 * that crosses between server and clients, so a transport (in-process or gRPC) carries exactly these fields.
 *
 * @param session  the round's unique session id ({@link SecAggConfig#session()}); a message of another session is a
 *                 replay and is rejected
 * @param stage    the protocol step
 * @param sender   {@link #SERVER} or a client id
 * @param receiver {@link #SERVER} or a client id
 * @param payload  name → bytes (arrays are copied in and must not be changed by the holder)
 */
public record Message(String session, Stage stage, String sender, String receiver, SortedMap<String, byte[]> payload) {
    /** The server's name as sender or receiver. */
    public static final String SERVER = "server";

    public Message {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(stage, "stage");
        Objects.requireNonNull(sender, "sender");
        Objects.requireNonNull(receiver, "receiver");
        TreeMap<String, byte[]> copy = new TreeMap<>();
        payload.forEach((k, v) -> copy.put(k, v.clone()));
        payload = Collections.unmodifiableSortedMap(copy);
    }

    public static Message of(String session, Stage stage, String sender, String receiver, Map<String, byte[]> payload) {
        return new Message(session, stage, sender, receiver, new TreeMap<>(payload));
    }

    /** The payload entry {@code name}, or a {@link SecAggException} naming the message if it is missing. */
    public byte[] require(String name) {
        byte[] v = payload.get(name);
        if (v == null) {
            throw new SecAggException(stage + " message from " + sender + " to " + receiver + " lacks '" + name + "'");
        }
        return v;
    }

    /** Bytes on the wire, counted as Σ (name + payload) plus session, sender and receiver (framing not counted). */
    public long bytes() {
        long n = utf8(session) + utf8(sender) + utf8(receiver) + 1;
        for (Map.Entry<String, byte[]> e : payload.entrySet()) {
            n += utf8(e.getKey()) + e.getValue().length;
        }
        return n;
    }

    /** Magic and version of {@link #toBytes()}: "FQSA", 1. */
    private static final int MAGIC = 0x46515341;
    private static final int VERSION = 1;
    /** Most payload entries a decoded message may have (a client's SHARE_KEYS reply has one per neighbour). */
    public static final int MAX_ENTRIES = 1 << 16;

    /**
     * The message as bytes, for a transport that carries opaque payloads (the gRPC deployment):
     * <pre>
     *   int32 magic "FQSA" | u8 version 1 | u8 stage ordinal | UTF session | UTF sender | UTF receiver
     *   | int32 n | n × (UTF name | int32 length | length bytes)          (big-endian; UTF = u16 length + UTF-8)
     * </pre>
     * Entries are in name order, so equal messages have equal bytes.
     */
    public byte[] toBytes() {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream((int) Math.min(bytes() + 64, 1 << 30));
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeByte(VERSION);
            out.writeByte(stage.ordinal());
            writeUtf(out, session);
            writeUtf(out, sender);
            writeUtf(out, receiver);
            out.writeInt(payload.size());
            for (Map.Entry<String, byte[]> e : payload.entrySet()) {
                writeUtf(out, e.getKey());
                out.writeInt(e.getValue().length);
                out.write(e.getValue());
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * Parses {@link #toBytes()}; anything else (another magic or version, an unknown stage, a length beyond the
     * data, duplicate or unsorted names, trailing bytes) is a {@link SecAggException} naming {@code source}.
     */
    public static Message fromBytes(byte[] data, String source) {
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(data);
        try {
            if (in.getInt() != MAGIC) {
                throw new SecAggException("not a secure-aggregation message");
            }
            int version = in.get() & 0xff;
            if (version != VERSION) {
                throw new SecAggException("message version " + version + ", this build reads " + VERSION);
            }
            int stage = in.get() & 0xff;
            if (stage >= Stage.values().length) {
                throw new SecAggException("unknown stage " + stage);
            }
            String session = readUtf(in);
            String sender = readUtf(in);
            String receiver = readUtf(in);
            int n = in.getInt();
            if (n < 0 || n > MAX_ENTRIES) {
                throw new SecAggException(n + " payload entries (at most " + MAX_ENTRIES + ")");
            }
            TreeMap<String, byte[]> payload = new TreeMap<>();
            String previous = null;
            for (int i = 0; i < n; i++) {
                String name = readUtf(in);
                if (previous != null && previous.compareTo(name) >= 0) {
                    throw new SecAggException("payload names out of order or repeated at '" + name + "'");
                }
                previous = name;
                int length = in.getInt();
                if (length < 0 || length > in.remaining()) {
                    throw new SecAggException("entry '" + name + "' claims " + length + " bytes, " + in.remaining()
                            + " remain");
                }
                byte[] v = new byte[length];
                in.get(v);
                payload.put(name, v);
            }
            if (in.hasRemaining()) {
                throw new SecAggException(in.remaining() + " trailing bytes");
            }
            return new Message(session, Stage.values()[stage], sender, receiver, payload);
        } catch (java.nio.BufferUnderflowException e) {
            throw new SecAggException("malformed secure-aggregation message from " + source + ": truncated");
        } catch (SecAggException e) {
            throw new SecAggException("malformed secure-aggregation message from " + source + ": " + e.getMessage());
        }
    }

    private static void writeUtf(java.io.DataOutputStream out, String s) throws java.io.IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 0xffff) {
            throw new IllegalArgumentException("a name of " + b.length + " bytes is too long for a message");
        }
        out.writeShort(b.length);
        out.write(b);
    }

    private static String readUtf(java.nio.ByteBuffer in) {
        int length = in.getShort() & 0xffff;
        if (length > in.remaining()) {
            throw new SecAggException("a string claims " + length + " bytes, " + in.remaining() + " remain");
        }
        byte[] b = new byte[length];
        in.get(b);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new SecAggException("a string is not UTF-8");
        }
    }

    private static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    @Override
    public String toString() {
        return stage + " " + sender + " → " + receiver + " " + payload.keySet();
    }
}
