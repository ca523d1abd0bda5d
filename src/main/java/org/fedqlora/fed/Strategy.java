package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * The steps a federated algorithm fills into the server's round loop ({@link Server}): one configure/aggregate pair
 * per phase. A strategy never talks to clients; it only decides what to send and what to make of the answers.
 * All maps are keyed by tensor name (parameters) or client id (instructions).
 */
public interface Strategy {
    /** The global parameters of round 1. */
    Map<String, HostTensor> initialParameters();

    /**
     * Chooses this round's training clients and their instructions.
     *
     * @param global           the current global parameters
     * @param availableClients ids the transport can reach, sorted
     * @param random           the only source of randomness (seeded by the server from (seed, round, phase))
     * @return instructions keyed by client id
     */
    Map<String, FitIns> configureFit(int round, Map<String, HostTensor> global, List<String> availableClients,
                                     RandomGenerator random);

    /**
     * Turns this round's training answers into new global parameters, or rejects the round.
     *
     * @param global   the global parameters the clients started from
     * @param results  successful answers, ascending client id
     * @param failures sampled clients that gave no answer
     * @throws IllegalArgumentException if the answers cannot be combined (e.g. clients sent different tensor names
     *                                  or shapes): that is a bug in the clients or the setup, not a client failure
     */
    FitAggregate aggregateFit(int round, Map<String, HostTensor> global, List<FitRes> results, List<Failure> failures);

    /**
     * Streaming aggregation (for transports that fold updates as they arrive, {@link Transport#foldsUpdates()}):
     * a fresh accumulator for this round's training updates, or empty if this strategy needs every update at once
     * (then the server calls {@link #aggregateFit(int, Map, List, List)}).
     */
    default java.util.Optional<RunningMean> fitAccumulator(int round, Map<String, HostTensor> global) {
        return java.util.Optional.empty();
    }

    /**
     * As {@link #aggregateFit(int, Map, List, List)}, with the updates already folded into {@code folded} (the
     * accumulator {@link #fitAccumulator} returned); {@code results} carry counts and metrics but no tensors.
     */
    default FitAggregate aggregateFit(int round, Map<String, HostTensor> global, RunningMean folded,
                                      List<FitRes> results, List<Failure> failures) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not aggregate streamed updates");
    }

    /** As {@link #configureFit}, for evaluation of {@code global} on clients' test data. */
    Map<String, EvaluateIns> configureEvaluate(int round, Map<String, HostTensor> global,
                                               List<String> availableClients, RandomGenerator random);

    /** Aggregates this round's evaluation answers. */
    EvaluateAggregate aggregateEvaluate(int round, List<EvaluateRes> results, List<Failure> failures);

    /**
     * Why the run must stop before {@code round} (e.g. the round would exceed a privacy budget), or empty to run
     * it. The server then ends the run after round − 1 and reports the reason ({@link Server.Result#stopped}).
     */
    default Optional<String> stopBefore(int round) {
        return Optional.empty();
    }

    /**
     * Server-side state that must survive a checkpoint to resume exactly (e.g. FedAdam's moments), as named
     * tensors. Stateless strategies return an empty map.
     */
    default Map<String, HostTensor> state() {
        return Map.of();
    }

    /** Restores what {@link #state()} returned. */
    default void restoreState(Map<String, HostTensor> state) {
        if (!state.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " keeps no server state but was given "
                    + state.keySet() + "; was the checkpoint written with another strategy?");
        }
    }
}
