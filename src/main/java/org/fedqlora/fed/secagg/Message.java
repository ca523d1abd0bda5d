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

    private static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    @Override
    public String toString() {
        return stage + " " + sender + " → " + receiver + " " + payload.keySet();
    }
}
