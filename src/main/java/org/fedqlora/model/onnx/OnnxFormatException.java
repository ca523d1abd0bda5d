package org.fedqlora.model.onnx;

/** An ONNX file that cannot be read, or that does not hold the model it was expected to hold. */
public class OnnxFormatException extends org.fedqlora.UserException {
    public OnnxFormatException(String message) {
        super(message);
    }

    public OnnxFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
