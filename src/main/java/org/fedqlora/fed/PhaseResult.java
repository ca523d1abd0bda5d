package org.fedqlora.fed;

import java.util.List;

/**
 * What one phase of one round brought back from the clients, in ascending client id order.
 *
 * @param results   the successful answers
 * @param failures  the calls that produced no answer
 * @param bytesDown tensor bytes delivered to clients ({@link Parameters#byteSize})
 * @param bytesUp   tensor bytes received from clients
 */
public record PhaseResult<R>(List<R> results, List<Failure> failures, long bytesDown, long bytesUp) {
    public PhaseResult {
        results = List.copyOf(results);
        failures = List.copyOf(failures);
    }
}
