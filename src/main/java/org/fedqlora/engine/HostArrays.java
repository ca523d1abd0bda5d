package org.fedqlora.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Conversions between {@link HostTensor} and NDArray (fp32 for floats; bf16 never reaches the engine). */
public final class HostArrays {
    private HostArrays() {
    }

    /** Float tensors become FLOAT32 (F16/BF16/F64 upcast in Java), integer ones INT64 (U8 stays UINT8). */
    public static NDArray toNd(NDManager m, HostTensor t) {
        Shape shape = new Shape(t.shape());
        return switch (t.dtype()) {
            case F32 -> m.create(direct(t.data()), shape, DataType.FLOAT32);
            case F16, BF16, F64 -> m.create(t.toFloats(), shape);
            case I64 -> m.create(direct(t.data()), shape, DataType.INT64);
            case U8 -> m.create(direct(t.data()), shape, DataType.UINT8);
            default -> m.create(t.toLongs(), shape);
        };
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

    public static DType dtypeOf(NDArray a) {
        return switch (a.getDataType()) {
            case FLOAT32 -> DType.F32;
            case INT64 -> DType.I64;
            case UINT8 -> DType.U8;
            default -> throw new IllegalArgumentException("unsupported dtype " + a.getDataType());
        };
    }
}
