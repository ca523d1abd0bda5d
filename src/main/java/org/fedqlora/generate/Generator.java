package org.fedqlora.generate;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.UserException;
import org.fedqlora.model.llama.KvCache;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.model.llama.LlamaModel;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Autoregressive decoding with a KV cache: the prompt runs once (prefill), then one token per step. Stops at a stop
 * token (EOS, end of turn), a stop string, {@code maxNewTokens}, or the end of the context window. Text is streamed
 * as it becomes final: a piece that could still be the start of a stop string, or an incomplete UTF-8 character
 * (decoded as U+FFFD), is held back until the next token decides it.
 */
public final class Generator {
    /** What ended the generation. */
    public enum Stop { EOS, STOP_STRING, MAX_NEW_TOKENS, CONTEXT }

    /** Turns token ids into text (special tokens skipped). */
    @FunctionalInterface
    public interface Detokenizer {
        String decode(long[] ids);
    }

    /**
     * @param maxNewTokens most tokens to generate
     * @param stopIds      tokens that end the generation (kept in the ids, not in the text)
     * @param stopStrings  strings that end it (the text is cut before them)
     * @param sampling     greedy or sampled
     */
    public record Options(int maxNewTokens, Set<Long> stopIds, List<String> stopStrings, Sampling sampling) {
        public Options {
            if (maxNewTokens < 1) {
                throw new UserException("--max-new-tokens must be at least 1, got " + maxNewTokens);
            }
            stopIds = Set.copyOf(stopIds);
            stopStrings = List.copyOf(stopStrings);
            for (String s : stopStrings) {
                if (s.isEmpty()) {
                    throw new UserException("--stop must not be empty");
                }
            }
        }
    }

    /**
     * @param promptIds     the prompt's tokens
     * @param generatedIds  the new tokens (a final stop token included)
     * @param text          the decoded new text, cut before a stop string
     * @param seconds       wall time of prefill plus decoding
     * @param prefillSeconds wall time of the prompt's forward pass
     * @param stop          why it stopped
     */
    public record Result(long[] promptIds, long[] generatedIds, String text, double seconds, double prefillSeconds,
                         Stop stop) {
        /** Generated tokens per second of the whole call (prefill included). */
        public double tokensPerSecond() {
            return seconds > 0 ? generatedIds.length / seconds : 0;
        }
    }

    private Generator() {
    }

    /** The longest sequence the model attends over here (context, or a sliding window). */
    public static int contextLimit(LlamaConfig c) {
        return c.slidingWindow() > 0 ? Math.min(c.maxPositions(), c.slidingWindow()) : c.maxPositions();
    }

    public static Result generate(LlamaModel model, NDManager parent, long[] prompt, Options o, Detokenizer detok,
                                  Consumer<String> stream) {
        int limit = contextLimit(model.config());
        if (prompt.length == 0) {
            throw new UserException("the prompt is empty (no tokens); pass some text with --prompt");
        }
        if (prompt.length >= limit) {
            throw new UserException("the prompt has " + prompt.length + " tokens but the model's context holds "
                    + limit + " (and at least one new token must fit): shorten the prompt");
        }
        int budget = Math.min(o.maxNewTokens(), limit - prompt.length);
        Sampling.Sampler sampler = o.sampling().sampler();
        List<Long> out = new ArrayList<>();
        Stop stop = budget < o.maxNewTokens() ? Stop.CONTEXT : Stop.MAX_NEW_TOKENS;
        String text = "";
        int emitted = 0;
        long t0 = System.nanoTime();
        long prefillEnd = t0;
        try (KvCache cache = model.newCache(1)) {
            long[] next = prompt;
            for (int i = 0; i < budget; i++) {
                float[] logits;
                try (NDManager step = parent.newSubManager()) {
                    logits = model.step(step, step.create(next, new Shape(1, next.length)), cache).toFloatArray();
                }
                if (i == 0) {
                    prefillEnd = System.nanoTime();
                }
                long tok = sampler.next(logits);
                out.add(tok);
                if (o.stopIds().contains(tok)) {
                    stop = Stop.EOS;
                    break;
                }
                text = detok.decode(ids(out));
                int cut = firstStop(text, o.stopStrings());
                if (cut >= 0) {
                    text = text.substring(0, cut);
                    stop = Stop.STOP_STRING;
                    break;
                }
                int safe = safeLength(text, o.stopStrings());
                if (safe > emitted && stream != null) {
                    stream.accept(text.substring(emitted, safe));
                    emitted = safe;
                }
                next = new long[] {tok};
            }
        }
        if (stop == Stop.EOS) {
            text = detok.decode(ids(out.subList(0, out.size() - 1)));
        }
        if (stream != null && text.length() > emitted) {
            stream.accept(text.substring(emitted));
        }
        long t1 = System.nanoTime();
        return new Result(prompt.clone(), ids(out), text, (t1 - t0) / 1e9, (prefillEnd - t0) / 1e9, stop);
    }

    private static long[] ids(List<Long> l) {
        return l.stream().mapToLong(Long::longValue).toArray();
    }

    /** Index of the earliest stop string in {@code text}, or −1. */
    static int firstStop(String text, List<String> stops) {
        int best = -1;
        for (String s : stops) {
            int i = text.indexOf(s);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    /** How much of {@code text} is final: not a possible start of a stop string, no trailing partial character. */
    static int safeLength(String text, List<String> stops) {
        int safe = text.length();
        while (safe > 0 && text.charAt(safe - 1) == '\uFFFD') {
            safe--;
        }
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, safe); k > 0; k--) {
                if (text.startsWith(s.substring(0, k), safe - k)) {
                    safe = Math.min(safe, safe - k);
                    break;
                }
            }
        }
        return safe;
    }
}
