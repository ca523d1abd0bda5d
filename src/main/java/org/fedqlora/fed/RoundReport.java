package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import java.util.Map;
import java.util.Optional;

/**
 * One finished round, as handed to a {@link RoundListener}.
 *
 * @param round          the round number, from 1
 * @param sampledClients the clients asked to train, ascending
 * @param successes      those that answered, ascending
 * @param failures       those that did not, with reasons
 * @param rejection      why the round did not count (global parameters unchanged), or empty if it counted
 * @param metrics        the strategy's aggregate of the training metrics
 * @param evaluation     the evaluation phase, in rounds that have one
 * @param bytesDown      tensor bytes sent to clients in this round (training and evaluation)
 * @param bytesUp        tensor bytes received from clients in this round
 * @param seconds        wall-clock time of the round
 * @param parameters     the global parameters after the round (what a checkpoint should save)
 * @param clientMetrics  each successful client's own training metrics, by client id
 */
public record RoundReport(int round, List<String> sampledClients, List<String> successes, List<Failure> failures,
                          Optional<String> rejection, Map<String, Double> metrics,
                          Optional<EvaluationReport> evaluation, long bytesDown, long bytesUp, double seconds,
                          Map<String, HostTensor> parameters, Map<String, Map<String, Double>> clientMetrics) {
    public RoundReport {
        clientMetrics = Collections.unmodifiableMap(new TreeMap<>(clientMetrics));
        sampledClients = List.copyOf(sampledClients);
        successes = List.copyOf(successes);
        failures = List.copyOf(failures);
        metrics = Parameters.sortedCopy(metrics);
        parameters = Parameters.sortedCopy(parameters);
    }

    /** Whether the round updated the global parameters. */
    public boolean isAccepted() {
        return rejection.isEmpty();
    }
}
