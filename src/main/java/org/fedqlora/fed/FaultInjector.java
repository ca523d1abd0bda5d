package org.fedqlora.fed;

import java.util.Optional;

/**
 * Decides, for tests and failure drills, that a call to a client fails before it is delivered (as if the
 * connection dropped): the client is not called and the transport reports a {@link Failure} with the given reason.
 */
@FunctionalInterface
public interface FaultInjector {
    /** Lets every call through. */
    FaultInjector NONE = (clientId, phase, round) -> Optional.empty();

    /** The reason this call fails, or empty to deliver it. */
    Optional<String> fault(String clientId, String phase, int round);

    /** Client {@code clientId} fails in {@code phase} of {@code round}, and nowhere else. */
    static FaultInjector failing(String clientId, String phase, int round) {
        return (c, p, r) -> c.equals(clientId) && p.equals(phase) && r == round
                ? Optional.of("injected fault: " + clientId + " fails " + phase + " in round " + round)
                : Optional.empty();
    }

    /** This injector's faults, or else {@code other}'s. */
    default FaultInjector or(FaultInjector other) {
        return (c, p, r) -> fault(c, p, r).or(() -> other.fault(c, p, r));
    }
}
