package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;

/** Console tables of a multi-run summary, shaped like the paper's (methods × settings, mean ± std in %). */
public final class Tables {
    private Tables() {
    }

    public static String paper(JsonNode summary) {
        JsonNode agg = summary.get("aggregate");
        return "Accuracy (%), mean ± std over seeds\n" + Aggregate.table(agg, "accuracy")
                + "\nMacro-F1 (%), mean ± std over seeds\n" + Aggregate.table(agg, "macro_f1");
    }
}
