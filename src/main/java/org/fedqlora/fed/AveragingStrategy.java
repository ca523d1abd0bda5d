package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;

/**
 * A strategy whose training aggregate depends on the clients' updates only through their sum (FedAvg with any server
 * optimizer and its {@link Aggregator}: the weighted mean, or DP-FedAvg's clipped, noised mean). Secure aggregation
 * reveals only that sum, so it can run exactly these strategies; a strategy that needs individual updates (a median,
 * a trimmed mean, Krum) does not implement this and is refused.
 */
public interface AveragingStrategy extends Strategy {
    /**
     * As {@link Strategy#aggregateFit}, from the sum of the updates instead of the updates.
     *
     * @param results the clients in the sum, for counting and metrics (their parameter maps are empty: under secure
     *                aggregation the server never holds them)
     */
    FitAggregate aggregateSum(int round, Map<String, HostTensor> global, UpdateSum sum, List<FitRes> results,
                              List<Failure> failures);
}
