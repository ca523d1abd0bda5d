package org.fedqlora.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.tensor.TensorSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A weight matrix (rows, cols) = (out, in) in one {@link QuantFormat}: the packed codes (or the fp32/bf16 values)
 * and the per-block statistics the format needs, nothing else. Immutable; made by {@link Quantizer#quantize} or
 * {@link #fromTensors}.
 */
public final class QuantizedTensor {
    /** Zero bytes kept after the payload: more than the longest word a packed weight reads (7 bytes, k = 7). */
    static final int SLACK = 8;
    private final String name;
    private final QuantFormat format;
    private final int rows;
    private final int cols;
    private final int blockSize;
    /**
     * Packed codes (NF, INT) or little-endian fp32/bf16 values (FP32, BF16), in native memory (a direct buffer):
     * limit = the payload's bytes, then {@link #SLACK} zero bytes, so that a {@link PackedWeight} can view it from
     * the engine in whole words without a copy: the codes are held once, however the weight is used.
     */
    private final ByteBuffer data;
    /** NF without double quantization: absmax per block; else null. */
    private final float[] absmax;
    /** NF with double quantization: the absmax in 8 bits; else null. */
    private final DoubleQuant doubleQuant;
    /** INT: lo and scale per group; else null. */
    private final float[] lo;
    private final float[] scale;

    private QuantizedTensor(String name, QuantFormat format, int rows, int cols, int blockSize, byte[] data,
                            float[] absmax, DoubleQuant doubleQuant, float[] lo, float[] scale) {
        this.name = name;
        this.format = format;
        this.rows = rows;
        this.cols = cols;
        this.blockSize = blockSize;
        this.data = ByteBuffer.allocateDirect(data.length + SLACK);
        this.data.put(data).flip();
        this.absmax = absmax;
        this.doubleQuant = doubleQuant;
        this.lo = lo;
        this.scale = scale;
    }

    static QuantizedTensor floats(String name, QuantFormat format, int rows, int cols, byte[] values) {
        return new QuantizedTensor(name, format, rows, cols, 0, values, null, null, null, null);
    }

    /** Exactly one of absmax and doubleQuant is given. */
    static QuantizedTensor normalFloat(String name, QuantFormat format, int rows, int cols, int blockSize,
                                       byte[] packed, float[] absmax, DoubleQuant doubleQuant) {
        return new QuantizedTensor(name, format, rows, cols, blockSize, packed, absmax, doubleQuant, null, null);
    }

    static QuantizedTensor uniform(String name, QuantFormat format, int rows, int cols, int groupSize,
                                   byte[] packed, float[] lo, float[] scale) {
        return new QuantizedTensor(name, format, rows, cols, groupSize, packed, null, null, lo, scale);
    }

    public String name() {
        return name;
    }

    public QuantFormat format() {
        return format;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** Weights per block or group; 0 for FP32 and BF16, which have no blocks. */
    public int blockSize() {
        return blockSize;
    }

    public boolean doubleQuant() {
        return doubleQuant != null;
    }

    public long numel() {
        return (long) rows * cols;
    }

    /** Decodes every weight with the scalar reference codec, row-major (rows, cols). */
    public float[] dequantize() {
        return Quantizer.dequantize(this);
    }

    /**
     * Decodes on the DJL engine: a float32 (rows, cols) array in {@code manager}; intermediates are freed.
     * Gives the same values as {@link #dequantize()} (quantized formats through {@link PackedKernels}, one native
     * call).
     */
    public NDArray toNDArray(NDManager manager) {
        if (!format.isQuantized()) {
            return manager.create(dequantize(), new ai.djl.ndarray.types.Shape(rows, cols));
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray w = new PackedWeight(this, tmp).weight(tmp);
            w.attach(manager);
            return w;
        }
    }

    /**
     * Exact bytes of the format's payload, from the format's layout: codes or values, plus the per-block
     * statistics (for double quantization: u8 codes, fp32 group scales and the fp32 offset). Metadata and
     * safetensors headers are not counted.
     */
    public long storageBytes() {
        long n = numel();
        long bytes = format.dataBytes(n);
        if (format.isQuantized()) {
            int blocks = Math.toIntExact(n / blockSize);
            bytes += doubleQuant()
                    ? blocks + 4L * DoubleQuant.groupCount(blocks) + 4
                    : blocks * (format.family().statsBitsPerBlock / 8L);
        }
        return bytes;
    }

    /** Effective bits per weight, {@code 8 * storageBytes() / numel()}. */
    public double bitsPerWeight() {
        return 8.0 * storageBytes() / numel();
    }

    /**
     * Bytes of the arrays this object keeps in memory (what a client holding the quantized base weight pays),
     * counted from the arrays themselves; equals {@link #storageBytes()} because nothing is kept unpacked.
     */
    public long residentBytes() {
        long bytes = data.limit();
        if (absmax != null) {
            bytes += 4L * absmax.length;
        }
        if (doubleQuant != null) {
            bytes += doubleQuant.residentBytes();
        }
        if (lo != null) {
            bytes += 4L * lo.length + 4L * scale.length;
        }
        return bytes;
    }

    /**
     * The saved form of a quantized tensor: named tensors plus string metadata for the safetensors header, both in
     * a fixed order. The tensors are read-only views of this object's arrays and buffer (no copy).
     */
    public record Parts(Map<String, HostTensor> tensors, Map<String, String> metadata) {
        public Parts {
            tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
            metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }

        /** Adds the tensors and the metadata to a writer. */
        public SafetensorsWriter addTo(SafetensorsWriter writer) {
            tensors.forEach(writer::put);
            return writer.metadata(metadata);
        }
    }

    /** The tensors ({@code <prefix>.qweight}, ...) and metadata ({@code <prefix>.quant.*}) that store this tensor. */
    public Parts toTensors(String prefix) {
        return QuantizedTensorIO.toParts(this, prefix);
    }

    /**
     * Reads a tensor saved by {@link #toTensors}; the full-precision weight is not needed.
     *
     * @param metadata the safetensors metadata of the file that holds the tensors
     * @throws org.fedqlora.tensor.SafetensorsException naming the tensor, if a piece is missing or inconsistent,
     *                                                  or the file was written by a newer format version
     */
    public static QuantizedTensor fromTensors(String prefix, TensorSource tensors, Map<String, String> metadata) {
        return QuantizedTensorIO.fromParts(prefix, tensors, metadata);
    }

    /** Whether the metadata describes a quantized tensor saved under this prefix. */
    public static boolean isSaved(String prefix, Map<String, String> metadata) {
        return QuantizedTensorIO.isSaved(prefix, metadata);
    }

    /** A heap copy of the payload. */
    byte[] data() {
        byte[] out = new byte[data.limit()];
        data.duplicate().get(out);
        return out;
    }

    /** The payload, read-only, position 0 to limit (no copy). */
    ByteBuffer payload() {
        return data.duplicate().asReadOnlyBuffer();
    }

    /** The payload's native memory from its first byte, {@code length} bytes (at most payload + {@link #SLACK}). */
    ByteBuffer nativeData(int length) {
        return data.duplicate().clear().limit(length).slice().order(ByteOrder.nativeOrder());
    }

    /** One unsigned code per weight, row-major (NF and INT formats). */
    byte[] codes() {
        return BitPacking.unpack(data(), format.bits(), Math.toIntExact(numel()));
    }

    /** NF: the absmax the decoder multiplies by, one per block (double-quantized ones decoded). */
    float[] blockAbsmax() {
        return doubleQuant != null ? doubleQuant.decode() : absmax;
    }

    DoubleQuant doubleQuantState() {
        return doubleQuant;
    }

    float[] storedAbsmax() {
        return absmax;
    }

    float[] groupLo() {
        return lo;
    }

    float[] groupScale() {
        return scale;
    }

    @Override
    public String toString() {
        return name + " " + format.id() + "(" + rows + ", " + cols + ")"
                + (format.isQuantized() ? " block " + blockSize + (doubleQuant() ? " double-quant" : "") : "");
    }
}
