package org.fedqlora.tensor;

/** A safetensors file or checkpoint folder that cannot be read as asked; the message names the file and tensor. */
public class SafetensorsException extends org.fedqlora.UserException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
