package org.fedqlora.train;

import org.fedqlora.tokenize.ChatEncoder;

import java.util.Arrays;
import java.util.List;

/**
 * Conversations encoded once for causal-LM training (ids and completion-only labels, see {@link ChatEncoder}),
 * batched on demand with right padding to the longest sequence of the batch; padding has mask 0 and label
 * {@value ChatEncoder#IGNORE}.
 */
public final class InstructionExamples {
    private final long[][] ids;
    private final long[][] labels;
    private final long padId;

    /** One padded batch, row-major (B, T). */
    public record Batch(long[] ids, long[] mask, long[] labels, int batch, int length) {
        /** Real (non-padding) tokens. */
        public long tokens() {
            return Arrays.stream(mask).sum();
        }
    }

    public InstructionExamples(long[][] ids, long[][] labels, long padId) {
        if (ids.length != labels.length) {
            throw new IllegalArgumentException(ids.length + " id rows but " + labels.length + " label rows");
        }
        this.ids = ids;
        this.labels = labels;
        this.padId = padId;
    }

    public static InstructionExamples of(List<ChatEncoder.Encoded> encoded, long padId) {
        return new InstructionExamples(encoded.stream().map(ChatEncoder.Encoded::ids).toArray(long[][]::new),
                encoded.stream().map(ChatEncoder.Encoded::labels).toArray(long[][]::new), padId);
    }

    public int size() {
        return ids.length;
    }

    public int length(int i) {
        return ids[i].length;
    }

    /** Target tokens of example i that the loss scores (labels after the first position, as the loss shifts). */
    public int targets(int i) {
        int n = 0;
        for (int t = 1; t < labels[i].length; t++) {
            n += labels[i][t] != ChatEncoder.IGNORE ? 1 : 0;
        }
        return n;
    }

    public Batch batch(int[] indices) {
        int T = 0;
        for (int i : indices) {
            T = Math.max(T, ids[i].length);
        }
        int B = indices.length;
        long[] flat = new long[B * T];
        long[] mask = new long[B * T];
        long[] lab = new long[B * T];
        Arrays.fill(flat, padId);
        Arrays.fill(lab, ChatEncoder.IGNORE);
        for (int b = 0; b < B; b++) {
            long[] e = ids[indices[b]];
            System.arraycopy(e, 0, flat, b * T, e.length);
            System.arraycopy(labels[indices[b]], 0, lab, b * T, e.length);
            Arrays.fill(mask, b * T, b * T + e.length, 1L);
        }
        return new Batch(flat, mask, lab, B, T);
    }

    /** A subset view (shares the token arrays). */
    public InstructionExamples subset(int[] indices) {
        long[][] s = new long[indices.length][];
        long[][] l = new long[indices.length][];
        for (int i = 0; i < indices.length; i++) {
            s[i] = ids[indices[i]];
            l[i] = labels[indices[i]];
        }
        return new InstructionExamples(s, l, padId);
    }
}
