package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.Map;

/**
 * Client to server, training phase: the tensors the client chooses to share after local training, and how many
 * examples it trained on (the aggregation weight). Private tensors (e.g. a QA adapter) must never be put here.
 *
 * @param clientId    the id under which the transport knows this client
 * @param parameters  the updated shared tensors (every client of a round must send the same names and shapes)
 * @param numExamples local training examples, ≥ 0; the weight of this update in the mean
 * @param metrics     e.g. "train_loss"; averaged over clients weighted by numExamples
 */
public record FitRes(String clientId, Map<String, HostTensor> parameters, long numExamples,
                     Map<String, Double> metrics) {
    public FitRes {
        if (clientId == null || clientId.isEmpty()) {
            throw new IllegalArgumentException("FitRes needs the id of the client that sends it");
        }
        if (numExamples < 0) {
            throw new IllegalArgumentException("client '" + clientId + "' reports " + numExamples
                    + " examples; the count must be ≥ 0");
        }
        parameters = Parameters.sortedCopy(parameters);
        metrics = Parameters.sortedCopy(metrics);
    }
}
