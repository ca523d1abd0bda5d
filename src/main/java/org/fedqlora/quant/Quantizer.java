package org.fedqlora.quant;

import org.fedqlora.tensor.Half;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The scalar reference codec: quantizes a row-major (rows, cols) float matrix into a {@link QuantizedTensor} and
 * decodes it back, one element at a time in float32 arithmetic, exactly as the formulas in {@link QuantFormat}
 * read. The engine path ({@link QuantizedTensor#toNDArray}) is tested against {@link #dequantize}.
 *
 * <p>NF codes are chosen with the exact block absmax; with double quantization only the stored absmax is
 * approximated afterwards (as QLoRA does), so the codes do not depend on it.
 */
public final class Quantizer {
    private Quantizer() {
    }

    /**
     * Quantizes a weight matrix.
     *
     * @param name used in error messages and as the tensor's name
     * @param w    the weights, row-major (rows, cols) = (out, in)
     * @throws IllegalArgumentException if the shape does not match, a weight is not finite, or the group size
     *                                  does not divide the row length
     */
    public static QuantizedTensor quantize(String name, float[] w, int rows, int cols, QuantSpec spec) {
        if (rows < 1 || cols < 1 || (long) rows * cols != w.length) {
            throw new IllegalArgumentException(name + ": " + w.length + " weights do not form a (" + rows + ", "
                    + cols + ") matrix");
        }
        checkFinite(name, w, cols);
        QuantFormat format = spec.format();
        return switch (format.family()) {
            case FLOAT -> QuantizedTensor.floats(name, format, rows, cols, encodeFloats(w, format));
            case NORMAL_FLOAT -> quantizeNormalFloat(name, w, rows, cols, checkGroupSize(name, cols, spec), spec);
            case UNIFORM -> quantizeUniform(name, w, rows, cols, checkGroupSize(name, cols, spec), format);
        };
    }

    private static QuantizedTensor quantizeNormalFloat(String name, float[] w, int rows, int cols, int g,
                                                       QuantSpec spec) {
        QuantFormat format = spec.format();
        float[] cb = format.codebookShared();
        float[] absmax = new float[w.length / g];
        byte[] codes = new byte[w.length];
        for (int b = 0; b < absmax.length; b++) {
            float a = 0f;
            for (int i = b * g; i < (b + 1) * g; i++) {
                a = Math.max(a, Math.abs(w[i]));
            }
            absmax[b] = a;
            for (int i = b * g; i < (b + 1) * g; i++) {
                codes[i] = (byte) nearest(cb, a == 0f ? 0f : w[i] / a);
            }
        }
        byte[] packed = BitPacking.pack(codes, format.bits());
        return spec.doubleQuant()
                ? QuantizedTensor.normalFloat(name, format, rows, cols, g, packed, null, DoubleQuant.encode(absmax))
                : QuantizedTensor.normalFloat(name, format, rows, cols, g, packed, absmax, null);
    }

    private static QuantizedTensor quantizeUniform(String name, float[] w, int rows, int cols, int g,
                                                   QuantFormat format) {
        int maxCode = (1 << format.bits()) - 1;
        float[] lo = new float[w.length / g];
        float[] scale = new float[lo.length];
        byte[] codes = new byte[w.length];
        for (int b = 0; b < lo.length; b++) {
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = b * g; i < (b + 1) * g; i++) {
                min = Math.min(min, w[i]);
                max = Math.max(max, w[i]);
            }
            float s = (max - min) / maxCode;
            lo[b] = min;
            scale[b] = s;
            for (int i = b * g; i < (b + 1) * g; i++) {
                double q = s == 0f ? 0 : Math.rint((w[i] - min) / s);
                codes[i] = (byte) Math.max(0, Math.min(maxCode, (int) q));
            }
        }
        return QuantizedTensor.uniform(name, format, rows, cols, g, BitPacking.pack(codes, format.bits()), lo, scale);
    }

    /** Index of the codebook value nearest to y; on a tie the lower index, as torch.argmin. cb is sorted. */
    static int nearest(float[] cb, float y) {
        int hi = 0;
        while (hi < cb.length && cb[hi] < y) {
            hi++;
        }
        if (hi == 0) {
            return 0;
        }
        if (hi == cb.length) {
            return cb.length - 1;
        }
        return Math.abs(y - cb[hi]) < Math.abs(y - cb[hi - 1]) ? hi : hi - 1;
    }

    private static byte[] encodeFloats(float[] w, QuantFormat format) {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(format.dataBytes(w.length))).order(ByteOrder.LITTLE_ENDIAN);
        if (format == QuantFormat.FP32) {
            b.asFloatBuffer().put(w);
        } else {
            for (float x : w) {
                b.putShort(Half.floatToBf16(x));
            }
        }
        return b.array();
    }

    /** Decodes every weight, row-major (rows, cols). */
    static float[] dequantize(QuantizedTensor t) {
        return switch (t.format().family()) {
            case FLOAT -> decodeFloats(t);
            case NORMAL_FLOAT -> decodeNormalFloat(t);
            case UNIFORM -> decodeUniform(t);
        };
    }

    private static float[] decodeNormalFloat(QuantizedTensor t) {
        float[] cb = t.format().codebookShared();
        float[] absmax = t.blockAbsmax();
        byte[] codes = t.codes();
        int g = t.blockSize();
        float[] out = new float[codes.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = cb[codes[i] & 0xFF] * absmax[i / g];
        }
        return out;
    }

    private static float[] decodeUniform(QuantizedTensor t) {
        float[] lo = t.groupLo();
        float[] scale = t.groupScale();
        byte[] codes = t.codes();
        int g = t.blockSize();
        float[] out = new float[codes.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = lo[i / g] + (codes[i] & 0xFF) * scale[i / g];
        }
        return out;
    }

    private static float[] decodeFloats(QuantizedTensor t) {
        ByteBuffer b = ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[t.rows() * t.cols()];
        if (t.format() == QuantFormat.FP32) {
            b.asFloatBuffer().get(out);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = Half.bf16ToFloat(b.getShort(2 * i));
            }
        }
        return out;
    }

    private static void checkFinite(String name, float[] w, int cols) {
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new IllegalArgumentException(name + ": weight (" + i / cols + ", " + i % cols + ") is " + w[i]
                        + "; cannot quantize a tensor that is not finite (was the checkpoint trained to divergence?)");
            }
        }
    }

    private static int checkGroupSize(String name, int cols, QuantSpec spec) {
        int g = spec.groupSize();
        if (cols % g != 0) {
            throw new IllegalArgumentException("group size " + g + " does not divide row length " + cols + " of "
                    + name + "; choose a divisor such as " + nearestDivisors(cols, g));
        }
        return g;
    }

    /** The three divisors of n nearest to g, ascending ("25, 50 or 100"). */
    private static String nearestDivisors(int n, int g) {
        int[] picked = IntStream.rangeClosed(1, n).filter(d -> n % d == 0).boxed()
                .sorted((a, b) -> Integer.compare(Math.abs(a - g), Math.abs(b - g)))
                .limit(3).mapToInt(Integer::intValue).sorted().toArray();
        String all = Arrays.stream(picked).mapToObj(Integer::toString).collect(Collectors.joining(", "));
        int last = all.lastIndexOf(", ");
        return last < 0 ? all : all.substring(0, last) + " or " + all.substring(last + 2);
    }
}
