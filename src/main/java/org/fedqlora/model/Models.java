package org.fedqlora.model;

import org.fedqlora.model.onnx.EmbeddedModels;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Resolves the {@code --model} argument: {@code minilm} is the embedded model, {@code synthetic:NAME} a random decoder
 * of a real model's shape (benchmarks), anything else a local folder.
 */
public final class Models {
    /** The embedded default model's name on the command line. */
    public static final String MINILM = "minilm";

    private Models() {
    }

    public static ModelFolder open(String arg) {
        if (arg == null || arg.isBlank()) {
            throw new ModelException("--model is empty; pass 'minilm' or the path of a HuggingFace model folder");
        }
        if (arg.equals(MINILM)) {
            try {
                return ModelFolder.open(EmbeddedModels.minilmCacheDir(), MINILM);
            } catch (IOException e) {
                throw new ModelException("cannot prepare the embedded model in " + EmbeddedModels.home()
                        + ": " + e.getMessage() + " (set FEDQLORA_HOME to a writable folder)", e);
            }
        }
        if (org.fedqlora.model.llama.SyntheticDecoders.isSynthetic(arg)) {
            return org.fedqlora.model.llama.SyntheticDecoders.open(arg);
        }
        return ModelFolder.open(Path.of(arg), arg);
    }
}
