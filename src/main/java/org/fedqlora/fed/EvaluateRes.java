package org.fedqlora.fed;

import java.util.Map;

/**
 * Client to server, evaluation phase: metrics on local test data (e.g. "loss", "accuracy").
 *
 * @param clientId    the id under which the transport knows this client
 * @param numExamples local test examples, ≥ 0; the weight of these metrics in the mean
 * @param metrics     metric name to value
 */
public record EvaluateRes(String clientId, long numExamples, Map<String, Double> metrics) {
    public EvaluateRes {
        if (clientId == null || clientId.isEmpty()) {
            throw new IllegalArgumentException("EvaluateRes needs the id of the client that sends it");
        }
        if (numExamples < 0) {
            throw new IllegalArgumentException("client '" + clientId + "' reports " + numExamples
                    + " test examples; the count must be ≥ 0");
        }
        metrics = Parameters.sortedCopy(metrics);
    }
}
