package org.fedqlora.fed;

/**
 * A participant: trains on private data and evaluates on private test data. Implementations keep their own state
 * (quantized base model, private adapters, data) and must return their own id in every result.
 * Exceptions thrown here become {@link Failure}s of the round; they never stop the server.
 */
public interface Client {
    /** Starts from {@code ins.parameters()}, trains locally, returns the tensors to share. */
    FitRes fit(FitIns ins);

    /** Evaluates {@code ins.parameters()} on local test data. */
    EvaluateRes evaluate(EvaluateIns ins);
}
