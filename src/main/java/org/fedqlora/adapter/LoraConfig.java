package org.fedqlora.adapter;

import java.util.List;

/**
 * LoRA hyper-parameters.
 *
 * @param rank    r, the adapter rank
 * @param alpha   scaling numerator: the update is (alpha / r)·B·A
 * @param dropout dropout on the LoRA input during training (0 = none)
 * @param targets module names or suffixes, PEFT-style ("query,value"); DistilBERT names map to the same roles
 */
public record LoraConfig(int rank, float alpha, float dropout, List<String> targets) {

    public LoraConfig {
        if (rank < 1) {
            throw new IllegalArgumentException("LoRA rank must be at least 1, got " + rank);
        }
        if (dropout < 0 || dropout >= 1) {
            throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        }
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("no LoRA target modules; e.g. --targets query,value");
        }
        targets = List.copyOf(targets);
    }

    public float scaling() {
        return alpha / rank;
    }
}
