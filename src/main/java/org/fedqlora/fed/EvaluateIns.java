package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.Map;

/**
 * Server to client, evaluation phase: the global parameters to evaluate on the client's local test data.
 *
 * @param round      the round whose global parameters these are
 * @param parameters the global tensors
 * @param config     instructions for evaluation (e.g. "batch_size")
 */
public record EvaluateIns(int round, Map<String, HostTensor> parameters, Map<String, String> config) {
    public EvaluateIns {
        parameters = Parameters.sortedCopy(parameters);
        config = Parameters.sortedCopy(config);
    }
}
