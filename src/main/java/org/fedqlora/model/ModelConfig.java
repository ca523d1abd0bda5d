package org.fedqlora.model;

/** What every model family's config tells the code around the model (tokenizer, heads, benchmarks). */
public interface ModelConfig {
    /** HuggingFace {@code model_type} ("bert", "llama", ...). */
    String modelType();

    /** C, the hidden size: what a classification head reads. */
    int hidden();

    /** V, the vocabulary size. */
    int vocab();

    /** The longest sequence the model accepts (also the tokenizer's truncation length). */
    int maxPositions();

    /** The id batches are padded with. */
    int padTokenId();
}
