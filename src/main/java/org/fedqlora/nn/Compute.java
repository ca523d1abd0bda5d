package org.fedqlora.nn;

import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * The precision the frozen products of a model run in: the base linear layers (x·Wᵀ + b) and the attention
 * products (q·kᵀ, p·v). Everything trained (LoRA and QA factors, the head, optimizer state) and the loss stay
 * float32 in both: BF16 is mixed precision with fp32 master weights, the way {@code torch.autocast} works on a
 * CPU. BF16 pays where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere PyTorch emulates it
 * and it is slower than FP32, hence {@link #auto()}.
 */
public enum Compute {
    /** float32 everywhere. */
    FP32,
    /** bfloat16 inputs, float32 accumulation, outputs rounded to bfloat16 and returned as float32. */
    BF16;

    /** CPU flags (from /proc/cpuinfo) that mean native bf16 dot products. */
    static final Set<String> BF16_FLAGS = Set.of("avx512_bf16", "amx_bf16");

    /** "fp32", "bf16" or "auto". */
    public static Compute parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "fp32" -> FP32;
            case "bf16" -> BF16;
            case "auto" -> auto();
            default -> throw new UserException("unknown compute precision '" + s + "' (valid: fp32, bf16, auto)");
        };
    }

    /** BF16 where this CPU has native bf16 dot products, FP32 elsewhere. */
    public static Compute auto() {
        return Holder.AUTO;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether a /proc/cpuinfo text announces native bf16 (a "flags" line with avx512_bf16 or amx_bf16). */
    static boolean hasNativeBf16(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            if (line.startsWith("flags") && line.contains(":")) {
                for (String flag : line.substring(line.indexOf(':') + 1).trim().split("\\s+")) {
                    if (BF16_FLAGS.contains(flag)) {
                        return true;
                    }
                }
                return false;   // every core lists the same flags
            }
        }
        return false;
    }

    private static final class Holder {
        static final Compute AUTO = detect();

        private static Compute detect() {
            try {
                return hasNativeBf16(Files.readString(Path.of("/proc/cpuinfo"))) ? BF16 : FP32;
            } catch (IOException | RuntimeException e) {
                return FP32;   // no /proc (not Linux): the safe choice
            }
        }
    }
}
