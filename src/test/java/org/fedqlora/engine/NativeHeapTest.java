package org.fedqlora.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The creep {@link NativeHeap} prevents, reproduced with libtorch tensors: freed heap blocks stay resident until
 * {@code malloc_trim} returns them.
 */
class NativeHeapTest {
    @Test
    @EnabledOnOs(OS.LINUX)
    void trimReturnsFreedTensorMemoryToTheSystem() throws IOException {
        assertThat(NativeHeap.enabled()).as("glibc's malloc_trim found").isTrue();
        try (NDManager m = Engines.newManager()) {
            // free one 16 MB block first: glibc then raises its mmap threshold, so the 4 MB blocks below come
            // from the heap, as a training step's activations do
            m.zeros(new Shape(4, 1 << 20)).close();
            List<NDArray> blocks = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                blocks.add(m.ones(new Shape(1 << 20)));                   // 4 MB each, 256 MB, touched
            }
            NDArray pin = m.ones(new Shape(1 << 10));                    // keeps the heap's top in use
            blocks.forEach(NDArray::close);
            long before = rssMb();
            assertThat(NativeHeap.trim()).isTrue();
            long after = rssMb();
            System.out.printf("RSS before trim %d MB, after %d MB%n", before, after);
            assertThat(before - after).as("MB released by malloc_trim").isGreaterThan(128);
            pin.close();
        }
    }

    private static long rssMb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
            }
        }
        throw new IllegalStateException("no VmRSS");
    }
}
