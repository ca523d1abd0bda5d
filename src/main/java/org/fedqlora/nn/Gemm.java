package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;

/**
 * {@code y = x·Wᵀ + b} for a frozen weight, on the fastest float32 CPU kernel PyTorch offers for its size.
 *
 * <p>Why not {@code matMul}: PyTorch runs a float32 matmul through MKL's sgemm, and on AMD CPUs MKL takes its
 * AVX2 path even where the CPU has AVX-512 (measured on a Zen 5 EPYC: 95 GFLOP/s per core). Written as a 1×1
 * convolution, the same product runs on oneDNN, which picks its kernels from the CPU's features: 190–200 GFLOP/s
 * per core there, forward and input gradient alike ((2048, 384) by (384, 1536) with 2 threads: 6.2 ms against
 * 12.7 ms). The two agree to float32 rounding (only the order of the sums differs).
 *
 * <p>No data moves: x (M, in) row-major, viewed as (g, in, M/g, 1) with strides (M/g·in, 1, in, in), is an NCHW
 * tensor in channels-last layout; oneDNN keeps that layout for its output (g, out, M/g, 1), which is y (M, out)
 * row-major. PyTorch hands a 1×1 convolution to oneDNN only when it runs more than one intra-op thread or the
 * batch is at least 16 (and, for a batch of one, the input has more than 20,480 values); {@link #convBatch}
 * picks g so that it does. Products under {@link #MIN_CONV_MACS} multiply-adds stay on {@code linear} (MKL),
 * where a oneDNN call's fixed cost outweighs its speed.
 */
public final class Gemm {
    /** Below this many multiply-adds (M·in·out) the plain linear kernel is as fast or faster. */
    static final long MIN_CONV_MACS = 1L << 24;
    /** PyTorch's condition for oneDNN with one thread: a batch of at least 16. */
    private static final int ONE_THREAD_BATCH = 16;
    /** PyTorch's condition for oneDNN with a batch of one: more input values than this. */
    private static final long BATCH_ONE_MIN_VALUES = 20_480;

    private Gemm() {
    }

    /**
     * {@link #linear(NDArray, NDArray, NDArray)} at {@code compute}'s precision ({@link Bf16#linear} for BF16).
     */
    public static NDArray linear(Compute compute, NDArray x, NDArray w, NDArray bias) {
        return compute == Compute.BF16 ? Bf16.linear(x, w, bias) : linear(x, w, bias);
    }

    /**
     * @param x    (..., in), in the caller's step manager (the result lands there too)
     * @param w    (out, in) row-major, not requiring a gradient
     * @param bias (out) or null
     * @return (..., out)
     */
    public static NDArray linear(NDArray x, NDArray w, NDArray bias) {
        Shape s = x.getShape();
        long in = s.get(s.dimension() - 1);
        long rows = s.size() / in;
        long out = w.getShape().get(0);
        int g = convBatch(rows, in, out);
        if (g == 0) {
            return x.getNDArrayInternal().linear(x, w, bias).singletonOrThrow();
        }
        return convolution(x, w, bias, g, rows, in, out).reshape(s.slice(0, s.dimension() - 1).add(out));
    }

    /** The oneDNN route: y (rows, out) from x viewed as a channels-last (g, in, rows/g, 1) image. */
    private static NDArray convolution(NDArray x, NDArray w, NDArray bias, int g, long rows, long in, long out) {
        NDArray image = x.reshape(g, rows / g, 1, in).transpose(0, 3, 1, 2);   // (g, in, rows/g, 1), a view
        NDArray kernel = w.reshape(out, in, 1, 1);                               // a view, in w's manager:
        kernel.attach(x.getManager());                                           // freed with the step
        NDArray y = x.getNDArrayInternal()
                .convolution(image, kernel, bias, new Shape(1, 1), new Shape(0, 0), new Shape(1, 1), 1)
                .singletonOrThrow();                                             // (g, out, rows/g, 1)
        return y.transpose(0, 2, 3, 1).reshape(rows, out);                       // channels-last: no copy
    }

    /** The batch g to view the rows as, or 0 for the plain linear kernel. */
    static int convBatch(long rows, long in, long out) {
        if (rows * in * out < MIN_CONV_MACS) {
            return 0;
        }
        if (JniUtils.getNumThreads() > 1 && rows * in > BATCH_ONE_MIN_VALUES) {
            return 1;
        }
        return rows % ONE_THREAD_BATCH == 0 ? ONE_THREAD_BATCH : 0;
    }
}
