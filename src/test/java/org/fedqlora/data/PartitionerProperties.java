package org.fedqlora.data;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Laws every partitioner obeys, over random sizes, labels and client counts. */
class PartitionerProperties {
    /** A random problem: labels in 0..classes-1, a client count <= n, and a partitioner that fits them. */
    record Case(int[] labels, int classes, int clients, Partitioner partitioner, long seed) {
    }

    @Provide
    Arbitrary<Case> cases() {
        Arbitrary<Integer> sizes = Arbitraries.integers().between(1, 400);
        Arbitrary<Integer> classCounts = Arbitraries.integers().between(1, 12);
        return Combinators.combine(sizes, classCounts, Arbitraries.longs(), Arbitraries.integers().between(0, 3),
                        Arbitraries.doubles().between(0.01, 50))
                .flatAs((n, classes, seed, method, alpha) -> Arbitraries.integers().between(0, classes - 1).array(
                                int[].class).ofSize(n)
                        .flatMap(labels -> Arbitraries.integers().between(1, maxClients(method, n))
                                .map(clients -> new Case(labels, classes, clients,
                                        partitioner(method, alpha, n, clients), seed))));
    }

    /** Dirichlet label skew redraws until no client is empty, which needs a fair number of examples per client. */
    private static int maxClients(int method, int n) {
        return method == 1 ? Math.max(1, Math.min(n / 20, 30)) : Math.min(n, 30);
    }

    private static Partitioner partitioner(int method, double alpha, int n, int clients) {
        return switch (method) {
            case 0 -> Partitioner.iid();
            case 1 -> Partitioner.dirichlet(Math.max(alpha, 0.5), 1); // tiny alpha may exhaust the redraws
            case 2 -> Partitioner.shards(Math.max(1, Math.min(3, n / clients)));
            default -> Partitioner.quantity(alpha, 1);
        };
    }

    @Property(tries = 300)
    void everyExampleLandsInExactlyOneClient(@ForAll("cases") Case c) {
        Partition p = c.partitioner().partition(c.labels(), c.classes(), c.clients(), c.seed());

        int[] seen = new int[c.labels().length];
        for (Partition.Client client : p.clients()) {
            client.indices().forEach(i -> seen[i]++);
        }
        for (int count : seen) {
            assertThat(count).isEqualTo(1);
        }
        assertThat(p.numClients()).isEqualTo(c.clients());
    }

    @Property(tries = 300)
    void histogramsCountEachClientsLabelsAndNoClientIsEmpty(@ForAll("cases") Case c) {
        Partition p = c.partitioner().partition(c.labels(), c.classes(), c.clients(), c.seed());

        for (Partition.Client client : p.clients()) {
            int[] histogram = new int[c.classes()];
            client.indices().forEach(i -> histogram[c.labels()[i]]++);
            assertThat(client.labelHistogram()).containsExactlyElementsOf(
                    java.util.Arrays.stream(histogram).boxed().toList());
            assertThat(client.size()).isPositive();
            assertThat(client.indices()).isSorted();
        }
    }

    @Property(tries = 100)
    void sameSeedSamePartition(@ForAll("cases") Case c) {
        List<Partition> twice = List.of(c.partitioner().partition(c.labels(), c.classes(), c.clients(), c.seed()),
                c.partitioner().partition(c.labels(), c.classes(), c.clients(), c.seed()));

        assertThat(twice.get(0)).isEqualTo(twice.get(1));
    }
}
