package org.fedqlora.model.onnx;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Writes protobuf messages field by field, to build small ONNX models in tests. */
final class Proto {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final CodedOutputStream out = CodedOutputStream.newInstance(bytes);

    Proto varint(int field, long value) {
        return write(() -> out.writeInt64(field, value));
    }

    Proto fixed32Float(int field, float value) {
        return write(() -> out.writeFloat(field, value));
    }

    Proto string(int field, String value) {
        return write(() -> out.writeString(field, value));
    }

    Proto bytes(int field, byte[] value) {
        return write(() -> out.writeByteArray(field, value));
    }

    Proto message(int field, Proto value) {
        return bytes(field, value.toByteArray());
    }

    Proto packedFloats(int field, float... values) {
        Proto p = new Proto();
        for (float v : values) {
            p.write(() -> p.out.writeFloatNoTag(v));
        }
        return bytes(field, p.toByteArray());
    }

    Proto packedVarints(int field, long... values) {
        Proto p = new Proto();
        for (long v : values) {
            p.write(() -> p.out.writeInt64NoTag(v));
        }
        return bytes(field, p.toByteArray());
    }

    /** A field with a deliberately wrong wire type (fixed64), to test rejection. */
    Proto fixed64(int field, long value) {
        return write(() -> {
            out.writeTag(field, WireFormat.WIRETYPE_FIXED64);
            out.writeFixed64NoTag(value);
        });
    }

    byte[] toByteArray() {
        write(out::flush);
        return bytes.toByteArray();
    }

    private interface Write {
        void run() throws IOException;
    }

    private Proto write(Write w) {
        try {
            w.run();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }
}
