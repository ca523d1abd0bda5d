package org.fedqlora;

/**
 * A mistake the user can fix (bad path, bad option, bad file): the CLI prints the message and exits with
 * code 2, without a stack trace. Messages say what was wrong, where, and what to do.
 */
public class UserException extends RuntimeException {
    public UserException(String message) {
        super(message);
    }

    public UserException(String message, Throwable cause) {
        super(message, cause);
    }
}
