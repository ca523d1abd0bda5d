package org.fedqlora.tokenize;

import org.fedqlora.UserException;

/** A chat template that cannot be rendered, or that refused a conversation ({@code raise_exception}). */
public final class ChatTemplateException extends UserException {
    public ChatTemplateException(String message) {
        super(message);
    }
}
