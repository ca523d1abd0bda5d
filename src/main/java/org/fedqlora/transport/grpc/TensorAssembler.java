package org.fedqlora.transport.grpc;

import com.google.protobuf.ByteString;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.proto.TensorHeader;

import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Reassembles the tensors of one message from its parts (TensorHeader, data, data, ..., TensorHeader, ...) and
 * enforces the limits before allocating anything: the number of tensors announced, the total encoded bytes, the
 * chunk size, no duplicate name. Every violation is a {@link ProtocolException} naming the sender.
 */
final class TensorAssembler {
    private final String source;
    private final int expectedCount;
    private final long maxTotalBytes;
    private final int maxChunkBytes;
    private final SortedMap<String, HostTensor> done = new TreeMap<>();
    private TensorHeader open;
    private byte[] buffer;
    private int filled;
    private long total;
    private long wireBytes;

    TensorAssembler(String source, int expectedCount, long maxTotalBytes, int maxChunkBytes) {
        this.source = source;
        this.expectedCount = expectedCount;
        this.maxTotalBytes = maxTotalBytes;
        this.maxChunkBytes = maxChunkBytes;
    }

    void header(TensorHeader h) {
        closeOpen();
        if (done.size() >= expectedCount) {
            throw new ProtocolException(source + " sent more tensors than the " + expectedCount + " it announced");
        }
        if (h.getName().isEmpty() || done.containsKey(h.getName())) {
            throw new ProtocolException(source + " sent tensor '" + h.getName() + "' "
                    + (h.getName().isEmpty() ? "without a name" : "twice"));
        }
        long n = h.getEncodedBytes();
        if (n < 0 || total + n > maxTotalBytes || n > Integer.MAX_VALUE - 16) {
            throw new ProtocolException("tensor '" + h.getName() + "' from " + source + " is " + n
                    + " bytes, which takes the message over the size limit of " + maxTotalBytes + " bytes");
        }
        total += n;
        open = h;
        buffer = new byte[(int) n];
        filled = 0;
        if (n == 0) {
            closeOpen();
        }
    }

    void data(ByteString chunk) {
        if (open == null) {
            throw new ProtocolException(source + " sent data outside a tensor (no TensorHeader before it)");
        }
        if (chunk.size() > maxChunkBytes) {
            throw new ProtocolException(source + " sent a " + chunk.size() + "-byte chunk; the limit is "
                    + maxChunkBytes);
        }
        if (filled + chunk.size() > buffer.length) {
            throw new ProtocolException("tensor '" + open.getName() + "' from " + source + ": more data than the "
                    + buffer.length + " bytes its header announced");
        }
        chunk.copyTo(buffer, filled);
        filled += chunk.size();
        if (filled == buffer.length) {
            closeOpen();
        }
    }

    /** Counts the serialized size of a received message (for bytes-on-the-wire reporting). */
    void countWire(int bytes) {
        wireBytes += bytes;
    }

    long wireBytes() {
        return wireBytes;
    }

    /** All tensors, once the message ended; an error if one is incomplete or missing. */
    SortedMap<String, HostTensor> finish() {
        if (open != null) {
            throw new ProtocolException("tensor '" + open.getName() + "' from " + source + " ended after " + filled
                    + " of " + buffer.length + " bytes");
        }
        if (done.size() != expectedCount) {
            throw new ProtocolException(source + " announced " + expectedCount + " tensors but sent " + done.size());
        }
        return Collections.unmodifiableSortedMap(done);
    }

    private void closeOpen() {
        if (open == null) {
            return;
        }
        if (filled != buffer.length) {
            throw new ProtocolException("tensor '" + open.getName() + "' from " + source + " has " + filled + " of "
                    + buffer.length + " bytes before the next part");
        }
        done.put(open.getName(), TensorCodec.decode(open, buffer, source));
        open = null;
        buffer = null;
    }
}
