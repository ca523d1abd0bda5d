package org.fedqlora.tokenize;

import org.fedqlora.data.ChatMessage;
import org.fedqlora.data.Conversation;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Ids and completion-only labels on the fixture tokenizer (reduced bert-base-uncased WordPiece: lower-cases,
 * splits on spaces and punctuation). Expected ids are looked up by hand in its vocabulary:
 * [CLS]=2 [SEP]=3 #=7 :=30 ?=35 .=18 be=2024 kind=2755 what=2055 color=3577 is=2006 the=1999 sky=3680
 * blue=2602 red=2402 no=2054 response=3402, "instruction" = in ##st ##r ##u ##c ##tion = 2002 3336 1009 1014 1017 3476.
 */
class ChatEncoderTest {
    private static final long I = ChatEncoder.IGNORE;
    private static final Path TOKENIZER = Fixtures.model("llama-tiny").resolve("tokenizer.json");
    private static final Conversation TWO_TURNS = new Conversation(List.of(
            new ChatMessage("system", "be kind"),
            new ChatMessage("user", "what color is the sky?"),
            new ChatMessage("assistant", "blue."),
            new ChatMessage("user", "is the sky red?"),
            new ChatMessage("assistant", "no.")), null);
    private static final long[] INSTRUCTION_HEADER = {7, 7, 7, 2002, 3336, 1009, 1014, 1017, 3476, 30};
    private static final long[] RESPONSE_HEADER = {7, 7, 7, 3402, 30};

    private static ChatEncoder plain(int maxLength) {
        return ChatEncoder.open(TOKENIZER, ChatTemplate.plain(Map.of("bos_token", "[CLS]", "eos_token", "[SEP]")),
                maxLength);
    }

    private static long[] cat(long[]... parts) {
        return Arrays.stream(parts).flatMapToLong(LongStream::of).toArray();
    }

    private static long[] ignored(int n) {
        long[] a = new long[n];
        Arrays.fill(a, I);
        return a;
    }

    @Test
    void everyAssistantTurnAndItsEosAreTargetsAndNothingElse() {
        long[] expectedIds = cat(new long[] {2, 2024, 2755}, INSTRUCTION_HEADER, new long[] {2055, 3577, 2006, 1999, 3680, 35},
                RESPONSE_HEADER, new long[] {2602, 18, 3},
                INSTRUCTION_HEADER, new long[] {2006, 1999, 3680, 2402, 35}, RESPONSE_HEADER, new long[] {2054, 18, 3});
        long[] expectedLabels = cat(ignored(3 + 10 + 6 + 5), new long[] {2602, 18, 3}, ignored(10 + 5 + 5),
                new long[] {2054, 18, 3});
        try (ChatEncoder enc = plain(512)) {
            ChatEncoder.Encoded e = enc.encode(TWO_TURNS);
            assertThat(e.ids()).containsExactly(expectedIds);
            assertThat(e.labels()).containsExactly(expectedLabels);
            assertThat(e.targets()).isEqualTo(6);
            assertThat(e.truncated()).isFalse();
        }
    }

    @Test
    void longExamplesAreCutAtTheEndAndCounted() {
        try (ChatEncoder enc = plain(45)) {              // 50 tokens: the second answer is cut
            ChatEncoder.Encoded e = enc.encode(TWO_TURNS);
            assertThat(e.ids()).hasSize(45);
            assertThat(e.truncated()).isTrue();
            assertThat(e.targets()).isEqualTo(3);
            assertThat(e.targetsCut()).isEqualTo(3);
        }
        try (ChatEncoder enc = plain(20)) {              // no answer left: dropped
            ChatEncoder.EncodedSet s = enc.encodeAll(List.of(TWO_TURNS, new Conversation(List.of(
                    new ChatMessage("user", "sky?"), new ChatMessage("assistant", "blue")), null)));
            assertThat(s.kept()).containsExactly(1);
            assertThat(s.stats().truncated()).isEqualTo(1);
            assertThat(s.stats().dropped()).isEqualTo(1);
            assertThat(s.stats().targetsCut()).isEqualTo(6);
            assertThat(s.stats().warning("train.jsonl")).isEqualTo("train.jsonl: 1 of 2 examples are longer than 20 "
                    + "tokens and were truncated (6 response tokens cut, 1 left without any response token and were "
                    + "dropped); raise max_length (--max-length) to keep them whole");
        }
    }

    @Test
    void modelTemplateTargetsAreContentPlusEndOfTurn() {
        ChatTemplate qwen = ChatTemplateTest.template("qwen2.5-instruct");
        Conversation c = new Conversation(List.of(new ChatMessage("user", "what color is the sky?"),
                new ChatMessage("assistant", "blue."), new ChatMessage("user", "is the sky red?"),
                new ChatMessage("assistant", "no.")), null);
        try (ChatEncoder enc = ChatEncoder.open(TOKENIZER, qwen, 1024)) {
            ChatEncoder.Encoded e = enc.encode(c);
            List<Long> targets = new ArrayList<>();
            for (int t = 0; t < e.ids().length; t++) {
                if (e.labels()[t] != I) {
                    assertThat(e.labels()[t]).isEqualTo(e.ids()[t]);
                    targets.add(e.labels()[t]);
                }
            }
            long[] expected = cat(raw("blue.<|im_end|>"), raw("no.<|im_end|>"));
            assertThat(targets).containsExactly(Arrays.stream(expected).boxed().toArray(Long[]::new));
            // the prompt of the first answer (system, user, header) is all masked
            int promptLength = enc.promptIds(c.messages().subList(0, 1)).length;
            assertThat(Arrays.copyOf(e.labels(), promptLength)).containsOnly(I);
        }
    }

    /** The tokenizer's ids of {@code text} alone. */
    private static long[] raw(String text) {
        ChatTemplate raw = new ChatTemplate("{{ messages[0].content }}", "raw", Map.of(), java.time.Clock.systemUTC());
        try (ChatEncoder r = ChatEncoder.open(TOKENIZER, raw, 1024)) {
            return r.promptIds(List.of(new ChatMessage("user", text)));
        }
    }

    @Test
    void aTemplateThatRewritesEarlierTurnsIsRefused() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{% if loop.last %}last: {% endif %}{{ m.content }} "
                + "{% endfor %}", "m/tokenizer_config.json", Map.of(), java.time.Clock.systemUTC());
        try (ChatEncoder enc = ChatEncoder.open(TOKENIZER, t, 512)) {
            assertThatThrownBy(() -> enc.encode(TWO_TURNS)).isInstanceOf(ChatTemplateException.class)
                    .hasMessageContaining("does not render conversations incrementally");
        }
    }
}
