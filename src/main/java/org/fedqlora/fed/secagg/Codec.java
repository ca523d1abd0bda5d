package org.fedqlora.fed.secagg;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Small wire encodings of the protocol's payloads: id lists as newline-separated UTF-8, counts as 8 bytes. */
final class Codec {
    private Codec() {
    }

    static byte[] strings(List<String> values) {
        for (String v : values) {
            if (v.contains("\n")) {
                throw new IllegalArgumentException("client id '" + v + "' contains a newline");
            }
        }
        return String.join("\n", values).getBytes(StandardCharsets.UTF_8);
    }

    static List<String> strings(byte[] data) {
        if (data.length == 0) {
            return List.of();
        }
        return new ArrayList<>(Arrays.asList(new String(data, StandardCharsets.UTF_8).split("\n", -1)));
    }

    static byte[] bytes(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    static long toLong(byte[] data) {
        if (data.length != 8) {
            throw new SecAggException("a count has " + data.length + " bytes, expected 8");
        }
        return ByteBuffer.wrap(data).getLong();
    }
}
