package org.fedqlora.quant;

import ai.djl.ndarray.NDArray;
import org.fedqlora.engine.ScriptModule;

/**
 * The products of a packed quantized weight: one TorchScript method per route of {@link org.fedqlora.nn.Gemm} that
 * unpacks W from its codes and multiplies, in one native call (DJL's NDArray has no bit operations: DJL-NOTES §5;
 * TorchScript has them: §13). W never exists outside the call; inside, it is built with the same float32
 * operations, in the same order, as the scalar codec ({@link Quantizer#dequantize}), so the product equals the
 * dequantized path's bit for bit (the route, and hence the kernel, is the same too).
 *
 * <p>Unpacking, for k-bit codes (element i = bits [i·k, i·k + k) of the little-endian stream, {@link BitPacking}):
 * <ul>
 * <li>k divides 8 (k = 2, 4, 8): byte j holds elements L·j .. L·j + L − 1, L = 8 / k, so one lookup per byte in a
 *     (256, L) table gives L decoded values at once: {@code table[b][e] = level[(b >> e·k) & (2^k − 1)]}
 *     (level = the NF codebook, or the integer q itself for INT). Measured 3–4× faster than shifting and masking
 *     every element, and exact: it is the same code, looked up.</li>
 * <li>otherwise (k = 3): the stream is cut into words of B = lcm(k, 8) / 8 bytes (3 bytes = 8 codes of 3 bits), each
 *     word assembled with left shifts into an int64, and code e of the word is {@code (word >> e·k) & (2^k − 1)}:
 *     bit operations on the whole matrix, then one lookup of the level.</li>
 * </ul>
 * The values are then scaled per block of G along a row: NF {@code level · absmax[b]}, INT {@code lo[g] + q ·
 * scale[g]}; a double-quantized absmax is decoded first, {@code offset + (code − 128) · scale[b / 256]}
 * ({@link DoubleQuant}). Shapes: rows = out, cols = in, nb = cols / G blocks per row.
 *
 * <p>Arguments of every method, after the input: {@code packed} (bytes,) u8, padded with zeros to whole words;
 * {@code table} (256, L) float32 for the byte path ((256,) for k = 8), or the 2^k levels for the word path; {@code shifts} (codes per
 * word,) int64 (empty on the byte path); {@code byteShifts} (B,) int64 = 0, 8, 16, ...; {@code mul} (rows, nb, 1):
 * NF absmax (float32), the double-quantization codes (u8), or INT scale; {@code add} (rows, nb, 1) INT lo, empty
 * for NF; {@code dqScales} (groups,) and {@code dqOffset} (1,), empty without double quantization.
 */
final class PackedKernels {
    private static final int BF16 = 15;   // c10::ScalarType::BFloat16 (TorchScript source writes dtypes as ints)
    private static final int FP32 = 6;    // c10::ScalarType::Float
    private static final String ARGS = "packed: Tensor, table: Tensor, shifts: Tensor, byte_shifts: Tensor, "
            + "mul: Tensor, add: Tensor, dq_scales: Tensor, dq_offset: Tensor";
    private static final String PASS = "packed, table, shifts, byte_shifts, mul, add, dq_scales, dq_offset";
    private static final String SELF = "self: __torch__.PackedKernels";

    private static final String SOURCE = """
              def weight(SELF, cols: int, ARGS) -> Tensor:
                rows = mul.size(0)
                if shifts.numel() == 0:
                  v = torch.index_select(table, 0, torch.to(packed, 3))
                else:
                  b = torch.to(torch.view(packed, [-1, byte_shifts.size(0)]), 4)
                  word = torch.sum(torch.bitwise_left_shift(b, byte_shifts), [1])
                  codes = torch.bitwise_and(torch.bitwise_right_shift(torch.unsqueeze(word, 1), shifts), table.size(0) - 1)
                  v = torch.index_select(table, 0, torch.view(codes, [-1]))
                v = torch.view(torch.slice(torch.view(v, [-1]), 0, 0, rows * cols, 1), [rows, mul.size(1), -1])
                if dq_scales.numel() > 0:
                  q = torch.view(torch.sub(torch.to(mul, FP32), 128), [-1])
                  s = torch.slice(torch.repeat_interleave(dq_scales, 256), 0, 0, q.numel(), 1)
                  scale = torch.view(torch.add(torch.mul(q, s), dq_offset), [rows, mul.size(1), 1])
                else:
                  scale = mul
                w = torch.mul(v, scale)
                if add.numel() > 0:
                  w = torch.add(w, add)
                return torch.view(w, [rows, cols])
              def dequantize(SELF, like: Tensor, ARGS) -> Tensor:
                return self.weight(like.size(-1), PASS)
              def linear(SELF, x: Tensor, ARGS) -> Tensor:
                return torch.linear(x, self.weight(x.size(-1), PASS))
              def linear_bias(SELF, x: Tensor, ARGS, bias: Tensor) -> Tensor:
                return torch.linear(x, self.weight(x.size(-1), PASS), bias)
              def conv(SELF, image: Tensor, ARGS) -> Tensor:
                w = self.weight(image.size(1), PASS)
                return torch.conv2d(image, torch.view(w, [w.size(0), w.size(1), 1, 1]))
              def conv_bias(SELF, image: Tensor, ARGS, bias: Tensor) -> Tensor:
                w = self.weight(image.size(1), PASS)
                return torch.conv2d(image, torch.view(w, [w.size(0), w.size(1), 1, 1]), bias)
              def bf16(SELF, x: Tensor, ARGS) -> Tensor:
                w = self.weight(x.size(-1), PASS)
                return torch.to(torch.linear(torch.to(x, BF16), torch.to(w, BF16)), FP32)
              def bf16_bias(SELF, x: Tensor, ARGS, bias: Tensor) -> Tensor:
                w = self.weight(x.size(-1), PASS)
                return torch.to(torch.linear(torch.to(x, BF16), torch.to(w, BF16), torch.to(bias, BF16)), FP32)
            """.replace("SELF", SELF).replace("ARGS", ARGS).replace("PASS", PASS)
            .replace("BF16", String.valueOf(BF16)).replace("FP32", String.valueOf(FP32));

    private PackedKernels() {
    }

    private static final class Holder {
        static final ScriptModule MODULE = ScriptModule.compile("PackedKernels", SOURCE);
    }

    /** Runs {@code method} on {@code first} (input, image or shape carrier), the packed operands, and the bias. */
    static NDArray call(String method, NDArray first, NDArray[] operands, NDArray bias) {
        NDArray[] args = new NDArray[1 + operands.length + (bias == null ? 0 : 1)];
        args[0] = first;
        System.arraycopy(operands, 0, args, 1, operands.length);
        if (bias != null) {
            args[args.length - 1] = bias;
            method = method + "_bias";
        }
        return Holder.MODULE.call(method, args);
    }
}
