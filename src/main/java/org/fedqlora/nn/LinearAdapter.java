package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.List;

/**
 * A term added to a {@link Linear}'s output: {@code y += delta(x)} where delta is linear in x
 * (a QA adapter x·(L·R)ᵀ, a LoRA s·x·Aᵀ·Bᵀ). Parameters live in the adapter's own manager.
 */
public interface LinearAdapter {
    /** x: (..., in) → (..., out). Must start every op from {@code x} so results land in x's (step) manager. */
    NDArray delta(NDArray x, boolean training);

    /** A short name for logs ("lora", "qa"). */
    String kind();

    /**
     * The adapter as a dense (out, in) weight ΔW with {@code delta(x) = x·ΔWᵀ} (without dropout), in {@code m}:
     * what {@link Linear#fold} adds to the base weight.
     */
    NDArray weightDelta(NDManager m);

    /** The arrays the adapter is computed from (to tell whether a training step updates it). */
    List<NDArray> arrays();

    /** Whether {@link #delta} is random in training (dropout): such an adapter is folded only for evaluation. */
    default boolean stochasticInTraining() {
        return false;
    }
}
