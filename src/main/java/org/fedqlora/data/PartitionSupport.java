package org.fedqlora.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/** Checks and index arithmetic shared by the {@link Partitioner}s. */
final class PartitionSupport {
    private PartitionSupport() {
    }

    static void sizes(int[] labels, int numClasses, int numClients, int minPerClient) {
        if (numClients < 1) {
            throw new DataException("the number of clients must be >= 1, got " + numClients);
        }
        if (numClients > labels.length) {
            throw new DataException("more clients (" + numClients + ") than examples (" + labels.length
                    + "); every client needs at least one example: use fewer clients or more data");
        }
        if ((long) numClients * minPerClient > labels.length) {
            throw new DataException(numClients + " clients x at least " + minPerClient + " examples each = "
                    + (long) numClients * minPerClient + ", more than the " + labels.length + " examples; use fewer "
                    + "clients, more data, or a lower minimum per client");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is outside 0.."
                        + (numClasses - 1));
            }
        }
    }

    static void alpha(double alpha) {
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new DataException("Dirichlet alpha must be a positive number (e.g. 0.1 = strong skew, "
                    + "100 = nearly uniform), got " + alpha);
        }
    }

    static void minPerClient(int minPerClient) {
        if (minPerClient < 1) {
            throw new DataException("the minimum number of examples per client must be >= 1, got " + minPerClient);
        }
    }

    /** 0..n-1 in a random order (Fisher-Yates). */
    static int[] shuffled(int n, SplittableRandom random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        shuffle(order, random);
        return order;
    }

    static void shuffle(int[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** Indices of the examples with label {@code k}, ascending. */
    static int[] membersOf(int[] labels, int k) {
        int count = 0;
        for (int label : labels) {
            count += label == k ? 1 : 0;
        }
        int[] members = new int[count];
        int m = 0;
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] == k) {
                members[m++] = i;
            }
        }
        return members;
    }

    /** {@code n} split into {@code parts} sizes that differ by at most one (larger ones first). */
    static int[] evenSizes(int n, int parts) {
        int[] sizes = new int[parts];
        for (int j = 0; j < parts; j++) {
            sizes[j] = n / parts + (j < n % parts ? 1 : 0);
        }
        return sizes;
    }

    /**
     * {@code total} split in proportions {@code p} (normalised here; all zero means equal): part j ends at
     * floor(total * (p_0 + ... + p_j)), the last part at {@code total}, so sizes always sum to {@code total}.
     */
    static int[] proportionalSizes(int total, double[] p) {
        double sum = 0;
        for (double v : p) {
            sum += v;
        }
        int[] sizes = new int[p.length];
        double cumulative = 0;
        int previousEnd = 0;
        for (int j = 0; j < p.length; j++) {
            cumulative += sum > 0 ? p[j] / sum : 1.0 / p.length;
            int end = j == p.length - 1 ? total : Math.min(total, (int) Math.floor(cumulative * total));
            end = Math.max(end, previousEnd);
            sizes[j] = end - previousEnd;
            previousEnd = end;
        }
        return sizes;
    }

    /** Consecutive runs of {@code order} with the given sizes. */
    static List<List<Integer>> cut(int[] order, int[] sizes) {
        List<List<Integer>> parts = new ArrayList<>(sizes.length);
        int from = 0;
        for (int size : sizes) {
            List<Integer> part = new ArrayList<>(size);
            for (int i = from; i < from + size; i++) {
                part.add(order[i]);
            }
            parts.add(part);
            from += size;
        }
        return parts;
    }

    static List<List<Integer>> emptyLists(int n) {
        List<List<Integer>> lists = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            lists.add(new ArrayList<>());
        }
        return lists;
    }

    /** The partition record: each client's indices ascending, with its label histogram. */
    static Partition build(String method, Double alpha, Integer shardsPerClient, Integer minPerClient, long seed,
                           int[] labels, int numClasses, List<List<Integer>> clientIndices) {
        List<Partition.Client> clients = new ArrayList<>(clientIndices.size());
        for (int c = 0; c < clientIndices.size(); c++) {
            List<Integer> indices = new ArrayList<>(clientIndices.get(c));
            Collections.sort(indices);
            List<Integer> histogram = new ArrayList<>(Collections.nCopies(numClasses, 0));
            for (int i : indices) {
                histogram.set(labels[i], histogram.get(labels[i]) + 1);
            }
            clients.add(new Partition.Client(c, indices, histogram));
        }
        return new Partition(method, alpha, shardsPerClient, minPerClient, seed, numClasses, clients);
    }
}
