package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a strategy makes of a training phase: new global parameters, or a rejection that leaves them unchanged.
 *
 * @param parameters the new global parameters; empty when the round was rejected
 * @param metrics    aggregated client metrics (e.g. the example-weighted "train_loss"), also for rejected rounds
 * @param rejection  why the round does not count (e.g. the {@link FailurePolicy} was not met); empty if it counts
 * @param lateFailures clients that answered the training phase but failed while it was aggregated (e.g. dropped out
 *                   of secure aggregation after sending their masked update): the round report counts them as
 *                   failures, not successes
 */
public record FitAggregate(Optional<Map<String, HostTensor>> parameters, Map<String, Double> metrics,
                           Optional<String> rejection, List<Failure> lateFailures) {
    public FitAggregate(Optional<Map<String, HostTensor>> parameters, Map<String, Double> metrics,
                        Optional<String> rejection) {
        this(parameters, metrics, rejection, List.of());
    }

    public FitAggregate {
        lateFailures = List.copyOf(lateFailures);
        if (parameters.isPresent() == rejection.isPresent()) {
            throw new IllegalArgumentException("a fit aggregate has either new parameters or a rejection, not "
                    + (parameters.isPresent() ? "both" : "neither"));
        }
        parameters = parameters.map(Parameters::sortedCopy);
        metrics = Parameters.sortedCopy(metrics);
    }

    /** The round counts: {@code parameters} become the global parameters. */
    public static FitAggregate accepted(Map<String, HostTensor> parameters, Map<String, Double> metrics) {
        return new FitAggregate(Optional.of(parameters), metrics, Optional.empty());
    }

    /** The round does not count, for the given reason; the global parameters stay as they were. */
    public static FitAggregate rejected(String reason, Map<String, Double> metrics) {
        return new FitAggregate(Optional.empty(), metrics, Optional.of(reason));
    }

    /** This aggregate with {@code more} clients counted as failed during aggregation. */
    public FitAggregate withLateFailures(List<Failure> more) {
        List<Failure> all = new java.util.ArrayList<>(lateFailures);
        all.addAll(more);
        return new FitAggregate(parameters, metrics, rejection, all);
    }

    public boolean isAccepted() {
        return parameters.isPresent();
    }
}
