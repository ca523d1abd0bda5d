package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

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
        StringBuilder sb = new StringBuilder("Accuracy (%), mean ± std over seeds\n" + Aggregate.table(agg, "accuracy")
                + "\nMacro-F1 (%), mean ± std over seeds\n" + Aggregate.table(agg, "macro_f1"));
        List<String> formats = Aggregate.formats(agg);
        if (formats.size() > 1) {                       // the quantization bias shows per format, not in the mean
            for (String f : formats) {
                sb.append("\nAccuracy (%) of the ").append(f.toUpperCase(java.util.Locale.ROOT))
                        .append(" clients alone, mean ± std over seeds\n")
                        .append(Aggregate.table(Aggregate.forFormat(agg, f), "accuracy"));
            }
        }
        return sb.toString();
    }
}
