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

    /** Sends each client its {@link EvaluateIns} (keyed by client id) and collects the answers. */
    PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions);

    /** Releases connections or threads; the default has none. */
    @Override
    default void close() {
    }
}
