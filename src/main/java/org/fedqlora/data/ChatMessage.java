package org.fedqlora.data;

import java.util.List;
import java.util.Objects;

/**
 * One turn of a conversation, as chat templates see it ({@code {"role": "user", "content": "..."}}).
 *
 * @param role    one of {@link #ROLES}
 * @param content the text of the turn
 */
public record ChatMessage(String role, String content) {
    public static final String SYSTEM = "system";
    public static final String USER = "user";
    public static final String ASSISTANT = "assistant";
    public static final String TOOL = "tool";
    /** The roles a conversation may use (what the chat templates of Llama 3, Qwen2.5, Mistral and SmolLM know). */
    public static final List<String> ROLES = List.of(SYSTEM, USER, ASSISTANT, TOOL);

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public boolean isAssistant() {
        return role.equals(ASSISTANT);
    }
}
