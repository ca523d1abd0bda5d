package org.fedqlora.tokenize;

/**
 * A padded batch of token ids, row-major (B, T).
 *
 * @param ids      token ids, padding = the model's pad id
 * @param mask     1 for real tokens, 0 for padding
 * @param typeIds  token types (all 0 for single sentences)
 * @param batch    B
 * @param length   T, the longest sequence in the batch
 */
public record TokenBatch(long[] ids, long[] mask, long[] typeIds, int batch, int length) {

    /** Real (unpadded) tokens in the batch. */
    public long tokens() {
        long n = 0;
        for (long m : mask) {
            n += m;
        }
        return n;
    }
}
