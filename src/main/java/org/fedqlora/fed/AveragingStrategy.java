package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;

/**
 * A strategy whose training aggregate depends on the clients' tensors only through their example-weighted mean
 * ({@link Aggregation#weightedMean}), e.g. FedAvg with any server optimizer (fedavg, fedavgm, fedadam all step from the
 * mean). Secure aggregation reveals only that mean, so it can run exactly these strategies; a strategy that needs
 * individual updates (a median, a trimmed mean, Krum) does not implement this and is refused.
 */
public interface AveragingStrategy extends Strategy {
    /**
     * As {@link Strategy#aggregateFit}, given the weighted mean of the clients' tensors instead of the tensors.
     *
     * @param mean    the example-weighted mean of the tensors the clients sent
     * @param results the clients that contributed to the mean, for counting and metrics (their parameter maps may
     *                be empty: under secure aggregation the server never holds them)
     */
    FitAggregate aggregateMean(int round, Map<String, HostTensor> global, Map<String, HostTensor> mean,
                               List<FitRes> results, List<Failure> failures);
}
