package org.fedqlora.data;

/** A data file or data setting the user supplied is wrong; the message says where and what to do. */
public final class DataException extends org.fedqlora.UserException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
