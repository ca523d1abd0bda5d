package org.fedqlora.transport.grpc;

import org.fedqlora.UserException;
import org.fedqlora.transport.grpc.proto.Encoding;

/** Upload encodings ({@code transport.compression}): none, deflate (lossless) or int8 (lossy, 4x smaller). */
public enum Compression {
    NONE("none", Encoding.RAW), DEFLATE("deflate", Encoding.DEFLATE), INT8("int8", Encoding.INT8);

    public final String id;
    public final Encoding encoding;

    Compression(String id, Encoding encoding) {
        this.id = id;
        this.encoding = encoding;
    }

    public static Compression parse(String id) {
        for (Compression c : values()) {
            if (c.id.equals(id)) {
                return c;
            }
        }
        throw new UserException("transport.compression = '" + id + "' is not one of none, deflate, int8");
    }
}
