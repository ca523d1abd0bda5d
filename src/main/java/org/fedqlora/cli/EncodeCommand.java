package org.fedqlora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.model.Models;
import org.fedqlora.model.TextEncoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

/** {@code fedqlora encode}: sentence embeddings (mean pooling, L2-normalised) as JSON. */
@Command(name = "encode", mixinStandardHelpOptions = true,
        description = "Sentence embeddings: mean over unmasked tokens, then L2-normalised.",
        footer = {"", "Examples:",
                "  fedqlora encode --model minilm --text \"A man is eating food.\" --text \"A man eats bread.\" --out emb.json",
                "  fedqlora encode --model ./my-bert --input sentences.txt --out emb.json",
                "",
                "Output: {\"model\": ..., \"dimension\": 384, \"embeddings\": [[...], ...]} in input order."})
public final class EncodeCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|PATH",
            description = "Embedded model 'minilm' (all-MiniLM-L6-v2) or a local HuggingFace folder (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--text", paramLabel = "TEXT", description = "A sentence to encode (repeatable).")
    List<String> texts = new ArrayList<>();

    @Option(names = "--input", paramLabel = "FILE", description = "A UTF-8 file with one sentence per line (blank lines skipped).")
    Path input;

    @Option(names = "--out", required = true, paramLabel = "FILE.json", description = "Where to write the embeddings.")
    Path out;

    @Range(min = 1, max = 65_536) @Option(names = "--batch", defaultValue = "32", description = "Sentences per batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Range(min = 3, max = 1 << 20, zero = "the model's maximum") @Option(names = "--max-length", defaultValue = "0",
            description = "Truncate to this many tokens (default: the model's maximum).")
    int maxLength;

    @Option(names = "--overwrite", description = "Replace --out if it exists.")
    boolean overwrite;

    @Override
    public Integer call() throws IOException {
        List<String> sentences = sentences();
        if (batch < 1) {
            throw new UserException("--batch must be at least 1, got " + batch);
        }
        Outputs.checkFile(out, overwrite);
        long t0 = System.nanoTime();
        float[][] emb;
        String name;
        try (TextEncoder enc = TextEncoder.load(Models.open(model), org.fedqlora.nn.BaseWeightFactory.DENSE, maxLength)) {
            name = enc.folder().name();
            emb = encode(enc, sentences);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        write(name, emb);
        System.err.printf(Locale.ROOT, "encoded %d sentences in %.2f s (%.1f sentences/s) -> %s%n",
                sentences.size(), secs, sentences.size() / secs, out);
        return 0;
    }

    private List<String> sentences() throws IOException {
        List<String> all = new ArrayList<>(texts);
        if (input != null) {
            if (!Files.isRegularFile(input)) {
                throw new UserException("--input " + input + " does not exist or is not a file");
            }
            org.fedqlora.TextFiles.requireUtf8(input, "--input");
            for (String line : Files.readAllLines(input, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    all.add(line.strip());
                }
            }
            if (all.size() == texts.size()) {
                throw new UserException("--input " + input + " is empty: expected one sentence per line");
            }
        }
        if (all.isEmpty()) {
            throw new UserException("nothing to encode: give --text \"...\" (repeatable) or --input FILE");
        }
        return all;
    }

    /** Batches sentences of similar length together (less padding), then restores input order. */
    private float[][] encode(TextEncoder enc, List<String> sentences) {
        int n = sentences.size();
        int[] lengths = sentences.stream().mapToInt(s -> enc.tokenizer().ids(s).length).toArray();
        Integer[] order = IntStream.range(0, n).boxed().sorted(Comparator.comparingInt(i -> lengths[i])).toArray(Integer[]::new);
        float[][] result = new float[n][];
        try (Progress p = new Progress("encode", n, "sent")) {
            for (int start = 0; start < n; start += batch) {
                int end = Math.min(n, start + batch);
                List<String> chunk = new ArrayList<>();
                for (int i = start; i < end; i++) {
                    chunk.add(sentences.get(order[i]));
                }
                float[][] e = enc.embed(chunk);
                for (int i = start; i < end; i++) {
                    result[order[i]] = e[i - start];
                }
                if (n > batch) {
                    p.advance(end - start);
                }
            }
        }
        return result;
    }

    private void write(String name, float[][] emb) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("model", name);
        root.put("dimension", emb.length == 0 ? 0 : emb[0].length);
        ArrayNode all = root.putArray("embeddings");
        for (float[] e : emb) {
            ArrayNode row = all.addArray();
            for (float v : e) {
                row.add(v);
            }
        }
        Outputs.writeAtomically(out, json.writeValueAsBytes(root));
    }
}
