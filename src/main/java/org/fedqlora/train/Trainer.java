package org.fedqlora.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.UserException;
import org.fedqlora.engine.Engines;
import org.fedqlora.engine.NativeHeap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * The local training loop: shuffled mini-batches, forward, cross-entropy, backward (only the given parameters
 * have gradients; the base never does), clipping, optimizer step, optional FedProx term and periodic evaluation.
 * Every step runs in its own NDManager, so native memory stays flat however long training runs.
 */
public final class Trainer {
    /** Called after every step and every evaluation (progress bars, metric logs). */
    public interface Listener {
        default void step(int step, int total, float loss, long tokens, double seconds) {
        }

        default void evaluated(int step, Metrics metrics) {
        }
    }

    /** What a training run produced. */
    public record Result(List<Float> losses, int steps, long examples, long tokens, double seconds, List<Metrics> evals) {
        public double meanLoss() {
            return losses.stream().mapToDouble(Float::doubleValue).average().orElse(Double.NaN);
        }
    }

    private Trainer() {
    }

    /**
     * What a training step minimises: a 0-d loss over a mini-batch of example indices (classification's
     * cross-entropy, causal-LM's response-token cross-entropy), built in the step's manager.
     */
    public interface Objective {
        /** Number of training examples. */
        int size();

        /** The manager the model lives in (each step runs in a sub-manager of it). */
        NDManager manager();

        /** The loss of the examples {@code idx}, inside the gradient collector; every array in {@code step}. */
        NDArray loss(NDManager step, int[] idx);

        /** Tokens the examples {@code idx} hold (for throughput). */
        long tokens(int[] idx);

        /**
         * The adapters on the model, or null: those the step does not train are folded into their layers'
         * weights for the run ({@link AdapterSet#foldFrozen}), one product instead of three per frozen adapter.
         */
        default AdapterSet adapters() {
            return null;
        }
    }

    /**
     * Trains {@code params} of {@code clf} on {@code data}.
     *
     * @param anchor for FedProx: the arrays the parameters are pulled towards (same order), or null
     */
    public static Result train(TextClassifier clf, List<NDArray> params, EncodedExamples data, EncodedExamples eval,
                               TrainOptions o, List<NDArray> anchor, Listener listener) {
        NDManager root = clf.encoder().manager();
        Objective objective = classification(clf, data);
        Supplier<Metrics> evaluate = eval == null ? null
                : () -> Evaluator.evaluate(clf, eval, Math.max(o.batchSize(), 32), root).metrics();
        return run(objective, params, o, anchor, evaluate, listener);
    }

    /** Classification's objective: mean cross-entropy of the classifier's logits against the labels. */
    public static Objective classification(TextClassifier clf, EncodedExamples data) {
        NDManager root = clf.encoder().manager();
        return new Objective() {
            @Override
            public int size() {
                return data.size();
            }

            @Override
            public NDManager manager() {
                return root;
            }

            @Override
            public NDArray loss(NDManager step, int[] idx) {
                NDArray labels = step.create(data.labels(idx));
                return TextClassifier.crossEntropy(clf.logits(step, data.batch(idx), true), labels);
            }

            @Override
            public AdapterSet adapters() {
                return clf.adapters();
            }

            @Override
            public long tokens(int[] idx) {
                long n = 0;                     // the real tokens of the batch, without padding it a second time
                for (int i : idx) {
                    n += data.length(i);
                }
                return n;
            }
        };
    }

    /**
     * The loop itself, for any objective: shuffled mini-batches, backward, FedProx term, clipping, optimizer step;
     * {@code evaluate} (or null) runs every {@code o.evalEvery()} steps.
     */
    public static Result run(Objective objective, List<NDArray> params, TrainOptions o, List<NDArray> anchor,
                             Supplier<Metrics> evaluate, Listener listener) {
        if (objective.size() == 0) {
            throw new UserException("no training examples");
        }
        NDManager root = objective.manager();
        Engine engine = Engines.get();
        params.forEach(p -> p.setRequiresGradient(true));
        int total = o.totalSteps(objective.size());
        Schedule schedule = new Schedule(o.lr(), o.warmupSteps(), total, o.decay());
        SplittableRandom rnd = new SplittableRandom(o.seed());
        List<Float> losses = new ArrayList<>();
        List<Metrics> evals = new ArrayList<>();
        long tokens = 0;
        long examples = 0;
        long t0 = System.nanoTime();
        int[] order = new int[0];
        int cursor = 0;
        AdapterSet adapters = objective.adapters();
        if (adapters != null) {
            adapters.foldFrozen(params);                    // e.g. FedQLoRA's QA adapters while LoRA trains
        }
        try (Optimizer opt = new Optimizer(o.optimizer(), o.weightDecay(), o.momentum(), root)) {
            for (int s = 0; s < total; s++) {
                if (cursor >= order.length) {               // a new epoch: reshuffle (last batch may be short)
                    order = shuffled(objective.size(), rnd);
                    cursor = 0;
                }
                int[] idx = Arrays.copyOfRange(order, cursor, Math.min(order.length, cursor + o.batchSize()));
                cursor += idx.length;
                float loss;
                try (NDManager step = root.newSubManager()) {
                    NDArray lossArr;
                    try (GradientCollector gc = engine.newGradientCollector()) {
                        lossArr = objective.loss(step, idx);
                        gc.backward(lossArr);
                    }
                    loss = lossArr.getFloat();
                    if (anchor != null && o.proximalMu() > 0) {
                        addProximal(params, anchor, o.proximalMu(), step);
                    }
                    opt.step(params, schedule.at(s), o.maxGradNorm(), step);
                }
                if ((s + 1) % NativeHeap.EVERY == 0) {
                    NativeHeap.trim();                       // freed step tensors back to the OS (see NativeHeap)
                }
                if (!Float.isFinite(loss)) {
                    throw new UserException("training diverged at step " + (s + 1) + " (loss " + loss
                            + "); lower the learning rate (now " + o.lr() + ")");
                }
                losses.add(loss);
                tokens += objective.tokens(idx);
                examples += idx.length;
                listener.step(s + 1, total, loss, tokens, (System.nanoTime() - t0) / 1e9);
                if (evaluate != null && o.evalEvery() > 0 && (s + 1) % o.evalEvery() == 0 && s + 1 < total) {
                    Metrics m = evaluate.get();
                    evals.add(m);
                    listener.evaluated(s + 1, m);
                }
            }
        } finally {
            params.forEach(p -> p.setRequiresGradient(false));
            if (adapters != null) {
                adapters.unfold();
            }
        }
        return new Result(losses, total, examples, tokens, (System.nanoTime() - t0) / 1e9, evals);
    }

    /** g += μ·(w − w_anchor), in place on the gradient (FedProx's proximal term μ/2·‖w − w_anchor‖²). */
    private static void addProximal(List<NDArray> params, List<NDArray> anchor, float mu, NDManager step) {
        for (int i = 0; i < params.size(); i++) {
            NDArray p = params.get(i);
            NDArray g = p.getGradient();
            g.attach(step);
            NDArray diff = p.sub(anchor.get(i));
            diff.attach(step);
            g.addi(diff.mul(mu));
        }
    }

    private static int[] shuffled(int n, SplittableRandom rnd) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
