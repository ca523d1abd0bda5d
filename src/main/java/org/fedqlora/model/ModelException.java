package org.fedqlora.model;

/** A model folder or model argument that cannot be used; the message says what to do. */
public class ModelException extends org.fedqlora.UserException {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
