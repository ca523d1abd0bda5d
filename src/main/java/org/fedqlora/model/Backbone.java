package org.fedqlora.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.nn.Compute;
import org.fedqlora.nn.Linear;

import java.util.List;

/**
 * A frozen transformer body, of any family (BERT encoder, Llama decoder): token ids in, last hidden state out,
 * with every projection a {@link Linear} where quantization and adapters go. What classification, training,
 * quantization and the federated code use, so none of them knows the family.
 */
public interface Backbone extends AutoCloseable {
    /** The family's config, seen through what all families share. */
    ModelConfig config();

    /**
     * @param ids     (B, T) int64 token ids, created in {@code step}
     * @param mask    (B, T) int64, 1 for real tokens, 0 for padding
     * @param typeIds (B, T) int64 token types, or null (ignored by families without them)
     * @return the last hidden state (B, T, C), in {@code step}
     */
    NDArray forward(NDManager step, NDArray ids, NDArray mask, NDArray typeIds, boolean training);

    /** Every linear layer, in checkpoint order. */
    List<Linear> linears();

    /** Bytes held by frozen weights (embeddings, norms, biases, each linear's base as resident). */
    long baseWeightBytes();

    /** How a sequence becomes one vector for a classification head by default (mean for encoders, last token for decoders). */
    Pooling defaultPooling();

    /** Runs the frozen products at {@code c}'s precision from now on (the linear layers; BERT's attention too). */
    void setCompute(Compute c);

    /** The precision of the frozen products. */
    Compute compute();

    @Override
    void close();
}
