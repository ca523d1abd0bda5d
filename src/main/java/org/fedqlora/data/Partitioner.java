package org.fedqlora.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Splits a data set over N federated clients; every example lands in exactly one client, and the same labels, N and
 * seed always give the same {@link Partition}. The standard FL-benchmark schemes (as in NIID-Bench, Li et al. 2022):
 * <ul>
 *   <li>{@code iid}: shuffle, then cut into N parts of nearly equal size.</li>
 *   <li>{@code dirichlet(alpha)}: label skew; for each class, its examples are shuffled and shared out in
 *       proportions p ~ Dir(alpha) over the clients (clients already holding n/N examples get no more); redrawn until
 *       every client holds at least {@code minPerClient}, at most {@value #MAX_TRIES} times. Small alpha = strong skew.</li>
 *   <li>{@code shards(k)}: pathological skew (McMahan et al. 2017); sort by label, cut into N*k shards of nearly equal
 *       size, each client takes k random shards.</li>
 *   <li>{@code quantity(alpha)}: size skew with iid labels; each client first gets {@code minPerClient} examples and
 *       the rest is shared in proportions p ~ Dir(alpha).</li>
 * </ul>
 * As text ({@link #parse}): {@code iid}, {@code dirichlet:0.5}, {@code shards:2}, {@code quantity:1.0}.
 */
public sealed interface Partitioner {
    /** Valid partitioner names. */
    List<String> NAMES = List.of("iid", "dirichlet", "shards", "quantity");
    /** Redraws allowed for {@code dirichlet} to give every client its minimum. */
    int MAX_TRIES = 1000;
    /** Smallest client size for dirichlet/quantity unless given (NIID-Bench uses 10). */
    int DEFAULT_MIN_PER_CLIENT = 10;
    double DEFAULT_ALPHA = 0.5;
    int DEFAULT_SHARDS_PER_CLIENT = 2;

    /**
     * Splits examples with the given label ids (each in 0..numClasses-1) over {@code numClients} clients.
     */
    Partition partition(int[] labels, int numClasses, int numClients, long seed);

    /** Splits a data set over {@code numClients} clients. */
    default Partition partition(Dataset data, int numClients, long seed) {
        return partition(data.labelIds(), data.labels().size(), numClients, seed);
    }

    static Partitioner iid() {
        return new Iid();
    }

    static Partitioner dirichlet(double alpha) {
        return dirichlet(alpha, DEFAULT_MIN_PER_CLIENT);
    }

    static Partitioner dirichlet(double alpha, int minPerClient) {
        return new Dirichlet(alpha, minPerClient);
    }

    static Partitioner shards(int shardsPerClient) {
        return new Shards(shardsPerClient);
    }

    static Partitioner quantity(double alpha) {
        return quantity(alpha, DEFAULT_MIN_PER_CLIENT);
    }

    static Partitioner quantity(double alpha, int minPerClient) {
        return new Quantity(alpha, minPerClient);
    }

    /**
     * A partitioner from text: {@code iid}, {@code dirichlet[:alpha]}, {@code shards[:k]}, {@code quantity[:alpha]};
     * a missing parameter takes its default (alpha {@value #DEFAULT_ALPHA}, k {@value #DEFAULT_SHARDS_PER_CLIENT}).
     */
    static Partitioner parse(String spec) {
        String[] parts = spec.strip().toLowerCase(Locale.ROOT).split(":", 2);
        String name = parts[0];
        String param = parts.length > 1 ? parts[1].strip() : null;
        String valid = "valid: iid, dirichlet[:alpha], shards[:k], quantity[:alpha] (e.g. dirichlet:0.5)";
        try {
            return switch (name) {
                case "iid" -> {
                    if (param != null) {
                        throw new DataException("partitioner 'iid' takes no parameter, got '" + spec + "'");
                    }
                    yield iid();
                }
                case "dirichlet" -> dirichlet(param == null ? DEFAULT_ALPHA : Double.parseDouble(param));
                case "shards" -> shards(param == null ? DEFAULT_SHARDS_PER_CLIENT : Integer.parseInt(param));
                case "quantity" -> quantity(param == null ? DEFAULT_ALPHA : Double.parseDouble(param));
                default -> throw new DataException("unknown partitioner '" + name + "'; " + valid);
            };
        } catch (NumberFormatException e) {
            throw new DataException("partitioner '" + spec + "': '" + param + "' is not a number; " + valid);
        }
    }

    /** Uniform random split. */
    record Iid() implements Partitioner {
        @Override
        public Partition partition(int[] labels, int numClasses, int numClients, long seed) {
            PartitionSupport.sizes(labels, numClasses, numClients, 1);
            int[] order = PartitionSupport.shuffled(labels.length, new SplittableRandom(seed));
            int[] sizes = PartitionSupport.evenSizes(labels.length, numClients);
            return PartitionSupport.build("iid", null, null, null, seed, labels, numClasses, PartitionSupport.cut(order, sizes));
        }
    }

    /** Label skew by per-class Dirichlet proportions. */
    record Dirichlet(double alpha, int minPerClient) implements Partitioner {
        public Dirichlet {
            PartitionSupport.alpha(alpha);
            PartitionSupport.minPerClient(minPerClient);
        }

        @Override
        public Partition partition(int[] labels, int numClasses, int numClients, long seed) {
            PartitionSupport.sizes(labels, numClasses, numClients, minPerClient);
            SplittableRandom random = new SplittableRandom(seed);
            for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
                List<List<Integer>> clients = drawOnce(labels, numClasses, numClients, random);
                if (clients.stream().allMatch(c -> c.size() >= minPerClient)) {
                    return PartitionSupport.build("dirichlet", alpha, null, minPerClient, seed, labels, numClasses, clients);
                }
            }
            throw new DataException("dirichlet(alpha=" + alpha + "): no draw in " + MAX_TRIES + " tries gave each of "
                    + numClients + " clients at least " + minPerClient + " of the " + labels.length + " examples ("
                    + String.format(Locale.ROOT, "%.1f", (double) labels.length / numClients) + " per client on "
                    + "average); raise alpha, use fewer clients, or lower the minimum per client");
        }

        private List<List<Integer>> drawOnce(int[] labels, int numClasses, int numClients, SplittableRandom random) {
            List<List<Integer>> clients = PartitionSupport.emptyLists(numClients);
            double fairShare = (double) labels.length / numClients;
            for (int k = 0; k < numClasses; k++) {
                int[] members = PartitionSupport.membersOf(labels, k);
                PartitionSupport.shuffle(members, random);
                double[] p = DirichletSampler.dirichlet(random, alpha, numClients);
                for (int j = 0; j < numClients; j++) {
                    if (clients.get(j).size() >= fairShare) {
                        p[j] = 0;
                    }
                }
                List<List<Integer>> shares = PartitionSupport.cut(members,
                        PartitionSupport.proportionalSizes(members.length, p));
                for (int j = 0; j < numClients; j++) {
                    clients.get(j).addAll(shares.get(j));
                }
            }
            return clients;
        }
    }

    /** Pathological label skew: each client holds k label-sorted shards. */
    record Shards(int shardsPerClient) implements Partitioner {
        public Shards {
            if (shardsPerClient < 1) {
                throw new DataException("shards per client must be >= 1, got " + shardsPerClient);
            }
        }

        @Override
        public Partition partition(int[] labels, int numClasses, int numClients, long seed) {
            PartitionSupport.sizes(labels, numClasses, numClients, 1);
            int numShards = numClients * shardsPerClient;
            if (numShards > labels.length) {
                throw new DataException("shards: " + numClients + " clients x " + shardsPerClient + " shards = "
                        + numShards + " shards, more than the " + labels.length + " examples; use fewer clients or "
                        + "fewer shards per client");
            }
            SplittableRandom random = new SplittableRandom(seed);
            Integer[] order = Arrays.stream(PartitionSupport.shuffled(labels.length, random)).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingInt(i -> labels[i])); // stable: shuffled within a label
            List<List<Integer>> shards = PartitionSupport.cut(Arrays.stream(order).mapToInt(Integer::intValue).toArray(),
                    PartitionSupport.evenSizes(labels.length, numShards));
            int[] shardOrder = PartitionSupport.shuffled(numShards, random);
            List<List<Integer>> clients = PartitionSupport.emptyLists(numClients);
            for (int s = 0; s < numShards; s++) {
                clients.get(s / shardsPerClient).addAll(shards.get(shardOrder[s]));
            }
            return PartitionSupport.build("shards", null, shardsPerClient, null, seed, labels, numClasses, clients);
        }
    }

    /** Size skew with iid labels. */
    record Quantity(double alpha, int minPerClient) implements Partitioner {
        public Quantity {
            PartitionSupport.alpha(alpha);
            PartitionSupport.minPerClient(minPerClient);
        }

        @Override
        public Partition partition(int[] labels, int numClasses, int numClients, long seed) {
            PartitionSupport.sizes(labels, numClasses, numClients, minPerClient);
            SplittableRandom random = new SplittableRandom(seed);
            double[] p = DirichletSampler.dirichlet(random, alpha, numClients);
            int[] sizes = PartitionSupport.proportionalSizes(labels.length - numClients * minPerClient, p);
            for (int j = 0; j < numClients; j++) {
                sizes[j] += minPerClient;
            }
            int[] order = PartitionSupport.shuffled(labels.length, random);
            return PartitionSupport.build("quantity", alpha, null, minPerClient, seed, labels, numClasses,
                    PartitionSupport.cut(order, sizes));
        }
    }
}
