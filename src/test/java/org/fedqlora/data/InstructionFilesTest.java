package org.fedqlora.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InstructionFilesTest {
    @TempDir
    Path dir;

    private Path file(String... lines) throws IOException {
        Path f = dir.resolve("train.jsonl");
        Files.write(f, List.of(lines));
        return f;
    }

    @Test
    void alpacaAndChatRowsBecomeConversations() throws IOException {
        Path f = file("{\"instruction\": \"Add the numbers.\", \"input\": \"2 and 3\", \"output\": \"5\", \"category\": \"math\"}",
                "",
                "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi!\", \"system\": \"Be brief.\", \"category\": \"chat\"}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, "
                        + "{\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"d\"}], \"category\": 7}");
        InstructionFiles.Instructions d = InstructionFiles.load(f);
        assertThat(d.size()).isEqualTo(3);
        assertThat(d.lines()).containsExactly(1L, 3L, 4L);
        assertThat(d.conversations().get(0).messages()).containsExactly(new ChatMessage("user", "Add the numbers.\n\n2 and 3"),
                new ChatMessage("assistant", "5"));
        assertThat(d.conversations().get(1).messages()).containsExactly(new ChatMessage("system", "Be brief."),
                new ChatMessage("user", "Say hi."), new ChatMessage("assistant", "Hi!"));
        assertThat(d.conversations().get(2).assistantTurns()).containsExactly(1, 3);
        assertThat(d.conversations().get(2).lastAnswer()).isEqualTo("d");
        assertThat(d.conversations().get(2).promptForLastAnswer()).hasSize(3);
        Dataset ds = InstructionFiles.asDataset(d);
        assertThat(ds.labels().labels()).containsExactly("7", "chat", "math");
        assertThat(ds.labelIds()).containsExactly(2, 1, 0);
        assertThat(InstructionFiles.conversations(ds)).isEqualTo(d.conversations());
        assertThat(InstructionFiles.looksLikeInstructions(f)).isTrue();
    }

    @Test
    void withoutCategoriesEveryExampleHasOneLabel() throws IOException {
        Dataset ds = InstructionFiles.asDataset(InstructionFiles.load(file(
                "{\"instruction\": \"x\", \"output\": \"y\"}", "{\"instruction\": \"z\", \"output\": \"w\"}")));
        assertThat(ds.labels().labels()).containsExactly(InstructionFiles.NO_CATEGORY);
    }

    @Test
    void aConversationWithoutAnAssistantTurnIsRefused() throws IOException {
        Path f = file("{\"instruction\": \"x\", \"output\": \"y\"}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"q\"}]}");
        assertThatThrownBy(() -> InstructionFiles.load(f)).isInstanceOf(DataException.class)
                .hasMessage(f + " line 2: the conversation has no assistant turn, so there is nothing to train on (roles: "
                        + "system, user); add the answer as {\"role\": \"assistant\", \"content\": \"...\"} or drop the row");
    }

    @Test
    void malformedRowsNameFileAndLine() throws IOException {
        record Case(String line, String message) {
        }
        for (Case c : List.of(
                new Case("{\"instruction\": \"x\"", "line 1: not valid JSON"),
                new Case("[1, 2]", "line 1: expected a JSON object like"),
                new Case("{\"text\": \"x\", \"label\": 1}", "line 1: neither 'messages' (chat shape) nor 'instruction' "
                        + "and 'output' (Alpaca shape) (fields present: text, label)"),
                new Case("{\"instruction\": \"x\", \"output\": \"  \"}", "line 1: 'output' is empty"),
                new Case("{\"instruction\": 3, \"output\": \"y\"}", "line 1: field 'instruction' is number, expected a string"),
                new Case("{\"messages\": []}", "line 1: 'messages' must be a non-empty array"),
                new Case("{\"messages\": [{\"role\": \"bot\", \"content\": \"y\"}]}", "line 1, message 1: unknown role 'bot'; "
                        + "valid roles: system, user, assistant, tool"),
                new Case("{\"messages\": [{\"role\": \"assistant\"}]}", "line 1, message 1: no field 'content'"),
                new Case("{\"instruction\": \"x\", \"output\": \"y\", \"category\": [1]}", "line 1: the category ('category') "
                        + "is array"))) {
            Path f = file(c.line());
            assertThatThrownBy(() -> InstructionFiles.load(f)).as(c.line()).isInstanceOf(DataException.class)
                    .hasMessageStartingWith(f + " " + c.message());
        }
    }

    @Test
    void mixedCategoryPresenceIsRefused() throws IOException {
        var d = InstructionFiles.load(file("{\"instruction\": \"x\", \"output\": \"y\", \"category\": \"a\"}",
                "{\"instruction\": \"x\", \"output\": \"y\"}"));
        assertThatThrownBy(() -> InstructionFiles.asDataset(d)).isInstanceOf(DataException.class)
                .hasMessageContaining("line 2: no category, but other rows have one");
    }
}
