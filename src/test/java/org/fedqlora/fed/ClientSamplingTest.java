package org.fedqlora.fed;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import org.fedqlora.UserException;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Client sampling: how many, which, and reproducibility. */
class ClientSamplingTest {
    private static List<String> ids(int n) {
        return IntStream.range(0, n).mapToObj(i -> String.format("client-%02d", i)).toList();
    }

    @Property(tries = 300)
    void samplesTheDocumentedNumberOfDistinctAvailableClientsInOrder(
            @ForAll @IntRange(min = 1, max = 30) int available,
            @ForAll @DoubleRange(min = 0.01, max = 1) double fraction,
            @ForAll @IntRange(min = 1, max = 30) int minClients, @ForAll long seed) {
        // Prepare
        if (minClients > available) {
            minClients = available;
        }

        // Execute
        List<String> sampled = ClientSampling.sample("fit", ids(available), fraction, minClients,
                new SplittableRandom(seed));

        // Assert
        int expected = Math.max(minClients, (int) Math.floor(fraction * available));
        assertThat(sampled).hasSize(expected).doesNotHaveDuplicates().isSorted();
        assertThat(ids(available)).containsAll(sampled);
    }

    @Test
    void theSameSeedSamplesTheSameClients() {
        // Execute
        List<String> first = ClientSampling.sample("fit", ids(20), 0.25, 1, Server.random(42, 3, Failure.FIT));
        List<String> again = ClientSampling.sample("fit", ids(20), 0.25, 1, Server.random(42, 3, Failure.FIT));

        // Assert
        assertThat(again).isEqualTo(first).hasSize(5);
    }

    @Test
    void samplingVariesAcrossRoundsAndCoversEveryClient() {
        // Execute: 50 rounds of 5 out of 20
        Set<List<String>> distinct = new HashSet<>();
        Set<String> seen = new HashSet<>();
        for (int round = 1; round <= 50; round++) {
            List<String> s = ClientSampling.sample("fit", ids(20), 0.25, 1, Server.random(42, round, Failure.FIT));
            distinct.add(s);
            seen.addAll(s);
        }

        // Assert
        assertThat(distinct.size()).isGreaterThan(40);
        assertThat(seen).hasSize(20);
    }

    @Test
    void tooFewAvailableClientsIsAUserError() {
        assertThatThrownBy(() -> ClientSampling.sample("fit", ids(3), 1.0, 4, new SplittableRandom(1)))
                .isInstanceOf(UserException.class)
                .hasMessageContaining("3 clients are available but at least 4 are required");
    }
}
