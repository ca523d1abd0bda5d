package org.fedqlora.engine;

import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * Hands the C heap's free pages back to the operating system during long training loops.
 *
 * <p>Why. libtorch allocates every tensor with glibc's {@code malloc}. A training step frees and re-allocates
 * tensors of a few MB (activations, attention scores); after the first such block is freed, glibc raises its
 * dynamic mmap threshold above that size, so later blocks come from the heap arenas instead of {@code mmap}, and
 * freed arena memory in the middle of a heap is kept, not returned: the resident set creeps up step after step
 * while the live data stay the same. {@code malloc_trim(0)} releases every free page of every arena
 * ({@code madvise(MADV_DONTNEED)}) without moving live blocks; called every few steps it keeps the resident set at
 * the live set plus one step's churn, at the cost of re-faulting pages the next step touches (measured: no
 * slower, see the README's memory figures).
 *
 * <p>Where there is no glibc (musl, macOS) {@link #trim()} does nothing. {@code -Dfedqlora.malloc_trim=false}
 * turns it off (to measure the creep it prevents).
 */
public final class NativeHeap {
    /** Steps between trims in training loops. */
    public static final int EVERY = 16;

    private static final CLib C = load();

    private NativeHeap() {
    }

    /** Releases the C heap's free pages; true when glibc did so. */
    public static boolean trim() {
        if (C == null) {
            return false;
        }
        return C.malloc_trim(0) == 1;
    }

    /** Whether trimming is available and on. */
    public static boolean enabled() {
        return C != null;
    }

    private static CLib load() {
        if (!Boolean.parseBoolean(System.getProperty("fedqlora.malloc_trim", "true"))
                || !System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return null;
        }
        try {
            CLib c = Native.load("c", CLib.class);
            c.malloc_trim(0);               // musl's libc has no malloc_trim: fails here, not in a training loop
            return c;
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }

    /** The one glibc function used. */
    interface CLib extends Library {
        int malloc_trim(long pad);
    }
}
