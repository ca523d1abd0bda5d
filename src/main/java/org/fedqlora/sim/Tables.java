package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Console tables of a multi-run summary, shaped like the paper's (methods × settings, mean ± std): accuracy and
 * macro-F1 in % for classification, perplexity and loss over response tokens for causal-LM runs.
 */
public final class Tables {
    private Tables() {
    }

    public static String paper(JsonNode summary) {
        JsonNode agg = summary.get("aggregate");
        boolean lm = agg.size() > 0 && agg.get(0).has("perplexity_mean");
        if (lm) {
            return "Perplexity over response tokens (lower is better), mean ± std over seeds\n"
                    + Aggregate.table(agg, "perplexity")
                    + "\nLoss (nats per response token, lower is better), mean ± std over seeds\n"
                    + Aggregate.table(agg, "loss");
        }
        return "Accuracy (%), mean ± std over seeds\n" + Aggregate.table(agg, "accuracy")
                + "\nMacro-F1 (%), mean ± std over seeds\n" + Aggregate.table(agg, "macro_f1");
    }
}
