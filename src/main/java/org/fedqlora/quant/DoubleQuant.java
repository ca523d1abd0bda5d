package org.fedqlora.quant;

/**
 * Double quantization of the per-block fp32 absmax of an NF tensor (QLoRA's second quantization level).
 *
 * <p>For the B block absmax values a[0..B) of one tensor, in block order:
 * <pre>
 * offset  c    = mean(a)                                       one fp32 per tensor
 * groups       of 256 consecutive blocks (the last may be shorter)
 * scale   s[j] = max |a[i] - c| over group j, divided by 127     one fp32 per group
 * code    q[i] = round_half_even((a[i] - c) / s[j]) + 128       one u8 per block, in [1, 255] (128 when s[j] = 0)
 * decode  â[i] = c + (q[i] - 128) * s[j]                       fp32 arithmetic
 * </pre>
 * Cost per block of 64 weights: 8 bits + 32/256 bits, i.e. 0.127 bits per weight instead of 0.5, plus 32 bits
 * per tensor. QLoRA quantizes a - c with bitsandbytes' dynamic 8-bit map; this build uses the symmetric uniform
 * grid above instead.
 *
 * @param codes       one u8 code per block
 * @param groupScales one scale per group of {@link #GROUP} blocks
 * @param offset      the mean absmax subtracted before quantizing
 */
record DoubleQuant(byte[] codes, float[] groupScales, float offset) {
    /** Blocks per double-quantization group. */
    static final int GROUP = 256;
    private static final int ZERO = 128;
    private static final int MAX_STEP = 127;

    /** Groups needed for a tensor of this many blocks. */
    static int groupCount(int blocks) {
        return (blocks + GROUP - 1) / GROUP;
    }

    static DoubleQuant encode(float[] absmax) {
        double sum = 0;
        for (float a : absmax) {
            sum += a;
        }
        float offset = absmax.length == 0 ? 0f : (float) (sum / absmax.length);
        byte[] codes = new byte[absmax.length];
        float[] scales = new float[groupCount(absmax.length)];
        for (int g = 0; g < scales.length; g++) {
            int from = g * GROUP;
            int to = Math.min(from + GROUP, absmax.length);
            float maxDev = 0f;
            for (int i = from; i < to; i++) {
                maxDev = Math.max(maxDev, Math.abs(absmax[i] - offset));
            }
            float s = maxDev / MAX_STEP;
            scales[g] = s;
            for (int i = from; i < to; i++) {
                int q = s == 0f ? 0 : (int) Math.rint((absmax[i] - offset) / s);
                codes[i] = (byte) (Math.max(-MAX_STEP, Math.min(MAX_STEP, q)) + ZERO);
            }
        }
        return new DoubleQuant(codes, scales, offset);
    }

    /** The absmax of every block, as the dequantizer uses it. */
    float[] decode() {
        float[] out = new float[codes.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = offset + ((codes[i] & 0xFF) - ZERO) * groupScales[i / GROUP];
        }
        return out;
    }

    long residentBytes() {
        return codes.length + 4L * groupScales.length + 4;
    }
}
