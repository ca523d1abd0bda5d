package org.fedqlora.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.nn.BaseWeight;
import org.fedqlora.nn.Gemm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A quantized base weight kept packed on the engine and unpacked inside each product's native call
 * ({@link PackedKernels}): W (out, in) exists only for the duration of that call. The engine views the codes in
 * the tensor's own native buffer (no copy) and holds a copy of the per-block statistics (fp32, 1/G of the
 * weights' fp32 bytes per statistic) and a table of at most 256 × 4 floats. Its outputs equal the dequantized weight's bit for bit, in float32 and bf16 alike.
 * Gradients flow to the input; the packed operands never require one.
 */
public final class PackedWeight implements BaseWeight {
    private final QuantizedTensor q;
    /** packed, table, shifts, byteShifts, mul, add, dqScales, dqOffset: see {@link PackedKernels}. */
    private final NDArray[] operands;

    public PackedWeight(QuantizedTensor q, NDManager owner) {
        if (!q.format().isQuantized()) {
            throw new IllegalArgumentException(q + " is not quantized: keep it as a dense weight");
        }
        this.q = q;
        this.operands = operands(q, owner);
    }

    private static NDArray[] operands(QuantizedTensor q, NDManager owner) {
        int k = q.format().bits();
        boolean bytePath = 8 % k == 0;
        int wordBytes = lcm(k, 8) / 8;
        int codesPerWord = lcm(k, 8) / k;
        int mask = (1 << k) - 1;
        float[] levels = new float[1 << k];
        for (int c = 0; c < levels.length; c++) {
            levels[c] = q.format().family() == QuantFormat.Family.NORMAL_FLOAT ? q.format().codebookShared()[c] : c;
        }
        NDArray table;
        NDArray shifts;
        NDArray byteShifts;
        if (bytePath) {
            float[] t = new float[256 * codesPerWord];
            for (int b = 0; b < 256; b++) {
                for (int e = 0; e < codesPerWord; e++) {
                    t[b * codesPerWord + e] = levels[(b >> (e * k)) & mask];
                }
            }
            // k = 8: a 1-D table (a lookup of scalars is faster than of one-element rows)
            table = owner.create(t, codesPerWord == 1 ? new Shape(256) : new Shape(256, codesPerWord));
            shifts = owner.create(new long[0]);
            byteShifts = owner.create(new long[0]);
        } else {
            long[] s = new long[codesPerWord];
            for (int e = 0; e < s.length; e++) {
                s[e] = (long) e * k;
            }
            long[] bs = new long[wordBytes];
            for (int j = 0; j < bs.length; j++) {
                bs[j] = 8L * j;
            }
            table = owner.create(levels);
            shifts = owner.create(s);
            byteShifts = owner.create(bs);
        }
        long bytes = q.format().dataBytes(q.numel());
        int padded = Math.toIntExact(bytePath ? bytes : (bytes + wordBytes - 1) / wordBytes * wordBytes);
        // zero-copy: the engine views the tensor's own native payload (padding from its zero slack)
        NDArray packed = owner.create(q.nativeData(padded), new Shape(padded), DataType.UINT8);

        Shape perBlock = new Shape(q.rows(), q.cols() / q.blockSize(), 1);
        NDArray empty = owner.create(new float[0]);
        NDArray mul;
        NDArray add = empty;
        NDArray dqScales = empty;
        NDArray dqOffset = empty;
        if (q.format().family() == QuantFormat.Family.NORMAL_FLOAT) {
            DoubleQuant dq = q.doubleQuantState();
            if (dq == null) {
                mul = owner.create(q.storedAbsmax(), perBlock);
            } else {
                ByteBuffer codes = ByteBuffer.allocateDirect(dq.codes().length).order(ByteOrder.nativeOrder());
                codes.put(dq.codes()).position(0);
                mul = owner.create(codes, perBlock, DataType.UINT8);
                dqScales = owner.create(dq.groupScales());
                dqOffset = owner.create(new float[] {dq.offset()});
            }
        } else {
            mul = owner.create(q.groupScale(), perBlock);
            add = owner.create(q.groupLo(), perBlock);
        }
        return new NDArray[] {packed, table, shifts, byteShifts, mul, add, dqScales, dqOffset};
    }

    private static int lcm(int a, int b) {
        int x = a;
        int y = b;
        while (y != 0) {
            int t = x % y;
            x = y;
            y = t;
        }
        return a / x * b;
    }

    @Override
    public int out() {
        return q.rows();
    }

    @Override
    public int in() {
        return q.cols();
    }

    /** W dequantized on the engine (one native call) into {@code step}: the same values as the scalar codec. */
    @Override
    public boolean denseResident() {
        return false;
    }

    @Override
    public NDArray weight(NDManager step) {
        try (NDArray like = step.create(new Shape(0, q.cols()))) {
            return PackedKernels.call("dequantize", like, operands, null);
        }
    }

    @Override
    public Gemm.Kernel kernel(NDManager step) {
        return new Gemm.Kernel() {
            @Override
            public NDArray linear(NDArray x, NDArray bias) {
                return PackedKernels.call("linear", x, operands, bias);
            }

            @Override
            public NDArray conv(NDArray image, NDArray bias) {
                return PackedKernels.call("conv", image, operands, bias);
            }

            @Override
            public NDArray bf16(NDArray x, NDArray bias) {
                return PackedKernels.call("bf16", x, operands, bias);
            }

            @Override
            public long out() {
                return q.rows();
            }
        };
    }

    @Override
    public long residentBytes() {
        return q.residentBytes();
    }

    @Override
    public String describe() {
        return q.format().id() + " packed";
    }

    public QuantizedTensor tensor() {
        return q;
    }

    @Override
    public void close() {
        for (NDArray a : operands) {
            a.close();
        }
    }
}
