package org.fedqlora.transport.grpc;

import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The server's check of an update before it may touch the global state: exactly the expected tensor names, each
 * with the global tensor's shape, dtype F32, and only finite values. (Sizes, checksums, sender, task and round are
 * checked earlier, while the message streams in.)
 */
final class UpdateValidator {
    private UpdateValidator() {
    }

    /**
     * @param source   names the sender in messages
     * @param update   the received tensors
     * @param global   the tensors the sender was given (names, shapes and dtypes to match)
     * @param expected the names the sender must return
     */
    static void check(String source, Map<String, HostTensor> update, Map<String, HostTensor> global,
                      Set<String> expected) {
        if (!update.keySet().equals(expected)) {
            Set<String> extra = new TreeSet<>(update.keySet());
            extra.removeAll(expected);
            Set<String> missing = new TreeSet<>(expected);
            missing.removeAll(update.keySet());
            throw new ProtocolException(source + " sent the wrong tensors: unexpected " + limit(extra) + ", missing "
                    + limit(missing) + " (expected " + expected.size() + " tensors such as "
                    + expected.stream().findFirst().orElse("none") + ")");
        }
        for (Map.Entry<String, HostTensor> e : update.entrySet()) {
            String name = e.getKey();
            HostTensor t = e.getValue();
            HostTensor ref = global.get(name);
            if (t.dtype() != DType.F32) {
                throw new ProtocolException("tensor '" + name + "' from " + source + " is " + t.dtype()
                        + "; federated parameters are F32");
            }
            if (ref == null || !Arrays.equals(ref.shape(), t.shape())) {
                throw new ProtocolException("tensor '" + name + "' from " + source + " has shape "
                        + Arrays.toString(t.shape()) + " but the global tensor has "
                        + (ref == null ? "no such name" : Arrays.toString(ref.shape())));
            }
            float[] v = t.toFloats();
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    throw new ProtocolException("tensor '" + name + "' from " + source + " holds " + v[i]
                            + " at element " + i + "; updates must be finite (diverged training?)");
                }
            }
        }
    }

    private static String limit(Set<String> names) {
        if (names.size() <= 3) {
            return names.toString();
        }
        return names.stream().limit(3).toList() + " and " + (names.size() - 3) + " more";
    }
}
