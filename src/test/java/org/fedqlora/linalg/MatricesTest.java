package org.fedqlora.linalg;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MatricesTest {

    @Test
    void matmulMultipliesRowMajorMatrices() {
        // (2, 3) · (3, 2)
        float[] a = {1, 2, 3, 4, 5, 6};
        float[] b = {7, 8, 9, 10, 11, 12};
        assertThat(Matrices.matmul(a, b, 2, 3, 2)).containsExactly(58, 64, 139, 154);
    }

    @Test
    void transposeSwapsRowsAndColumns() {
        assertThat(Matrices.transpose(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)).containsExactly(1, 4, 2, 5, 3, 6);
    }

    @Test
    void normsAndDifferences() {
        assertThat(Matrices.frobeniusNorm(new float[] {3, 4, 0, 12})).isEqualTo(13.0);
        assertThat(Matrices.subtract(new float[] {5, 1}, new float[] {2, 3})).containsExactly(3, -2);
        assertThat(Matrices.maxAbsDifference(new float[] {5, 1}, new float[] {2, 3})).isEqualTo(3.0);
    }

    @Test
    void mismatchedShapesAreRejected() {
        assertThatThrownBy(() -> Matrices.matmul(new float[6], new float[6], 2, 3, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("right operand has 6 elements, expected a (3, 3) matrix with 9");
        assertThatThrownBy(() -> Matrices.subtract(new float[2], new float[3]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 and 3 elements");
    }
}
