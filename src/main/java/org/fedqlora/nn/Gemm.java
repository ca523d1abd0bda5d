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
     * The frozen factor W of a product {@code x·Wᵀ + b}, as the routes of {@link Gemm} need it. A dense weight
     * passes its resident array ({@link #dense}); a packed one unpacks W inside the same native call.
     */
    public interface Kernel {
        /** x (..., in) → (..., out) by {@code torch.linear}, in float32. */
        NDArray linear(NDArray x, NDArray bias);

        /** image (g, in, rows/g, 1), channels-last → (g, out, rows/g, 1) by a 1×1 {@code conv2d}, in float32. */
        NDArray conv(NDArray image, NDArray bias);

        /** x (..., in) → (..., out) at {@link Compute#BF16} ({@link Bf16#linear}'s rounding). */
        NDArray bf16(NDArray x, NDArray bias);

        /** Output features. */
        long out();
    }

    /** The kernel of a resident (out, in) float32 weight. */
    public static Kernel dense(NDArray w) {
        return new Kernel() {
            @Override
            public NDArray linear(NDArray x, NDArray bias) {
                return x.getNDArrayInternal().linear(x, w, bias).singletonOrThrow();
            }

            @Override
            public NDArray conv(NDArray image, NDArray bias) {
                NDArray kernel = w.reshape(out(), w.getShape().get(1), 1, 1);   // a view, in w's manager:
                kernel.attach(image.getManager());                              // freed with the step
                return image.getNDArrayInternal()
                        .convolution(image, kernel, bias, new Shape(1, 1), new Shape(0, 0), new Shape(1, 1), 1)
                        .singletonOrThrow();
            }

            @Override
            public NDArray bf16(NDArray x, NDArray bias) {
                return Bf16.linear(x, w, bias);
            }

            @Override
            public long out() {
                return w.getShape().get(0);
            }
        };
    }

    /**
     * {@link #linear(NDArray, NDArray, NDArray)} at {@code compute}'s precision ({@link Bf16#linear} for BF16).
     */
    public static NDArray linear(Compute compute, NDArray x, NDArray w, NDArray bias) {
        return linear(compute, x, dense(w), bias);
    }

    /**
     * @param x    (..., in), in the caller's step manager (the result lands there too)
     * @param w    (out, in) row-major, not requiring a gradient
     * @param bias (out) or null
     * @return (..., out)
     */
    public static NDArray linear(NDArray x, NDArray w, NDArray bias) {
        return linear(Compute.FP32, x, dense(w), bias);
    }

    /** {@code x·Wᵀ + b} for the W of {@code k}, by the route this size and thread count run fastest on. */
    public static NDArray linear(Compute compute, NDArray x, Kernel k, NDArray bias) {
        if (compute == Compute.BF16) {
            return k.bf16(x, bias);
        }
        Shape s = x.getShape();
        long in = s.get(s.dimension() - 1);
        long rows = s.size() / in;
        long out = k.out();
        int g = convBatch(rows, in, out);
        if (g == 0) {
            return k.linear(x, bias);
        }
        NDArray image = x.reshape(g, rows / g, 1, in).transpose(0, 3, 1, 2);   // (g, in, rows/g, 1), a view
        NDArray y = k.conv(image, bias);                                          // (g, out, rows/g, 1)
        return y.transpose(0, 2, 3, 1).reshape(s.slice(0, s.dimension() - 1).add(out));   // channels-last: no copy
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
