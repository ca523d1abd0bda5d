package org.fedqlora.fed;

/**
 * A client call that produced no result: the client threw, timed out, was unreachable, answered under another id,
 * or a fault was injected. Failures are data handed to the strategy, never exceptions escaping a round.
 *
 * @param clientId the client that was called
 * @param phase    {@link #FIT} or {@link #EVALUATE}
 * @param reason   one line for logs and reports
 * @param cause    the exception, when there was one (null otherwise, and always null across a network)
 */
public record Failure(String clientId, String phase, String reason, Throwable cause) {
    /** The training phase. */
    public static final String FIT = "fit";
    /** The evaluation phase. */
    public static final String EVALUATE = "evaluate";

    public Failure {
        if (!FIT.equals(phase) && !EVALUATE.equals(phase)) {
            throw new IllegalArgumentException("unknown phase '" + phase + "': expected '" + FIT + "' or '"
                    + EVALUATE + "'");
        }
    }

    /** A failure caused by an exception; the reason is its class and message. */
    public static Failure of(String clientId, String phase, Throwable cause) {
        String message = cause.getMessage() == null ? "" : ": " + cause.getMessage();
        return new Failure(clientId, phase, cause.getClass().getSimpleName() + message, cause);
    }

    @Override
    public String toString() {
        return clientId + " (" + phase + "): " + reason;
    }
}
