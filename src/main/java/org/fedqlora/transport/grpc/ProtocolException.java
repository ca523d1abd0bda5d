package org.fedqlora.transport.grpc;

/** A peer broke the protocol or sent something invalid; the message says what, and is sent back to it. */
public final class ProtocolException extends RuntimeException {
    public ProtocolException(String message) {
        super(message);
    }
}
