package org.fedqlora.sim;

import org.fedqlora.train.EncodedExamples;
import org.fedqlora.train.InstructionExamples;

/**
 * Examples encoded for the run's task: token ids and labels for classification, or ids and completion-only
 * labels for causal-LM (exactly one is set). Indices are those of the data set they were encoded from.
 */
record TaskExamples(EncodedExamples classification, InstructionExamples lm) {
    TaskExamples {
        if ((classification == null) == (lm == null)) {
            throw new IllegalArgumentException("exactly one of classification and lm examples must be given");
        }
    }

    static TaskExamples of(EncodedExamples e) {
        return new TaskExamples(e, null);
    }

    static TaskExamples of(InstructionExamples e) {
        return new TaskExamples(null, e);
    }

    int size() {
        return lm != null ? lm.size() : classification.size();
    }

    /**
     * The examples at {@code indices}; for causal-LM only those that kept a response token after truncation
     * (the others have nothing to score).
     */
    TaskExamples subset(int[] indices) {
        if (classification != null) {
            return of(classification.subset(indices));
        }
        return of(lm.subset(java.util.Arrays.stream(indices).filter(i -> lm.targets(i) > 0).toArray()));
    }
}
