package org.fedqlora.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The llama-tiny fixture as a chat model folder: its files plus a tokenizer_config.json of our choosing. */
public final class TinyDecoder {
    private TinyDecoder() {
    }

    /**
     * Copies llama-tiny into {@code dir} with {@code tokenizerConfig} (JSON text) as tokenizer_config.json; the
     * fixture tokenizer's [CLS] and [SEP] serve as BOS and EOS.
     */
    public static Path folder(Path dir, String tokenizerConfig) {
        try {
            Files.createDirectories(dir);
            Path src = Fixtures.model("llama-tiny");
            for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
                Files.copy(src.resolve(f), dir.resolve(f));
            }
            Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfig);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** With BOS [CLS], EOS [SEP] and no chat template (the plain template). */
    public static Path plain(Path dir) {
        return folder(dir, "{\"bos_token\": \"[CLS]\", \"eos_token\": \"[SEP]\"}");
    }
}
