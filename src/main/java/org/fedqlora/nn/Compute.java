package org.fedqlora.nn;

import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The precision the frozen products of a model run in: the base linear layers (x·Wᵀ + b) and the attention
 * products (q·kᵀ, p·v). Everything trained (LoRA and QA factors, the head, optimizer state) and the loss stay
 * float32 in both: BF16 is mixed precision with fp32 master weights, the way {@code torch.autocast} works on a
 * CPU. BF16 pays where the CPU multiplies bfloat16 natively and oneDNN's bf16 kernels beat MKL's fp32 GEMM: AMX,
 * or AVX512-BF16 on AMD Zen 4/5 (measured 1.5× fp32). On an Intel CPU with AVX512-BF16 but no AMX our bf16 step
 * measured 0.50× the fp32 step (README, "Against PyTorch"), and without native bf16 PyTorch emulates it; hence
 * {@link #auto()}.
 */
public enum Compute {
    /** float32 everywhere. */
    FP32,
    /** bfloat16 inputs, float32 accumulation, outputs rounded to bfloat16 and returned as float32. */
    BF16;

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

    /**
     * Whether a /proc/cpuinfo text describes a CPU where bf16 is the faster compute: its "flags" line has amx_bf16,
     * or it has avx512_bf16 and its "vendor_id" is AuthenticAMD (Intel without AMX runs our bf16 step at half the
     * fp32 speed).
     */
    static boolean prefersBf16(String cpuinfo) {
        String vendor = "";
        for (String line : cpuinfo.split("\n")) {
            if (line.startsWith("vendor_id") && line.contains(":")) {
                vendor = line.substring(line.indexOf(':') + 1).trim();
            }
            if (line.startsWith("flags") && line.contains(":")) {
                List<String> flags = List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                return flags.contains("amx_bf16") || (flags.contains("avx512_bf16") && vendor.equals("AuthenticAMD"));
            }
        }
        return false;
    }

    private static final class Holder {
        static final Compute AUTO = detect();

        private static Compute detect() {
            try {
                return prefersBf16(Files.readString(Path.of("/proc/cpuinfo"))) ? BF16 : FP32;
            } catch (IOException | RuntimeException e) {
                return FP32;   // no /proc (not Linux): the safe choice
            }
        }
    }
}
