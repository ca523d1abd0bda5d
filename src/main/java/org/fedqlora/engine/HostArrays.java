package org.fedqlora.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.tensor.HostTensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Conversions between {@link HostTensor} and NDArray (fp32 for floats; bf16 never reaches the engine). */
public final class HostArrays {
    private HostArrays() {
    }

    /**
     * Float tensors become FLOAT32 (F16/BF16/F64 upcast in Java), integer ones INT64 (U8 stays UINT8), in memory
     * owned by torch (see {@link #owned}).
     */
    public static NDArray toNd(NDManager m, HostTensor t) {
        Shape shape = new Shape(t.shape());
        return owned(switch (t.dtype()) {
            case F32 -> m.create(direct(t.data()), shape, DataType.FLOAT32);
            case F16, BF16, F64 -> m.create(t.toFloats(), shape);
            case I64 -> m.create(direct(t.data()), shape, DataType.INT64);
            case U8 -> m.create(direct(t.data()), shape, DataType.UINT8);
            default -> m.create(t.toLongs(), shape);
        });
    }

    /** A float32 array from Java values, in torch-owned memory. */
    public static NDArray create(NDManager m, float[] values, Shape shape) {
        return owned(m.create(values, shape));
    }

    /**
     * A copy of {@code a} in memory allocated by torch, and {@code a} closed. DJL's {@code create} wraps a Java
     * direct buffer (zero-copy), whose address alignment depends on the JVM's allocation history; some torch
     * kernels take alignment-dependent paths, so a long-lived array must live in torch's (64-byte aligned) memory
     * for results to be bit-identical between a fresh process and one with another history (e.g. a resumed run).
     */
    public static NDArray owned(NDArray a) {
        NDArray copy = a.duplicate();
        a.close();
        return copy;
    }

    /**
     * Overwrites a contiguous float32 array with {@code values} (row-major), in place. Writes through the tensor's
     * memory ({@code toByteBuffer(true)} is a live view, DJL-NOTES §11) rather than {@code NDArray.set}: DJL's
     * native {@code set} opens a deprecated {@code AutoNonVariableTypeMode} guard, and libtorch prints a warning
     * about it on the first call of every process.
     */
    public static void write(NDArray a, float[] values) {
        if (a.getDataType() != DataType.FLOAT32 || a.size() != values.length) {
            throw new IllegalArgumentException("write: " + values.length + " values into a " + a.getDataType() + " "
                    + a.getShape());
        }
        a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer().put(values);
    }

    /** Copies into a native-order direct buffer (DJL trap 8: heap or big-endian buffers give garbage). */
    private static ByteBuffer direct(ByteBuffer src) {
        ByteBuffer d = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
        d.put(src.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        d.flip();
        return d;
    }

    /** An fp32 NDArray as a host tensor (copied). */
    public static HostTensor toHost(NDArray a) {
        if (a.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("toHost expects float32, got " + a.getDataType());
        }
        return HostTensor.ofFloats(a.toFloatArray(), a.getShape().getShape());
    }
}
