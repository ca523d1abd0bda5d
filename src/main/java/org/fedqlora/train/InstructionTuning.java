package org.fedqlora.train;

import org.fedqlora.UserException;
import org.fedqlora.data.Conversation;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.tokenize.ChatEncoder;
import org.fedqlora.tokenize.ChatTemplate;

import java.util.List;
import java.util.function.Consumer;

/**
 * What {@code train}, {@code eval} and the simulation share to instruction-tune a decoder: the chat template and
 * encoder for a model folder, and conversations → {@link InstructionExamples} with the truncation warning.
 */
public final class InstructionTuning {
    private InstructionTuning() {
    }

    /** Refuses an encoder-only model for causal-LM work. */
    public static void requireDecoder(ModelFolder folder) {
        if (!folder.isDecoder()) {
            throw new UserException(folder.name() + " is a " + folder.modelType() + " encoder; instruction tuning "
                    + "(causal-LM) needs a decoder (model_type " + String.join(", ", LlamaConfig.SUPPORTED_TYPES)
                    + "): pass its folder with --model PATH (simulate: --set model=PATH). For text/label data, train a "
                    + "classifier (--task classification).");
        }
    }

    /**
     * A chat encoder for {@code folder} with the template {@code templateSpec} (auto, plain, or a .jinja file);
     * sequences are cut at {@code maxLength} tokens (at most the model's context).
     */
    public static ChatEncoder encoder(ModelFolder folder, String templateSpec, int maxLength, Consumer<String> warn) {
        ChatTemplate template = ChatTemplate.select(templateSpec, folder.dir());
        String eos = template.eosWarning();
        if (eos != null) {
            warn.accept(eos);
        }
        int context = LlamaConfig.fromJson(folder.config()).maxPositions();
        return ChatEncoder.open(folder.tokenizer(), template, maxLength <= 0 ? context : Math.min(maxLength, context));
    }

    /**
     * Encodes {@code conversations}; prints the truncation warning through {@code warn}; fails when no example
     * keeps a response token.
     *
     * @param what names the data in messages ("train.jsonl")
     */
    public static InstructionExamples encode(ChatEncoder enc, List<Conversation> conversations, long padId, String what,
                                             Consumer<String> warn) {
        ChatEncoder.EncodedSet s = enc.encodeAll(conversations);
        String w = s.stats().warning(what);
        if (w != null) {
            warn.accept(w);
        }
        if (s.examples().isEmpty()) {
            throw new UserException(what + ": no example keeps a response token within " + enc.maxLength()
                    + " tokens; raise max_length (--max-length)");
        }
        return InstructionExamples.of(s.examples(), padId);
    }
}
