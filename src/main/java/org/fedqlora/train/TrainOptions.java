package org.fedqlora.train;

import org.fedqlora.UserException;

/**
 * Local training settings.
 *
 * @param epochs       passes over the data (ignored when {@code steps} &gt; 0)
 * @param steps        optimizer steps; 0 means {@code epochs} passes
 * @param batchSize    examples per step
 * @param optimizer    sgd or adamw
 * @param lr           peak learning rate
 * @param weightDecay  decoupled (AdamW) or L2 (SGD) weight decay
 * @param momentum     SGD momentum
 * @param maxGradNorm  global gradient-norm clip, 0 = off
 * @param warmupSteps  linear warm-up steps
 * @param decay        linear decay to 0 after warm-up
 * @param seed         shuffling (and LoRA dropout through torch's generator)
 * @param evalEvery    evaluate every N steps (0 = only at the end)
 * @param proximalMu   FedProx μ: adds μ·(w − w_anchor) to each gradient (0 = off)
 */
public record TrainOptions(int epochs, int steps, int batchSize, Optimizer.Kind optimizer, float lr, float weightDecay,
                           float momentum, float maxGradNorm, int warmupSteps, boolean decay, long seed, int evalEvery,
                           float proximalMu) {

    public TrainOptions {
        if (batchSize < 1) {
            throw new UserException("batch size must be at least 1, got " + batchSize);
        }
        if (epochs < 1 && steps < 1) {
            throw new UserException("train for at least one epoch or one step");
        }
        if (!(lr > 0)) {
            throw new UserException("learning rate must be positive, got " + lr);
        }
    }

    /** Optimizer steps for {@code n} examples. */
    public int totalSteps(int n) {
        return steps > 0 ? steps : epochs * Math.max(1, (n + batchSize - 1) / batchSize);
    }
}
