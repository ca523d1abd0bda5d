package org.fedqlora.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Dequantization on the DJL engine. Codes are unpacked in Java (a byte loop, {@link BitPacking#unpack}); the
 * codebook lookup and the per-block scaling run as NDArray ops on (rows, cols/G, G) views, in the same float32
 * operations and order as the scalar codec in {@link Quantizer}, so the two agree bit for bit. Only one u8 code
 * per weight and the per-block statistics go to the engine, a quarter of the fp32 bytes, which is what matters
 * when the manager is on an accelerator; on a CPU the scalar codec is as fast.
 */
final class EngineDequantizer {
    private EngineDequantizer() {
    }

    static NDArray dequantize(QuantizedTensor t, NDManager manager) {
        if (!t.format().isQuantized()) {
            return manager.create(t.dequantize(), new Shape(t.rows(), t.cols()));
        }
        // Ops put results in their first operand's manager: intermediates stay in tmp, only the result moves out.
        try (NDManager tmp = manager.newSubManager()) {
            int g = t.blockSize();
            Shape blocks = new Shape(t.rows(), t.cols() / g, g);
            Shape perBlock = new Shape(t.rows(), t.cols() / g, 1);
            NDArray codes = tmp.create(nativeBuffer(t.codes()), blocks, DataType.UINT8);
            NDArray w;
            if (t.format().family() == QuantFormat.Family.NORMAL_FLOAT) {
                // w = codebook[q] * absmax[b]
                NDArray codebook = tmp.create(t.format().codebookShared());
                w = codebook.get(codes).mul(tmp.create(t.blockAbsmax(), perBlock));
            } else {
                // w = lo[g] + q * scale[g]
                NDArray q = codes.toType(DataType.FLOAT32, false);
                w = q.mul(tmp.create(t.groupScale(), perBlock)).add(tmp.create(t.groupLo(), perBlock));
            }
            NDArray out = w.reshape(t.rows(), t.cols());
            out.attach(manager);
            return out;
        }
    }

    private static ByteBuffer nativeBuffer(byte[] bytes) {
        ByteBuffer b = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
        b.put(bytes).flip();
        return b;
    }
}
