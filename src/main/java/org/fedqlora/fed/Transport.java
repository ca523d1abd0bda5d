package org.fedqlora.fed;

import java.util.List;
import java.util.Map;

/**
 * Carries instructions to clients and brings back their answers. Simulation ({@link InMemoryTransport}) and
 * deployment (gRPC) differ only here; the server and strategies are the same.
 *
 * <p>Contract for implementations: every instruction yields exactly one result or one {@link Failure} (a client
 * that throws, times out, is unknown or unreachable is a failure, never an exception); results and failures are
 * in ascending client id order; tensors handed to a client and received from it are copies, so neither side can
 * change the other's state.
 */
public interface Transport extends AutoCloseable {
    /** Ids of the clients that can be called now, sorted ascending. */
    List<String> availableClients();

    /** Sends each client its {@link FitIns} (keyed by client id) and collects the answers. */
    PhaseResult<FitRes> fit(Map<String, FitIns> instructions);

    /**
     * Whether {@link #fit(Map, RunningMean)} folds updates as they arrive (a network transport does, so that the
     * server never holds all updates at once); the in-memory transport does not, to keep simulations bit-exact.
     */
    default boolean foldsUpdates() {
        return false;
    }

    /**
     * As {@link #fit(Map)}, but every valid update is folded into {@code sink} (weighted by its example count)
     * and the returned results carry no tensors. The default runs {@link #fit(Map)} and folds afterwards; a
     * result that {@code sink} refuses (different names or shapes) becomes a {@link Failure}.
     */
    default PhaseResult<FitRes> fit(Map<String, FitIns> instructions, RunningMean sink) {
        PhaseResult<FitRes> all = fit(instructions);
        List<FitRes> kept = new java.util.ArrayList<>();
        List<Failure> failures = new java.util.ArrayList<>(all.failures());
        for (FitRes r : all.results()) {
            try {
                sink.add(r.clientId(), r.parameters(), r.numExamples());
                kept.add(new FitRes(r.clientId(), Map.of(), r.numExamples(), r.metrics()));
            } catch (IllegalArgumentException e) {
                failures.add(Failure.of(r.clientId(), Failure.FIT, e));
            }
        }
        failures.sort(java.util.Comparator.comparing(Failure::clientId));
        return new PhaseResult<>(kept, failures, all.bytesDown(), all.bytesUp());
    }

    /** Sends each client its {@link EvaluateIns} (keyed by client id) and collects the answers. */
    PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions);

    /** Releases connections or threads; the default has none. */
    @Override
    default void close() {
    }
}
