package org.fedqlora.fed;

import java.util.Map;

/**
 * What a strategy makes of an evaluation phase.
 *
 * @param metrics aggregated client metrics (e.g. the example-weighted "loss" and "accuracy")
 */
public record EvaluateAggregate(Map<String, Double> metrics) {
    public EvaluateAggregate {
        metrics = Parameters.sortedCopy(metrics);
    }
}
