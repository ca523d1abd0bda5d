package org.fedqlora.fed;

import java.util.List;
import java.util.Map;

/**
 * The evaluation phase of one round.
 *
 * @param sampledClients the clients asked to evaluate, ascending
 * @param successes      those that answered, ascending
 * @param failures       those that did not, with reasons
 * @param metrics        the strategy's aggregate of the answers
 * @param results        every answer, ascending by client (per-client reports)
 */
public record EvaluationReport(List<String> sampledClients, List<String> successes, List<Failure> failures,
                               Map<String, Double> metrics, List<EvaluateRes> results) {
    public EvaluationReport {
        results = List.copyOf(results);
        sampledClients = List.copyOf(sampledClients);
        successes = List.copyOf(successes);
        failures = List.copyOf(failures);
        metrics = Parameters.sortedCopy(metrics);
    }
}
