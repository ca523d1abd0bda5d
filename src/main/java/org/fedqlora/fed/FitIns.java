package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.Map;

/**
 * Server to client, training phase: the global parameters of this round and a string config (e.g. "local_epochs",
 * "lr", {@code proximal_mu}). Maps are copied and sorted by name.
 *
 * @param round      the round number, from 1
 * @param parameters the global tensors the client starts from (it may use only some of them)
 * @param config     instructions for local training; keys and values are strings so that every transport can carry them
 */
public record FitIns(int round, Map<String, HostTensor> parameters, Map<String, String> config) {
    public FitIns {
        parameters = Parameters.sortedCopy(parameters);
        config = Parameters.sortedCopy(config);
    }
}
