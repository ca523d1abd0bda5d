package org.fedqlora.sim;

import org.fedqlora.UserException;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Example;
import org.fedqlora.data.DemoInstructions;
import org.fedqlora.data.Fields;
import org.fedqlora.data.InstructionFiles;
import org.fedqlora.data.LabelMap;
import org.fedqlora.data.Partition;
import org.fedqlora.data.Partitioner;
import org.fedqlora.data.Splits;
import org.fedqlora.sim.config.SimConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The data of one run: the training pool, the global test set, and each client's share, split into its local
 * training part and its local (personalised) test part. Everything is a deterministic function of the config.
 *
 * @param train       the training pool (after data.limit)
 * @param test        the held-out global test set (after eval.max_examples)
 * @param partition   which pool examples each client holds
 * @param clientTrain per client: pool indices it trains on
 * @param clientTest  per client: pool indices of its local test split
 */
public record SimData(Dataset train, Dataset test, Partition partition, List<int[]> clientTrain, List<int[]> clientTest) {

    public static SimData load(SimConfig c) {
        SimConfig.Data d = c.data();
        Fields fields = new Fields(d.textField(), d.labelField());
        boolean lm = SimTask.of(c).causalLm();
        Dataset pool;
        Dataset test;
        Partition partition = null;
        if (c.partition().method().equals("files")) {
            return fromClientFiles(c, fields);
        }
        if (lm) {
            // instruction data: each example's text is its conversation, its label the category (see InstructionFiles)
            if (d.train().equals("demo")) {
                DemoData.Demo demo = DemoData.generate(c.seed());
                pool = InstructionFiles.asDataset(DemoInstructions.conversations(demo.train(), "demo instructions (train)"));
                test = d.test().isPresent() ? instructions(c, d.test().get())
                        : InstructionFiles.asDataset(DemoInstructions.conversations(demo.test(), "demo instructions (test)"));
            } else {
                pool = instructions(c, d.train());
                if (d.test().isPresent()) {
                    test = instructions(c, d.test().get());
                } else {
                    Splits.TrainEval s = Splits.trainEval(pool, d.evalFraction(), c.seed());
                    pool = s.train();
                    test = s.eval();
                }
            }
            checkCategories(c, pool);
        } else if (d.train().equals("demo")) {
            DemoData.Demo demo = DemoData.generate(c.seed());
            pool = demo.train();
            test = d.test().isPresent() ? DatasetFiles.load(Path.of(d.test().get()), fields, pool.labels()) : demo.test();
        } else {
            pool = DatasetFiles.load(Path.of(d.train()), fields);
            if (d.test().isPresent()) {
                test = DatasetFiles.load(Path.of(d.test().get()), fields, pool.labels());
            } else {
                Splits.TrainEval s = Splits.trainEval(pool, d.evalFraction(), c.seed());
                pool = s.train();
                test = s.eval();
            }
        }
        pool = limit(pool, d.limit(), c.seed(), "data.limit");
        test = limit(test, c.eval().maxExamples(), c.seed() + 1, "eval.max_examples");
        if (c.clients() > pool.size()) {
            throw new UserException(c.clients() + " clients but only " + pool.size() + " training examples"
                    + (d.limit() > 0 ? " (data.limit = " + d.limit() + ")" : "") + ": use fewer clients or more data");
        }
        partition = partitioner(c).partition(pool, c.clients(), c.seed());
        return split(c, pool, test, partition);
    }

    private static Dataset instructions(SimConfig c, String file) {
        return InstructionFiles.asDataset(InstructionFiles.load(Path.of(file), c.data().categoryField()));
    }

    /** dirichlet and shards skew over labels: instruction data needs categories for them. */
    private static void checkCategories(SimConfig c, Dataset pool) {
        String m = c.partition().method();
        if ((m.equals("dirichlet") || m.equals("shards")) && pool.labels().size() == 1) {
            throw new UserException("partition.method = " + m + " skews the clients over categories, but "
                    + pool.source() + " has " + (pool.labels().labels().get(0).equals(InstructionFiles.NO_CATEGORY)
                    ? "no '" + c.data().categoryField() + "' field" : "a single category") + "; use iid or quantity, "
                    + "or name the category field with data.category_field");
        }
    }

    private static Partitioner partitioner(SimConfig c) {
        SimConfig.Partition p = c.partition();
        return switch (p.method()) {
            case "iid" -> Partitioner.iid();
            case "dirichlet" -> Partitioner.dirichlet(p.alpha(), p.minSize());
            case "shards" -> Partitioner.shards(p.shardsPerClient());
            case "quantity" -> Partitioner.quantity(p.alpha(), p.minSize());
            default -> throw new UserException("unknown partition method '" + p.method() + "'");
        };
    }

    /** One file per client: the pool is their concatenation, client i holds file i's examples. */
    private static SimData fromClientFiles(SimConfig c, Fields fields) {
        List<Dataset> files = new ArrayList<>();
        Set<String> labels = new LinkedHashSet<>();
        boolean lm = SimTask.of(c).causalLm();
        for (String f : c.data().clientFiles()) {
            Dataset ds = lm ? instructions(c, f) : DatasetFiles.load(Path.of(f), fields);
            files.add(ds);
            labels.addAll(ds.labels().labels());
        }
        LabelMap map = LabelMap.fromObserved(labels);
        List<Example> all = new ArrayList<>();
        List<Partition.Client> clients = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            Dataset ds = files.get(i).withLabelMap(map);
            List<Integer> idx = new ArrayList<>();
            List<Integer> hist = new ArrayList<>(Collections.nCopies(map.size(), 0));
            for (Example e : ds.examples()) {
                idx.add(all.size());
                all.add(e);
                hist.set(e.label(), hist.get(e.label()) + 1);
            }
            clients.add(new Partition.Client(i, idx, hist));
        }
        Dataset pool = new Dataset(all, map, "client files");
        Dataset test;
        if (c.data().test().isPresent()) {
            test = lm ? instructions(c, c.data().test().get()) : DatasetFiles.load(Path.of(c.data().test().get()), fields, map);
        } else {
            throw new UserException("partition.method = files needs a global test set in data.test");
        }
        test = limit(test, c.eval().maxExamples(), c.seed() + 1, "eval.max_examples");
        Partition partition = new Partition("files", null, null, null, c.seed(), map.size(), clients);
        return split(c, pool, test, partition);
    }

    /** Holds out local_test_fraction of each client's examples (at least one stays for training). */
    private static SimData split(SimConfig c, Dataset pool, Dataset test, Partition partition) {
        List<int[]> train = new ArrayList<>();
        List<int[]> local = new ArrayList<>();
        double f = c.partition().localTestFraction();
        for (Partition.Client cl : partition.clients()) {
            List<Integer> idx = new ArrayList<>(cl.indices());
            int[][] split = localSplit(idx.size(), f, c.seed(), cl.client());
            local.add(java.util.Arrays.stream(split[1]).map(idx::get).sorted().toArray());
            train.add(java.util.Arrays.stream(split[0]).map(idx::get).sorted().toArray());
            if (train.get(train.size() - 1).length == 0) {
                throw new UserException("client " + cl.client() + " has no training examples");
            }
        }
        return new SimData(pool, test, partition, train, local);
    }

    /**
     * Which of a client's n examples (positions 0..n-1, in pool order) it trains on and which it holds out for
     * local testing: local_test_fraction of them, at least one left for training, chosen by a shuffle seeded by
     * (seed, client). A deployed client applies the same rule to its own data file.
     *
     * @return {train positions, local test positions}, each ascending
     */
    static int[][] localSplit(int n, double fraction, long seed, int client) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            idx.add(i);
        }
        Collections.shuffle(idx, new Random(seed * 7919 + client));
        int nTest = (int) Math.min(n - 1, Math.round(fraction * n));
        return new int[][] {idx.subList(nTest, n).stream().mapToInt(Integer::intValue).sorted().toArray(),
                idx.subList(0, nTest).stream().mapToInt(Integer::intValue).sorted().toArray()};
    }

    /** The number of a client's n examples it trains on (see {@link #localSplit}); does not depend on the seed. */
    static int trainCount(int n, double fraction) {
        return n - (int) Math.min(n - 1, Math.round(fraction * n));
    }

    /** A seeded random subset of at most {@code n} examples (n = 0: all), in the original order. */
    static Dataset limit(Dataset d, int n, long seed, String key) {
        if (n <= 0 || n >= d.size()) {
            return d;
        }
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < d.size(); i++) {
            idx.add(i);
        }
        Collections.shuffle(idx, new Random(seed));
        List<Integer> keep = new ArrayList<>(idx.subList(0, n));
        Collections.sort(keep);
        return d.subset(keep, d.source() + " (" + key + " " + n + ")");
    }
}
