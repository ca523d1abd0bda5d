package org.fedqlora.tokenize;

import org.fedqlora.data.ChatMessage;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Real chat templates (src/test/resources/chat) render exactly the text their definition gives. The expected
 * strings are written by hand from the templates' source, piece by piece, not taken from the renderer.
 */
class ChatTemplateTest {
    private static final Clock DEC_1_2026 = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);
    private static final List<ChatMessage> TWO_TURNS = List.of(
            new ChatMessage("system", "You are a helpful assistant."),
            new ChatMessage("user", "What is 2+2?"),
            new ChatMessage("assistant", "4."),
            new ChatMessage("user", "And 3+3?"),
            new ChatMessage("assistant", "6."));

    static ChatTemplate template(String family) {
        TokenizerConfig c = TokenizerConfig.read(Path.of("src/test/resources/chat", family));
        return new ChatTemplate(c.chatTemplate(), c.origin(), c.special(), DEC_1_2026);
    }

    @Test
    void llama32RendersTwoTurnsWithTodaysDateFromStrftimeNow() {
        String expected = "<|begin_of_text|>"
                + "<|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 01 Dec 2026\n\n"
                + "You are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n4.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n6.<|eot_id|>";
        assertThat(template("llama-3.2-instruct").render(TWO_TURNS, false)).isEqualTo(expected);
    }

    @Test
    void llama32GenerationPromptTrimsContentAndEndsWithTheAssistantHeader() {
        List<ChatMessage> m = List.of(new ChatMessage("user", "  Hi there \n"));
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 01 Dec 2026\n\n<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertThat(template("llama-3.2-instruct").render(m, true)).isEqualTo(expected);
    }

    @Test
    void llama32DateStringCanBePassedLikeApplyChatTemplateKeywords() {
        String out = template("llama-3.2-instruct").render(TWO_TURNS.subList(0, 2), true,
                Map.of("date_string", "26 Jul 2024"));
        assertThat(out).contains("Today Date: 26 Jul 2024\n\n");
    }

    @Test
    void qwen25RendersTwoTurnsWithItsDefaultSystemPrompt() {
        String expected = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                + "<|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n4.<|im_end|>\n"
                + "<|im_start|>user\nAnd 3+3?<|im_end|>\n"
                + "<|im_start|>assistant\n6.<|im_end|>\n";
        assertThat(template("qwen2.5-instruct").render(TWO_TURNS.subList(1, 5), false)).isEqualTo(expected);
    }

    @Test
    void qwen25UsesTheGivenSystemMessageAndGenerationPrompt() {
        String expected = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n";
        assertThat(template("qwen2.5-instruct").render(TWO_TURNS.subList(0, 2), true)).isEqualTo(expected);
    }

    @Test
    void qwen25ToolsAreWrittenWithPythonJsonSpacing() {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("type", "object");
        params.put("properties", Map.of("city", Map.of("type", "string")));
        params.put("required", List.of("city"));
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "get_weather");
        fn.put("description", "Get the weather");
        fn.put("parameters", params);
        Map<String, Object> tool = new LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", fn);
        String out = template("qwen2.5-instruct").render(TWO_TURNS.subList(1, 2), true, Map.of("tools", List.of(tool)));
        String expected = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                + "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather\", "
                + "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
                + "\"required\": [\"city\"]}}}"
                + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
                + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
                + "<args-json-object>}\n</tool_call><|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
        assertThat(out).isEqualTo(expected);
    }

    @Test
    void plainTemplateWithoutModelTemplate() {
        ChatTemplate t = ChatTemplate.plain(Map.of("bos_token", "<s>", "eos_token", "</s>"));
        String expected = "<s>You are a helpful assistant.\n\n"
                + "### Instruction:\nWhat is 2+2?\n\n### Response:\n4.</s>\n\n"
                + "### Instruction:\nAnd 3+3?\n\n### Response:\n6.</s>\n\n";
        assertThat(t.render(TWO_TURNS, false)).isEqualTo(expected);
        assertThat(t.render(TWO_TURNS.subList(1, 2), true)).isEqualTo("<s>### Instruction:\nWhat is 2+2?\n\n### Response:\n");
    }

    @Test
    void raiseExceptionBecomesAClearError() {
        ChatTemplate t = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must "
                + "start with a user turn') }}{% endif %}ok", "test/tokenizer_config.json", Map.of(), DEC_1_2026);
        assertThat(t.render(List.of(new ChatMessage("user", "hi")), false)).isEqualTo("ok");
        assertThatThrownBy(() -> t.render(List.of(new ChatMessage("assistant", "hi")), false))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("the chat template (test/tokenizer_config.json) refused the conversation: Conversations "
                        + "must start with a user turn");
    }

    @Test
    void unrenderableFeaturesAreOneClearError() {
        for (String source : List.of("{{ messages[0].content.startswith('x') }}", "{{ messages[::-1][0].role }}",
                "{{ messages[0].content | nosuchfilter }}", "{% nosuchtag %}")) {
            ChatTemplate t = new ChatTemplate(source, "m/tokenizer_config.json", Map.of(), DEC_1_2026);
            assertThatThrownBy(() -> t.render(List.of(new ChatMessage("user", "hi")), false))
                    .as(source)
                    .isInstanceOf(ChatTemplateException.class)
                    .hasMessageStartingWith("the chat template (m/tokenizer_config.json) uses a feature fedqlora's "
                            + "Jinja engine (Jinjava) cannot render: ");
        }
    }

    @Test
    void generationBlockRendersItsBody() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}"
                + "{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}|{% endif %}{% endfor %}", "x", Map.of(),
                DEC_1_2026);
        assertThat(t.render(TWO_TURNS.subList(1, 3), false)).isEqualTo("What is 2+2?|4.");
    }

    @Test
    void specialTokensMayBeAddedTokenObjects() {
        TokenizerConfig c = TokenizerConfig.read(Path.of("src/test/resources/chat/added-token-objects"));
        assertThat(c.special()).containsEntry("bos_token", "<s>").containsEntry("eos_token", "</s>");
        assertThat(c.chatTemplate()).isEqualTo("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}");
        assertThat(ChatTemplate.of(c).render(TWO_TURNS.subList(1, 2), false)).isEqualTo("<s>What is 2+2?</s>");
    }

    @Test
    void pythonJsonMatchesJsonDumps() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("b", List.of(1, 2.5, "x\"y\n", true));
        m.put("a", Map.of());
        m.put("c", null);
        assertThat(PythonJson.dumps(m, null, false)).isEqualTo("{\"b\": [1, 2.5, \"x\\\"y\\n\", true], \"a\": {}, \"c\": null}");
        assertThat(PythonJson.dumps(m, 2, true)).isEqualTo("{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n"
                + "    \"x\\\"y\\n\",\n    true\n  ],\n  \"c\": null\n}");
        assertThat(PythonJson.pythonFloat(1e20)).isEqualTo("1e+20");
        assertThat(PythonJson.pythonFloat(1e-7)).isEqualTo("1e-07");
        assertThat(PythonJson.pythonFloat(12345678.0)).isEqualTo("12345678.0");
        assertThat(PythonJson.pythonFloat(0.0001)).isEqualTo("0.0001");
    }
}
