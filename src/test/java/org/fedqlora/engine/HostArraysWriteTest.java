package org.fedqlora.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link HostArrays#write} overwrites an array in place, and refuses a size or dtype mismatch. */
class HostArraysWriteTest {
    @Test
    void writesInPlaceRowMajor() {
        try (NDManager m = Engines.newManager()) {
            NDArray a = m.zeros(new Shape(2, 3));
            NDArray view = a.get("1");                     // shares a's memory
            HostArrays.write(a, new float[] {1, 2, 3, 4, 5, 6});
            assertThat(a.toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(view.toFloatArray()).containsExactly(4, 5, 6);
        }
    }

    @Test
    void refusesWrongSize() {
        try (NDManager m = Engines.newManager()) {
            NDArray a = m.zeros(new Shape(2, 3));
            assertThatThrownBy(() -> HostArrays.write(a, new float[5])).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
