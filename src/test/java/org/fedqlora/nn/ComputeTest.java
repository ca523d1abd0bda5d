package org.fedqlora.nn;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Compute#auto()}'s choice from /proc/cpuinfo: bf16 only where it was measured faster than fp32. */
class ComputeTest {
    private static String cpu(String vendor, String flags) {
        return "processor\t: 0\nvendor_id\t: " + vendor + "\ncpu family\t: 6\nflags\t\t: " + flags + "\n\n"
                + "processor\t: 1\nvendor_id\t: " + vendor + "\nflags\t\t: " + flags + "\n";
    }

    @Test
    void amdWithAvx512Bf16ChoosesBf16() {
        assertTrue(Compute.prefersBf16(cpu("AuthenticAMD", "fpu sse2 avx512f avx512_bf16 avx512_vnni")));
    }

    @Test
    void intelWithAvx512Bf16ButNoAmxChoosesFp32() {
        assertFalse(Compute.prefersBf16(cpu("GenuineIntel", "fpu sse2 avx512f avx512_bf16 avx_vnni")));
    }

    @Test
    void amxChoosesBf16OnAnyVendor() {
        assertTrue(Compute.prefersBf16(cpu("GenuineIntel", "fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8")));
    }

    @Test
    void noNativeBf16OrNoFlagsChoosesFp32() {
        assertFalse(Compute.prefersBf16(cpu("AuthenticAMD", "fpu sse2 avx2 avx512f")));
        assertFalse(Compute.prefersBf16(""));
        assertFalse(Compute.prefersBf16("vendor_id\t: AuthenticAMD\n"));
    }

    @Test
    void parseNamesTheValidValues() {
        assertEquals(Compute.FP32, Compute.parse("FP32"));
        assertEquals(Compute.BF16, Compute.parse("bf16"));
        assertTrue(assertThrows(org.fedqlora.UserException.class, () -> Compute.parse("fp16")).getMessage()
                .contains("valid: fp32, bf16, auto"));
    }
}
