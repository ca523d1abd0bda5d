package org.fedqlora.linalg;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Prints the time of a rank-16 QA initialisation at MiniLM/BERT-small sizes; a report, not an assertion on time. */
class SvdTimingTest {

    @ParameterizedTest(name = "{0}x{1} rank {2}")
    @CsvSource({"384, 1536, 16", "1536, 384, 16"})
    void printsTimeOfRank16Decomposition(int rows, int cols, int rank) {
        // Prepare
        Random random = new Random(5);
        float[] a = new float[rows * cols];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
        }
        Svd.lowRank(a, rows, cols, rank); // warm-up

        // Execute
        long start = System.nanoTime();
        Svd.LowRank lr = Svd.lowRank(a, rows, cols, rank);
        double ms = (System.nanoTime() - start) / 1e6;

        // Assert: only that it produced something sensible; the time is printed
        System.out.printf("Svd.lowRank %dx%d rank %d: %.0f ms on %d cores%n", rows, cols, rank, ms,
                Runtime.getRuntime().availableProcessors());
        assertThat(Matrices.frobeniusNorm(lr.l())).isPositive();
    }
}
