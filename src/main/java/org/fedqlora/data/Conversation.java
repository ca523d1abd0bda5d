package org.fedqlora.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * One instruction-tuning example: a conversation with at least one assistant turn (the training targets), and
 * an optional category (what {@code dirichlet}/{@code shards} partitioning skews over).
 *
 * <p>Canonical JSON form ({@link #toJson}), which is also how a conversation rides in a {@link Dataset}'s
 * {@link Example#text()} (see {@link InstructionFiles#asDataset}):
 * {@code {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}], "category": "qa"}}.
 *
 * @param messages the turns, in order
 * @param category the category, or null
 */
public record Conversation(List<ChatMessage> messages, String category) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public Conversation {
        messages = List.copyOf(messages);
        if (messages.stream().noneMatch(ChatMessage::isAssistant)) {
            throw new IllegalArgumentException("a conversation needs at least one assistant turn");
        }
    }

    /** The assistant turns' positions in {@link #messages}. */
    public List<Integer> assistantTurns() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).isAssistant()) {
                out.add(i);
            }
        }
        return out;
    }

    /** The content of the last assistant turn (the reference answer when generating). */
    public String lastAnswer() {
        List<Integer> a = assistantTurns();
        return messages.get(a.get(a.size() - 1)).content();
    }

    /** The turns before the last assistant turn (the prompt when generating). */
    public List<ChatMessage> promptForLastAnswer() {
        List<Integer> a = assistantTurns();
        return messages.subList(0, a.get(a.size() - 1));
    }

    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode m = o.putArray("messages");
        for (ChatMessage t : messages) {
            m.addObject().put("role", t.role()).put("content", t.content());
        }
        if (category != null) {
            o.put("category", category);
        }
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads the canonical form written by {@link #toJson}. */
    public static Conversation fromJson(String json) {
        try {
            JsonNode o = JSON.readTree(json);
            List<ChatMessage> m = new ArrayList<>();
            for (JsonNode t : o.get("messages")) {
                m.add(new ChatMessage(t.get("role").asText(), t.get("content").asText()));
            }
            JsonNode c = o.get("category");
            return new Conversation(m, c == null || c.isNull() ? null : c.asText());
        } catch (JsonProcessingException | RuntimeException e) {
            throw new IllegalArgumentException("not a conversation in canonical JSON: " + e.getMessage(), e);
        }
    }
}
