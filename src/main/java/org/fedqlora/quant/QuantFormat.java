package org.fedqlora.quant;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How one weight matrix (rows, cols) is stored. Blocks (NF) and groups (INT) are G consecutive elements of one
 * row, G = the block size (64 by default; it must divide the row length), numbered in row-major order.
 *
 * <p>Storage is struct-of-arrays: one dense code stream for the whole matrix ({@link BitPacking}: element i of
 * the row-major matrix is bits [i*k, i*k + k) of a little-endian bit stream) and one fp32 array per statistic,
 * indexed by block; all scalars little-endian. Block b's codes are therefore bytes [b*G*k/8, (b+1)*G*k/8) of the
 * stream whenever G*k is a multiple of 8 (always for G = 64). Per block of G = 64 weights:
 * <pre>
 * format  decode                    codes (bytes, packing)                  statistics       bytes  bits/w
 * NF2     x = absmax[b] * NF2[q]    16: byte j = elements 4j..4j+3, LSB 1st  fp32 absmax        20   2.5
 * NF3     x = absmax[b] * NF3[q]    24: 8 elements per 3 bytes, LSB first    fp32 absmax        28   3.5
 * NF4     x = absmax[b] * NF4[q]    32: byte j = 2j low nibble, 2j+1 high    fp32 absmax        36   4.5
 * INT2    x = lo[g] + q * scale[g]  16: as NF2                               fp32 lo, scale     24   3.0
 * INT3    x = lo[g] + q * scale[g]  24: as NF3                               fp32 lo, scale     32   4.0
 * INT4    x = lo[g] + q * scale[g]  32: as NF4                               fp32 lo, scale     40   5.0
 * INT8    x = lo[g] + q * scale[g]  64: one byte per element                 fp32 lo, scale     72   9.0
 * FP32    x = the float32 value     256: 4 bytes per element                 none              256  32
 * BF16    x = bf16 bits << 16       128: 2 bytes per element                 none              128  16
 * </pre>
 * NF: absmax[b] = max |x| over the block; q = index of the codebook value nearest to x / absmax[b], ties to the
 * lower index (as torch.argmin); codebooks from {@link NormalFloat}; an all-zero block has absmax 0 and decodes
 * to 0. With double quantization (NF only, as QLoRA) the fp32 absmax becomes one u8 code per block plus one fp32
 * scale per 256 blocks and one fp32 offset per tensor, see {@link DoubleQuant}: NF4 then takes
 * 4 + 8/64 + 32/(64*256) = 4.127 bits/w, plus 32 bits per tensor.
 * <br>INT: asymmetric uniform per group: lo = min, hi = max, scale = (hi - lo) / (2^k - 1),
 * q = clamp(round_half_even((x - lo) / scale), 0, 2^k - 1); a constant group (scale 0) has q = 0 and decodes
 * to lo exactly. All arithmetic is float32.
 * <br>FP32 and BF16 keep every weight (BF16 rounded to nearest even), so full precision is just another format.
 */
public enum QuantFormat {
    /** Normal-float 2 bits: x = absmax[b] * {-1, 0, 0.338, 1}[q]; 2.5 bits/w at G = 64. */
    NF2(Family.NORMAL_FLOAT, 2),
    /** Normal-float 3 bits: x = absmax[b] * NF3[q]; 3.5 bits/w at G = 64. */
    NF3(Family.NORMAL_FLOAT, 3),
    /** QLoRA's NF4: x = absmax[b] * NF4[q]; 4.5 bits/w at G = 64 (4.127 with double quantization). */
    NF4(Family.NORMAL_FLOAT, 4),
    /** Uniform 2 bits: x = lo[g] + q * scale[g], q in 0..3; 3.0 bits/w at G = 64. */
    INT2(Family.UNIFORM, 2),
    /** Uniform 3 bits: x = lo[g] + q * scale[g], q in 0..7; 4.0 bits/w at G = 64. */
    INT3(Family.UNIFORM, 3),
    /** Uniform 4 bits: x = lo[g] + q * scale[g], q in 0..15; 5.0 bits/w at G = 64. */
    INT4(Family.UNIFORM, 4),
    /** Uniform 8 bits: x = lo[g] + q * scale[g], q in 0..255; 9.0 bits/w at G = 64. */
    INT8(Family.UNIFORM, 8),
    /** Unquantized float32; 32 bits/w. */
    FP32(Family.FLOAT, 32),
    /** bfloat16 (the top 16 bits of a float32, rounded to nearest even); 16 bits/w. */
    BF16(Family.FLOAT, 16);

    /** The codec a format belongs to, and the fp32 statistics it keeps per block. */
    public enum Family {
        /** Codebook index times the block's fp32 absmax. */
        NORMAL_FLOAT(32),
        /** Uniform grid per group: fp32 lo and fp32 scale. */
        UNIFORM(64),
        /** Unquantized floating-point storage, no statistics. */
        FLOAT(0);

        /** Bits of statistics per block (without double quantization). */
        final int statsBitsPerBlock;

        Family(int statsBitsPerBlock) {
            this.statsBitsPerBlock = statsBitsPerBlock;
        }
    }

    private final Family family;
    private final int bits;
    private final float[] codebook;

    QuantFormat(Family family, int bits) {
        this.family = family;
        this.bits = bits;
        this.codebook = family == Family.NORMAL_FLOAT ? NormalFloat.codebook(bits) : null;
    }

    public Family family() {
        return family;
    }

    /** Bits per stored weight value: the code width, or 32/16 for the float formats. */
    public int bits() {
        return bits;
    }

    public boolean isQuantized() {
        return family != Family.FLOAT;
    }

    /** The NF codebook (a copy); only for NF formats. */
    public float[] codebook() {
        if (codebook == null) {
            throw new IllegalStateException(id() + " has no codebook");
        }
        return codebook.clone();
    }

    float[] codebookShared() {
        return codebook;
    }

    /** Bytes of one block of blockSize weights without double quantization (the table above for 64). */
    public long bytesPerBlock(int blockSize) {
        long blockBits = (long) blockSize * bits + family.statsBitsPerBlock;
        if (blockBits % 8 != 0) {
            throw new IllegalArgumentException("a block of " + blockSize + " " + id()
                    + " weights is not a whole number of bytes (" + blockBits + " bits)");
        }
        return blockBits / 8;
    }

    /** Bytes that the values or codes of count weights take (packed densely). */
    public long dataBytes(long count) {
        return family == Family.FLOAT ? count * (bits / 8) : BitPacking.packedBytes(count, bits);
    }

    /** The lower-case name used on the command line and in saved metadata ("nf4"). */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a user string such as "nf4", "INT8" or "bf16". */
    public static QuantFormat parse(String text) {
        String wanted = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        for (QuantFormat f : values()) {
            if (f.id().equals(wanted)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown quantization format '" + text + "'; valid formats: "
                + Arrays.stream(values()).map(QuantFormat::id).collect(Collectors.joining(", ")));
    }
}
