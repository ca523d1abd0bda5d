package org.fedqlora.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.fedqlora.model.ModelException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A HuggingFace fast tokenizer (tokenizer.json) that adds the special tokens ([CLS] ... [SEP]), truncates to a
 * maximum length and pads each batch to its longest sequence (right padding).
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;
    private final long padId;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long padId) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.padId = padId;
    }

    public static TextTokenizer open(Path tokenizerJson, int maxLength, long padId) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("max length " + maxLength + " leaves no room for [CLS] and [SEP]");
        }
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(tokenizerJson, Map.of(
                    "addSpecialTokens", "true",
                    "truncation", "true",
                    "padding", "false",
                    "maxLength", String.valueOf(maxLength),
                    // decoders' contexts exceed DJL's default of 512: the model's length is the limit, not DJL's
                    "modelMaxLength", String.valueOf(maxLength)));
            return new TextTokenizer(t, maxLength, padId);
        } catch (IOException | RuntimeException e) {
            throw new ModelException(tokenizerJson + " cannot be loaded as a HuggingFace tokenizer: " + e.getMessage(), e);
        }
    }

    public int maxLength() {
        return maxLength;
    }

    /** Token ids of one text, with special tokens, truncated. */
    public long[] ids(String text) {
        return tokenizer.encode(text).getIds();
    }

    /** Encodes and right-pads a batch to its longest sequence. */
    public TokenBatch encode(List<String> texts) {
        Encoding[] enc = tokenizer.batchEncode(texts);
        int T = 0;
        for (Encoding e : enc) {
            T = Math.max(T, e.getIds().length);
        }
        int B = texts.size();
        long[] ids = new long[B * T];
        long[] mask = new long[B * T];
        long[] types = new long[B * T];
        java.util.Arrays.fill(ids, padId);
        for (int b = 0; b < B; b++) {
            long[] e = enc[b].getIds();
            long[] t = enc[b].getTypeIds();
            System.arraycopy(e, 0, ids, b * T, e.length);
            System.arraycopy(t, 0, types, b * T, t.length);
            java.util.Arrays.fill(mask, b * T, b * T + e.length, 1L);
        }
        return new TokenBatch(ids, mask, types, B, T);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
