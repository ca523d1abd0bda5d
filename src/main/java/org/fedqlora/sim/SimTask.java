package org.fedqlora.sim;

import org.fedqlora.data.InstructionFiles;
import org.fedqlora.sim.config.SimConfig;

import java.nio.file.Path;

/**
 * What the clients of a simulation learn: a text classifier (accuracy) or, for instruction data on a decoder,
 * a causal language model (perplexity over response tokens). Everything below the simulation (the federated core,
 * the strategies, the transport) moves the same named tensors either way.
 */
public enum SimTask {
    CLASSIFICATION,
    CAUSAL_LM;

    /** {@code data.task}; auto: causal-lm when the training data (or the first client file) holds instruction rows. */
    static SimTask of(SimConfig c) {
        return switch (c.data().task()) {
            case "classification" -> CLASSIFICATION;
            case "causal-lm" -> CAUSAL_LM;
            default -> {
                String first = c.partition().method().equals("files") && !c.data().clientFiles().isEmpty()
                        ? c.data().clientFiles().get(0) : c.data().train();
                yield !first.equals("demo") && InstructionFiles.looksLikeInstructions(Path.of(first))
                        ? CAUSAL_LM : CLASSIFICATION;
            }
        };
    }

    public boolean causalLm() {
        return this == CAUSAL_LM;
    }
}
