package org.fedqlora.transport.grpc;

import com.google.protobuf.ByteString;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.proto.Encoding;
import org.fedqlora.transport.grpc.proto.TensorHeader;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * One tensor on the wire: a {@link TensorHeader} (name, dtype, shape, encoding, length, CRC32C) and its encoded
 * bytes cut into chunks. RAW bytes are the safetensors bytes of the tensor (little-endian); DEFLATE compresses
 * them losslessly; INT8 stores F32 values as q = round(x / s), s = max|x| / 127 (error ≤ s / 2 per value).
 */
final class TensorCodec {
    private TensorCodec() {
    }

    /** A tensor ready to send. */
    record Encoded(TensorHeader header, byte[] bytes) {
    }

    static Encoded encode(String name, HostTensor t, Compression compression) {
        byte[] raw = t.toBytes();
        TensorHeader.Builder h = TensorHeader.newBuilder().setName(name).setDtype(t.dtype().name());
        for (long d : t.shape()) {
            h.addShape(d);
        }
        byte[] bytes = raw;
        Encoding enc = Encoding.RAW;
        if (compression == Compression.DEFLATE) {
            bytes = deflate(raw);
            enc = Encoding.DEFLATE;
        } else if (compression == Compression.INT8 && t.dtype() == DType.F32) {
            float[] v = t.toFloats();
            float max = 0;
            for (float x : v) {
                max = Math.max(max, Math.abs(x));
            }
            float scale = max > 0 && Float.isFinite(max) ? max / 127f : 1f;
            bytes = new byte[v.length];
            for (int i = 0; i < v.length; i++) {
                bytes[i] = (byte) Math.max(-127, Math.min(127, Math.round(v[i] / scale)));
            }
            h.setScale(scale);
            enc = Encoding.INT8;
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        h.setEncoding(enc).setEncodedBytes(bytes.length).setCrc32C((int) crc.getValue());
        return new Encoded(h.build(), bytes);
    }

    /** Hands {@code bytes} to {@code sink} in chunks of at most {@code chunkBytes}. */
    static void chunks(byte[] bytes, int chunkBytes, Consumer<ByteString> sink) {
        for (int off = 0; off < bytes.length; off += chunkBytes) {
            sink.accept(ByteString.copyFrom(bytes, off, Math.min(chunkBytes, bytes.length - off)));
        }
    }

    /** Checks the CRC, decodes and checks that the byte count fits dtype × shape; errors name the tensor. */
    static HostTensor decode(TensorHeader h, byte[] bytes, String source) {
        String what = "tensor '" + h.getName() + "' from " + source;
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        if ((int) crc.getValue() != h.getCrc32C()) {
            throw new ProtocolException(what + ": checksum mismatch (CRC32C " + Integer.toHexString((int) crc.getValue())
                    + ", header says " + Integer.toHexString(h.getCrc32C()) + "): the data was corrupted in transit");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(h.getDtype());
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(what + ": unknown dtype '" + h.getDtype() + "', expected F32");
        }
        long[] shape = h.getShapeList().stream().mapToLong(Long::longValue).toArray();
        long numel = 1;
        for (long d : shape) {
            if (d < 0 || (d > 0 && numel > Long.MAX_VALUE / d)) {
                throw new ProtocolException(what + ": invalid shape " + Arrays.toString(shape));
            }
            numel *= d;
        }
        long rawBytes = numel * dtype.bytes;
        byte[] raw = switch (h.getEncoding()) {
            case RAW -> bytes;
            case DEFLATE -> inflate(bytes, rawBytes, what);
            case INT8 -> fromInt8(bytes, h.getScale(), dtype, what);
            default -> throw new ProtocolException(what + ": unknown encoding " + h.getEncodingValue());
        };
        if (raw.length != rawBytes) {
            throw new ProtocolException(what + ": " + raw.length + " bytes decoded but " + dtype + " "
                    + Arrays.toString(shape) + " needs " + rawBytes);
        }
        return HostTensor.ofBytes(dtype, raw, shape);
    }

    private static byte[] deflate(byte[] raw) {
        Deflater d = new Deflater(Deflater.BEST_SPEED, true);
        try {
            d.setInput(raw);
            d.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, raw.length / 2));
            byte[] buf = new byte[64 * 1024];
            while (!d.finished()) {
                out.write(buf, 0, d.deflate(buf));
            }
            return out.toByteArray();
        } finally {
            d.end();
        }
    }

    /** Inflates at most {@code limit} bytes (a compressed bomb is refused, not expanded). */
    private static byte[] inflate(byte[] bytes, long limit, String what) {
        if (limit > Integer.MAX_VALUE - 16) {
            throw new ProtocolException(what + ": too large to decode (" + limit + " bytes)");
        }
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(bytes);
            byte[] out = new byte[(int) limit];
            int n = 0;
            while (!inf.finished()) {
                if (n == out.length) {
                    byte[] probe = new byte[1];
                    if (inf.inflate(probe) > 0) {
                        throw new ProtocolException(what + ": inflates to more than the " + limit
                                + " bytes its shape allows");
                    }
                    if (inf.needsInput() || inf.finished()) {
                        break;
                    }
                    continue;
                }
                int k = inf.inflate(out, n, out.length - n);
                if (k == 0 && (inf.needsInput() || inf.needsDictionary())) {
                    throw new ProtocolException(what + ": truncated DEFLATE data (" + n + " of " + limit + " bytes)");
                }
                n += k;
            }
            return n == out.length ? out : Arrays.copyOf(out, n);
        } catch (DataFormatException e) {
            throw new ProtocolException(what + ": invalid DEFLATE data (" + e.getMessage() + ")");
        } finally {
            inf.end();
        }
    }

    private static byte[] fromInt8(byte[] q, float scale, DType dtype, String what) {
        if (dtype != DType.F32) {
            throw new ProtocolException(what + ": INT8 encoding is only defined for F32, not " + dtype);
        }
        if (!(Float.isFinite(scale) && scale > 0)) {
            throw new ProtocolException(what + ": INT8 scale must be a finite number > 0, got " + scale);
        }
        ByteBuffer b = ByteBuffer.allocate(q.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (byte v : q) {
            b.putFloat(v * scale);
        }
        return b.array();
    }
}
