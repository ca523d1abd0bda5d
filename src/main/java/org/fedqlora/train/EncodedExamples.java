package org.fedqlora.train;

import org.fedqlora.data.Example;
import org.fedqlora.tokenize.TextTokenizer;
import org.fedqlora.tokenize.TokenBatch;

import java.util.Arrays;
import java.util.List;

/**
 * Examples tokenized once (ids with special tokens, truncated), batched on demand with right padding to the
 * longest sequence of the batch.
 */
public final class EncodedExamples {
    private final long[][] ids;
    private final int[] labels;
    private final long padId;

    public EncodedExamples(long[][] ids, int[] labels, long padId) {
        this.ids = ids;
        this.labels = labels;
        this.padId = padId;
    }

    public static EncodedExamples of(List<Example> examples, TextTokenizer tokenizer, long padId) {
        long[][] ids = new long[examples.size()][];
        int[] labels = new int[examples.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokenizer.ids(examples.get(i).text());
            labels[i] = examples.get(i).label();
        }
        return new EncodedExamples(ids, labels, padId);
    }

    public int size() {
        return ids.length;
    }

    public int label(int i) {
        return labels[i];
    }

    public int length(int i) {
        return ids[i].length;
    }

    /** The examples at {@code indices}, padded to the longest. */
    public TokenBatch batch(int[] indices) {
        int T = 0;
        for (int i : indices) {
            T = Math.max(T, ids[i].length);
        }
        int B = indices.length;
        long[] flat = new long[B * T];
        long[] mask = new long[B * T];
        Arrays.fill(flat, padId);
        for (int b = 0; b < B; b++) {
            long[] e = ids[indices[b]];
            System.arraycopy(e, 0, flat, b * T, e.length);
            Arrays.fill(mask, b * T, b * T + e.length, 1L);
        }
        return new TokenBatch(flat, mask, new long[B * T], B, T);
    }

    public long[] labels(int[] indices) {
        long[] out = new long[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = labels[indices[i]];
        }
        return out;
    }

    /** A subset view (shares the token arrays). */
    public EncodedExamples subset(int[] indices) {
        long[][] s = new long[indices.length][];
        int[] l = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            s[i] = ids[indices[i]];
            l[i] = labels[indices[i]];
        }
        return new EncodedExamples(s, l, padId);
    }
}
