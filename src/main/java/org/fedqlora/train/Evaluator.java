package org.fedqlora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.engine.NativeHeap;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Runs a classifier over examples without gradients: loss, accuracy, macro-F1, and each example's probabilities. */
public final class Evaluator {
    private Evaluator() {
    }

    /** Predictions of one evaluation, in example order. */
    public record Result(Metrics metrics, int[] predicted, float[][] probabilities) {
    }

    /**
     * Evaluates without autograd: grad mode is switched off on this thread for the call (it is on by default on
     * every thread but the engine's, DJL-NOTES trap 10), so no graph is recorded and the BF16 kernels run under
     * inference mode.
     */
    public static Result evaluate(TextClassifier clf, EncodedExamples data, int batchSize, NDManager parent) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        // nothing changes during an evaluation: every adapter folds into its layer's weight (Linear#fold), unless
        // a caller (a training run evaluating as it goes) has folded some already
        AdapterSet adapters = clf.adapters();
        boolean folded = adapters != null && !adapters.isFolded() && adapters.fold(a -> true);
        try {
            return run(clf, data, batchSize, parent);
        } finally {
            if (folded) {
                adapters.unfold();
            }
            JniUtils.setGradMode(grad);
            NativeHeap.trim();                               // the batches' freed tensors back to the OS
        }
    }

    private static Result run(TextClassifier clf, EncodedExamples data, int batchSize, NDManager parent) {
        int n = data.size();
        int K = clf.head().classes();
        // sort by length so batches carry little padding; results go back to example order
        int[] order = IntStream.range(0, n).boxed().sorted(Comparator.comparingInt(data::length))
                .mapToInt(Integer::intValue).toArray();
        int[] predicted = new int[n];
        float[][] probs = new float[n][];
        double lossSum = 0;
        for (int start = 0; start < n; start += batchSize) {
            int[] idx = Arrays.copyOfRange(order, start, Math.min(n, start + batchSize));
            try (NDManager step = parent.newSubManager()) {
                NDArray logits = clf.logits(step, data.batch(idx), false);
                NDArray labels = step.create(data.labels(idx));
                lossSum += TextClassifier.crossEntropy(logits, labels).getFloat() * idx.length;
                float[] p = logits.softmax(-1).toFloatArray();
                for (int b = 0; b < idx.length; b++) {
                    float[] row = Arrays.copyOfRange(p, b * K, (b + 1) * K);
                    probs[idx[b]] = row;
                    predicted[idx[b]] = argmax(row);
                }
            }
        }
        int[] labels = IntStream.range(0, n).map(data::label).toArray();
        return new Result(Metrics.of(labels, predicted, K, n == 0 ? 0 : lossSum / n), predicted, probs);
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
