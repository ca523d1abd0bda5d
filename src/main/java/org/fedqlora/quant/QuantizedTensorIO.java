package org.fedqlora.quant;

import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsException;
import org.fedqlora.tensor.TensorSource;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The saved form of a {@link QuantizedTensor} under a prefix p (e.g. the weight's name), format version 1.
 *
 * <pre>
 * tensors                         dtype  shape                    when
 * p.qweight                       U8     (packed bytes,)          NF, INT: codes, see {@link BitPacking}
 * p.qweight                       F32    (rows, cols)             FP32
 * p.qweight                       BF16   (rows, cols)             BF16
 * p.absmax                        F32    (rows, cols / G)         NF
 * p.absmax_code                   U8     (rows, cols / G)         NF with double quantization ({@link DoubleQuant})
 * p.absmax_scale                  F32    (ceil(blocks / 256),)    NF with double quantization
 * p.absmax_offset                 F32    (1,)                     NF with double quantization
 * p.lo, p.scale                   F32    (rows, cols / G)         INT
 * metadata
 * p.quant.version                 "1"
 * p.quant.format                  "nf4", "int8", "fp32", ...
 * p.quant.shape                   "rows,cols"
 * p.quant.block_size              G ("0" for FP32 and BF16)
 * p.quant.double_quant            "true" or "false"
 * </pre>
 */
final class QuantizedTensorIO {
    static final int VERSION = 1;
    private static final String KEY_VERSION = ".quant.version";
    private static final String KEY_FORMAT = ".quant.format";
    private static final String KEY_SHAPE = ".quant.shape";
    private static final String KEY_BLOCK = ".quant.block_size";
    private static final String KEY_DOUBLE_QUANT = ".quant.double_quant";

    private QuantizedTensorIO() {
    }

    static boolean isSaved(String prefix, Map<String, String> metadata) {
        return metadata.containsKey(prefix + KEY_VERSION);
    }

    static QuantizedTensor.Parts toParts(QuantizedTensor t, String p) {
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        long[] blockShape = {t.rows(), t.blockSize() == 0 ? 0 : t.cols() / t.blockSize()};
        ByteBuffer data = t.payload();
        switch (t.format().family()) {
            case FLOAT -> tensors.put(p + ".qweight", view(t.format() == QuantFormat.FP32 ? DType.F32 : DType.BF16,
                    data, t.rows(), t.cols()));
            case NORMAL_FLOAT -> {
                tensors.put(p + ".qweight", view(DType.U8, data, data.limit()));
                DoubleQuant dq = t.doubleQuantState();
                if (dq == null) {
                    tensors.put(p + ".absmax", HostTensor.ofFloats(t.storedAbsmax(), blockShape));
                } else {
                    tensors.put(p + ".absmax_code", view(DType.U8, dq.codes(), blockShape));
                    tensors.put(p + ".absmax_scale", HostTensor.ofFloats(dq.groupScales(), dq.groupScales().length));
                    tensors.put(p + ".absmax_offset", HostTensor.ofFloats(new float[] {dq.offset()}, 1));
                }
            }
            case UNIFORM -> {
                tensors.put(p + ".qweight", view(DType.U8, data, data.limit()));
                tensors.put(p + ".lo", HostTensor.ofFloats(t.groupLo(), blockShape));
                tensors.put(p + ".scale", HostTensor.ofFloats(t.groupScale(), blockShape));
            }
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put(p + KEY_VERSION, Integer.toString(VERSION));
        metadata.put(p + KEY_FORMAT, t.format().id());
        metadata.put(p + KEY_SHAPE, t.rows() + "," + t.cols());
        metadata.put(p + KEY_BLOCK, Integer.toString(t.blockSize()));
        metadata.put(p + KEY_DOUBLE_QUANT, Boolean.toString(t.doubleQuant()));
        return new QuantizedTensor.Parts(tensors, metadata);
    }

    /** A read-only tensor over the array, so a caller cannot change the quantized tensor through it. */
    private static HostTensor view(DType dtype, byte[] bytes, long... shape) {
        return view(dtype, ByteBuffer.wrap(bytes), shape);
    }

    private static HostTensor view(DType dtype, ByteBuffer bytes, long... shape) {
        return new HostTensor(dtype, shape, bytes.asReadOnlyBuffer());
    }

    static QuantizedTensor fromParts(String p, TensorSource src, Map<String, String> metadata) {
        Header h = Header.parse(p, src.describe(), metadata);
        QuantFormat f = h.format;
        if (!f.isQuantized()) {
            HostTensor v = require(src, p + ".qweight", f == QuantFormat.FP32 ? DType.F32 : DType.BF16, h.rows, h.cols);
            return QuantizedTensor.floats(p, f, h.rows, h.cols, v.toBytes());
        }
        long[] blockShape = {h.rows, h.cols / h.blockSize};
        byte[] packed = require(src, p + ".qweight", DType.U8, f.dataBytes((long) h.rows * h.cols)).toBytes();
        if (f.family() == QuantFormat.Family.UNIFORM) {
            float[] lo = require(src, p + ".lo", DType.F32, blockShape).toFloats();
            float[] scale = require(src, p + ".scale", DType.F32, blockShape).toFloats();
            return QuantizedTensor.uniform(p, f, h.rows, h.cols, h.blockSize, packed, lo, scale);
        }
        if (!h.doubleQuant) {
            float[] absmax = require(src, p + ".absmax", DType.F32, blockShape).toFloats();
            return QuantizedTensor.normalFloat(p, f, h.rows, h.cols, h.blockSize, packed, absmax, null);
        }
        int blocks = Math.toIntExact(blockShape[0] * blockShape[1]);
        byte[] codes = require(src, p + ".absmax_code", DType.U8, blockShape).toBytes();
        float[] scales = require(src, p + ".absmax_scale", DType.F32, DoubleQuant.groupCount(blocks)).toFloats();
        float offset = require(src, p + ".absmax_offset", DType.F32, 1).toFloats()[0];
        return QuantizedTensor.normalFloat(p, f, h.rows, h.cols, h.blockSize, packed, null,
                new DoubleQuant(codes, scales, offset));
    }

    /** A tensor that must exist with this dtype and shape; the error names it and says what was expected. */
    private static HostTensor require(TensorSource src, String name, DType dtype, long... shape) {
        if (!src.has(name)) {
            throw new SafetensorsException(src.describe() + ": missing tensor '" + name + "' of the quantized weight;"
                    + " the file is incomplete");
        }
        HostTensor t = src.get(name);
        if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
            throw new SafetensorsException(src.describe() + ": tensor '" + name + "' is " + t + " (" + t.byteSize()
                    + " bytes) but its metadata needs " + dtype + Arrays.toString(shape) + " ("
                    + HostTensor.numel(shape) * dtype.bytes + " bytes): the file is corrupt or the tensor does not"
                    + " belong to this metadata");
        }
        return t;
    }

    /** The metadata of one saved tensor, validated. */
    private record Header(QuantFormat format, int rows, int cols, int blockSize, boolean doubleQuant) {
        static Header parse(String p, String where, Map<String, String> md) {
            String at = where + ": quantized tensor '" + p + "'";
            int version = parseInt(at, p + KEY_VERSION, get(at, md, p + KEY_VERSION));
            if (version > VERSION) {
                throw new SafetensorsException(at + " was written by a newer fedqlora (format version " + version
                        + ", this build reads " + VERSION + "): upgrade fedqlora to load it");
            }
            if (version < 1) {
                throw new SafetensorsException(at + " has an invalid format version " + version);
            }
            QuantFormat format;
            try {
                format = QuantFormat.parse(get(at, md, p + KEY_FORMAT));
            } catch (IllegalArgumentException e) {
                throw new SafetensorsException(at + ": " + e.getMessage());
            }
            String[] shape = get(at, md, p + KEY_SHAPE).split(",");
            if (shape.length != 2) {
                throw new SafetensorsException(at + ": shape '" + md.get(p + KEY_SHAPE) + "' is not 'rows,cols'");
            }
            int rows = parseInt(at, p + KEY_SHAPE, shape[0].trim());
            int cols = parseInt(at, p + KEY_SHAPE, shape[1].trim());
            int block = parseInt(at, p + KEY_BLOCK, get(at, md, p + KEY_BLOCK));
            String dq = get(at, md, p + KEY_DOUBLE_QUANT);
            if (!dq.equals("true") && !dq.equals("false")) {
                throw new SafetensorsException(at + ": " + p + KEY_DOUBLE_QUANT + " is '" + dq + "', not true/false");
            }
            boolean doubleQuant = dq.equals("true");
            boolean blocksOk = format.isQuantized() ? block >= 1 && cols % block == 0 : block == 0;
            if (rows < 1 || cols < 1 || !blocksOk
                    || (doubleQuant && format.family() != QuantFormat.Family.NORMAL_FLOAT)) {
                throw new SafetensorsException(at + ": inconsistent metadata: " + format.id() + " shape (" + rows
                        + ", " + cols + ") block size " + block + " double quant " + doubleQuant);
            }
            return new Header(format, rows, cols, block, doubleQuant);
        }

        private static String get(String at, Map<String, String> md, String key) {
            String v = md.get(key);
            if (v == null) {
                throw new SafetensorsException(at + ": metadata key '" + key + "' is missing; was the tensor saved"
                        + " with QuantizedTensor.toTensors and its metadata written to the file?");
            }
            return v;
        }

        private static int parseInt(String at, String key, String v) {
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new SafetensorsException(at + ": metadata '" + key + "' = '" + v + "' is not an integer");
            }
        }
    }
}
