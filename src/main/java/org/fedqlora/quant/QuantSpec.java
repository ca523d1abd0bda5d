package org.fedqlora.quant;

/**
 * How to quantize a weight matrix.
 *
 * @param format      the storage format
 * @param groupSize   weights per block (NF) or group (INT), consecutive along a row; must divide the row length.
 *                    Ignored by FP32 and BF16.
 * @param doubleQuant quantize the NF block absmax to 8 bits as QLoRA does ({@link DoubleQuant}); NF formats only
 */
public record QuantSpec(QuantFormat format, int groupSize, boolean doubleQuant) {
    public static final int DEFAULT_GROUP_SIZE = 64;

    public QuantSpec {
        if (format == null) {
            throw new IllegalArgumentException("quantization format is missing");
        }
        if (groupSize < 1) {
            throw new IllegalArgumentException("group size must be at least 1, got " + groupSize);
        }
        if (doubleQuant && format.family() != QuantFormat.Family.NORMAL_FLOAT) {
            throw new IllegalArgumentException("double quantization compresses the absmax of NF formats; "
                    + format.id() + " has none: use nf2, nf3 or nf4, or turn double quantization off");
        }
    }

    /** The format with blocks of 64 and no double quantization. */
    public static QuantSpec of(QuantFormat format) {
        return new QuantSpec(format, DEFAULT_GROUP_SIZE, false);
    }
}
