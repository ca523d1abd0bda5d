package org.fedqlora.model.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.TensorSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** all-MiniLM-L6-v2 materialised as a HuggingFace folder in a cache (written once per class, ~2 s). */
class EmbeddedModelsTest {
    @TempDir
    static Path home;
    private static Path dir;
    private static FileTime written;

    @BeforeAll
    static void materializeOnce() throws IOException {
        long t0 = System.nanoTime();
        dir = EmbeddedModels.minilmCacheDir(home);
        System.out.printf("EmbeddedModelsTest: first minilmCacheDir (read ONNX, convert, write) %.0f ms%n",
                (System.nanoTime() - t0) / 1e6);
        written = Files.getLastModifiedTime(dir.resolve(EmbeddedModels.WEIGHTS));
    }

    @Test
    void cacheFolderIsAHuggingFaceFolderUnderHome() {
        assertThat(dir).isEqualTo(home.resolve("models").resolve("all-MiniLM-L6-v2"));
        assertThat(dir.resolve("config.json")).isRegularFile();
        assertThat(dir.resolve("model.safetensors")).isRegularFile();
        assertThat(dir.resolve("tokenizer.json")).isRegularFile();
    }

    @Test
    void safetensorsHoldTheSameTensorsAsTheOnnxExport() throws IOException {
        // Prepare
        TensorSource source = EmbeddedModels.minilm();

        // Execute
        SafetensorsFile file = SafetensorsFile.open(dir.resolve(EmbeddedModels.WEIGHTS));

        // Assert
        assertThat(file.names()).containsExactlyInAnyOrderElementsOf(source.names());
        assertThat(file.metadata()).containsEntry("format", "pt");
        for (String name : source.names()) {
            assertThat(file.get(name).dtype()).as(name).isEqualTo(source.get(name).dtype());
            assertThat(file.get(name).shape()).as(name).containsExactly(source.get(name).shape());
            assertThat(file.get(name).data()).as(name).isEqualTo(source.get(name).data());
        }
    }

    @Test
    void configJsonIsMiniLmsConfig() throws IOException {
        JsonNode c = new ObjectMapper().readTree(dir.resolve(EmbeddedModels.CONFIG).toFile());

        assertThat(c).isEqualTo(new ObjectMapper().readTree(MiniLm.configJson()));
        assertThat(c.get("num_hidden_layers").asInt()).isEqualTo(6);
    }

    @Test
    void tokenizerJsonIsTheShippedWordPieceTokenizer() throws IOException {
        byte[] bytes = Files.readAllBytes(dir.resolve(EmbeddedModels.TOKENIZER));
        JsonNode model = new ObjectMapper().readTree(bytes).get("model");

        assertThat(bytes).isEqualTo(EmbeddedModels.minilmTokenizerJson());
        assertThat(model.get("type").asText()).isEqualTo("WordPiece");
        assertThat(model.get("vocab").size()).isEqualTo(MiniLm.VOCAB);
        assertThat(model.get("vocab").get("[PAD]").asInt()).isZero();
    }

    @Test
    void completeCacheFolderIsReusedWithoutRewriting() throws IOException {
        Path again = EmbeddedModels.minilmCacheDir(home);

        assertThat(again).isEqualTo(dir);
        assertThat(Files.getLastModifiedTime(again.resolve(EmbeddedModels.WEIGHTS))).isEqualTo(written);
        try (Stream<Path> models = Files.list(home.resolve("models"))) {
            assertThat(models).containsExactly(dir); // no temporary folder left behind
        }
    }

    @Test
    void incompleteCacheFolderIsReportedWithWhatToDo(@TempDir Path otherHome) throws IOException {
        Path partial = Files.createDirectories(otherHome.resolve("models").resolve("all-MiniLM-L6-v2"));
        Files.writeString(partial.resolve("config.json"), "{}");

        assertThatThrownBy(() -> EmbeddedModels.minilmCacheDir(otherHome)).isInstanceOf(IOException.class)
                .hasMessageContaining(partial.toString()).hasMessageContaining("delete the folder");
    }
}
