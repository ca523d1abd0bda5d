package org.fedqlora.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import org.fedqlora.data.ChatMessage;
import org.fedqlora.data.Conversation;
import org.fedqlora.model.ModelException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Conversations → token ids and causal-LM labels for instruction tuning, with the semantics of TRL's
 * completion-only training: the loss covers what the assistant says and nothing else.
 *
 * <p>How: the whole conversation is rendered with the {@link ChatTemplate} and tokenized without added special
 * tokens (the template writes BOS where the model wants it, as {@code apply_chat_template} does). For each
 * assistant turn i, the text between {@code render(messages[:i], add_generation_prompt=True)} and
 * {@code render(messages[:i+1])} (without trailing whitespace) is that turn's target: its content and the
 * template's end-of-turn token ({@code <|eot_id|>}, {@code <|im_end|>}, the plain template's EOS). A token whose
 * text starts inside a target is labelled with its own id; every other token (system, user, headers, the
 * generation prompt, padding) gets {@value #IGNORE}. Labels are aligned with the ids (HuggingFace's convention:
 * the model shifts them, logits at t predict label t+1).
 *
 * <p>Longer than {@code maxLength} tokens: the end is cut (the ids and labels keep their first {@code maxLength}
 * tokens) and the example is counted in {@link Stats}; callers print the counts ({@link Stats#warning}), so
 * truncation is never silent. An example left without any target token is dropped (and counted).
 */
public final class ChatEncoder implements AutoCloseable {
    /** The label of a token the loss ignores (PyTorch's {@code ignore_index}). */
    public static final long IGNORE = -100;

    private final HuggingFaceTokenizer tokenizer;
    private final ChatTemplate template;
    private final int maxLength;

    /** One encoded example: ids (T), labels (T) and how many labels are targets. */
    public record Encoded(long[] ids, long[] labels, int targets, boolean truncated, int targetsCut) {
    }

    /**
     * Counts over a data set.
     *
     * @param examples     conversations encoded
     * @param truncated    how many were longer than the maximum length
     * @param targetsCut   target tokens lost to truncation
     * @param dropped      examples left without target tokens (not kept)
     * @param targets      target tokens kept
     * @param maxLength    the maximum length
     */
    public record Stats(int examples, int truncated, long targetsCut, int dropped, long targets, int maxLength) {
        /** The warning to print, or null when nothing was cut. */
        public String warning(String what) {
            if (truncated == 0) {
                return null;
            }
            return String.format("%s: %d of %d examples are longer than %d tokens and were truncated (%d response "
                            + "tokens cut%s); raise max_length (--max-length) to keep them whole", what, truncated,
                    examples, maxLength, targetsCut,
                    dropped > 0 ? ", " + dropped + " left without any response token and were dropped" : "");
        }
    }

    /** The encoded examples that kept at least one target, and the counts. */
    public record EncodedSet(List<Encoded> examples, int[] kept, Stats stats) {
    }

    private ChatEncoder(HuggingFaceTokenizer tokenizer, ChatTemplate template, int maxLength) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.maxLength = maxLength;
    }

    /** Opens {@code tokenizer.json}; encodes with {@code template}, at most {@code maxLength} tokens an example. */
    public static ChatEncoder open(Path tokenizerJson, ChatTemplate template, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("max length must be at least 2, got " + maxLength);
        }
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(tokenizerJson, Map.of(
                    "addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            return new ChatEncoder(t, template, maxLength);
        } catch (IOException | RuntimeException e) {
            throw new ModelException(tokenizerJson + " cannot be loaded as a HuggingFace tokenizer: " + e.getMessage(), e);
        }
    }

    public ChatTemplate template() {
        return template;
    }

    public int maxLength() {
        return maxLength;
    }

    /** Ids and labels of one conversation (truncated to the maximum length). */
    public Encoded encode(Conversation c) {
        List<ChatMessage> m = c.messages();
        String full = template.render(m, false);
        List<int[]> spans = new ArrayList<>();
        for (int i : c.assistantTurns()) {
            String before = template.render(m.subList(0, i), true);
            String through = template.render(m.subList(0, i + 1), false);
            if (!through.startsWith(before) || !full.startsWith(through)) {
                throw new ChatTemplateException("the chat template (" + template.origin() + ") does not render "
                        + "conversations incrementally (the text up to assistant turn " + (i + 1) + " is not a prefix "
                        + "of the whole conversation), so the response tokens cannot be told apart; pass "
                        + "--chat-template plain or a .jinja file that renders each turn after the previous ones");
            }
            int end = through.length();
            while (end > before.length() && Character.isWhitespace(through.charAt(end - 1))) {
                end--;
            }
            spans.add(new int[] {before.length(), end});
        }
        Encoding e = tokenizer.encode(full, false, false);
        long[] ids = e.getIds();
        CharSpan[] offsets = e.getCharTokenSpans();
        long[] labels = new long[ids.length];
        int targets = 0;
        for (int t = 0; t < ids.length; t++) {
            labels[t] = IGNORE;
            CharSpan s = offsets[t];
            if (s == null || t == 0) {                  // nothing predicts the first token
                continue;
            }
            for (int[] span : spans) {
                if (s.getStart() >= span[0] && s.getStart() < span[1]) {
                    labels[t] = ids[t];
                    targets++;
                    break;
                }
            }
        }
        if (ids.length <= maxLength) {
            return new Encoded(ids, labels, targets, false, 0);
        }
        long[] keptIds = Arrays.copyOf(ids, maxLength);
        long[] keptLabels = Arrays.copyOf(labels, maxLength);
        int kept = (int) Arrays.stream(keptLabels).filter(l -> l != IGNORE).count();
        return new Encoded(keptIds, keptLabels, kept, true, targets - kept);
    }

    /** Encodes every conversation; those left without targets are dropped (and counted). */
    public EncodedSet encodeAll(List<Conversation> conversations) {
        List<Encoded> out = new ArrayList<>();
        List<Integer> kept = new ArrayList<>();
        int truncated = 0;
        int dropped = 0;
        long cut = 0;
        long targets = 0;
        for (int i = 0; i < conversations.size(); i++) {
            Encoded e = encode(conversations.get(i));
            if (e.truncated()) {
                truncated++;
                cut += e.targetsCut();
            }
            if (e.targets() == 0) {
                dropped++;
                continue;
            }
            targets += e.targets();
            out.add(e);
            kept.add(i);
        }
        return new EncodedSet(out, kept.stream().mapToInt(Integer::intValue).toArray(),
                new Stats(conversations.size(), truncated, cut, dropped, targets, maxLength));
    }

    /** The ids of a generation prompt: {@code messages} rendered with {@code add_generation_prompt=True}. */
    public long[] promptIds(List<ChatMessage> messages) {
        return tokenizer.encode(template.render(messages, true), false, false).getIds();
    }

    /** Text of generated ids, special tokens left out. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /** The id of a token text (e.g. the EOS token), or -1 if the vocabulary has no such single token. */
    public long tokenId(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        return ids.length == 1 ? ids[0] : -1;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
