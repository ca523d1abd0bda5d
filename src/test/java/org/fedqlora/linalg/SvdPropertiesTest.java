package org.fedqlora.linalg;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Laws of the best rank-r approximation that hold for any matrix. */
class SvdPropertiesTest {
    /** Slack for float rounding, relative to |A|_F. */
    private static final double ROUNDING_SLACK = 1e-5;

    @Property(tries = 200)
    void truncationErrorIsBoundedByTheNormAndNonIncreasingInRank(@ForAll @IntRange(min = 1, max = 14) int rows,
                                                                 @ForAll @IntRange(min = 1, max = 14) int cols,
                                                                 @ForAll long seed) {
        // Prepare: Gaussian entries, some rows scaled to zero to create rank deficiency
        Random random = new Random(seed);
        float[] a = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            double rowScale = random.nextInt(4) == 0 ? 0.0 : Math.exp(3 * random.nextGaussian());
            for (int j = 0; j < cols; j++) {
                a[i * cols + j] = (float) (rowScale * random.nextGaussian());
            }
        }
        double norm = Matrices.frobeniusNorm(a);
        double slack = ROUNDING_SLACK * norm;

        // Execute and Assert
        double previous = norm;
        for (int rank = 1; rank <= Math.min(rows, cols); rank++) {
            float[] product = Svd.lowRank(a, rows, cols, rank).product();
            double error = Matrices.frobeniusNorm(Matrices.subtract(a, product));
            assertThat(error).as("rank %d error vs |A| = %s", rank, norm).isLessThanOrEqualTo(norm + slack);
            assertThat(error).as("rank %d error vs rank %d", rank, rank - 1).isLessThanOrEqualTo(previous + slack);
            previous = error;
        }
    }
}
