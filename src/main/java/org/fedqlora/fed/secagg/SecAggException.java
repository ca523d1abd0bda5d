package org.fedqlora.fed.secagg;

/**
 * A secure-aggregation round that cannot go on: too few survivors, a message that fails authentication, a message
 * of the wrong stage, round or sender, or shares that do not reconstruct consistently. The message says which
 * client, stage and check; a round that throws this releases no sum.
 */
public final class SecAggException extends RuntimeException {
    public SecAggException(String message) {
        super(message);
    }

    public SecAggException(String message, Throwable cause) {
        super(message, cause);
    }
}
