package org.fedqlora.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A synthetic text-classification data set that ships with fedqlora: short customer-support messages whose label is
 * a (product area, request type) pair, e.g. {@code delivery_problem} or {@code app_question} (8 classes). It is made
 * from templates and word lists, deterministic by seed, and says it is synthetic.
 *
 * <p>It is built to need training, not keyword matching: all areas share the templates and fillers, both request
 * types share the area's vocabulary (questions ask "what happens if a parcel arrives damaged?", problems say "I tried
 * to change the delivery address but it failed"), many messages mention a second area only to dismiss it ("This is
 * not about my invoice.") or deny the other request type ("Nothing is broken."), some carry typos or are lower-cased,
 * and a few training labels are flipped at random ({@link Options#labelNoise}). The test split has no label noise and
 * no text that also appears in the training split.
 */
public final class DemoData {
    /** The label names, also the label map order. */
    public static final List<String> LABELS = labels();
    /** Fewest and most words in one message. */
    public static final int MIN_WORDS = 10;
    public static final int MAX_WORDS = 40;
    private static final int MAX_REDRAWS = 100;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private DemoData() {
    }

    /**
     * Sizes and noise.
     *
     * @param trainSize  training examples
     * @param testSize   test examples
     * @param labelNoise fraction of training labels replaced by another class at random, in [0, 0.5)
     */
    public record Options(int trainSize, int testSize, double labelNoise) {
        /** 3,000 training and 1,000 test messages, 4% noisy training labels. */
        public static final Options DEFAULT = new Options(3000, 1000, 0.04);

        public Options {
            if (trainSize < 1 || testSize < 1) {
                throw new DataException("demo data sizes must be >= 1, got train " + trainSize + ", test " + testSize);
            }
            if (!(labelNoise >= 0 && labelNoise < 0.5)) {
                throw new DataException("label noise must be in [0, 0.5), got " + labelNoise);
            }
        }
    }

    /** The generated splits, with what made them. */
    public record Demo(Dataset train, Dataset test, long seed, Options options) {
    }

    public static Demo generate(long seed) {
        return generate(seed, Options.DEFAULT);
    }

    public static Demo generate(long seed, Options options) {
        SplittableRandom random = new SplittableRandom(seed);
        LabelMap labels = new LabelMap(LABELS);
        Set<String> seen = new HashSet<>();
        List<Example> train = split(options.trainSize(), random, seen);
        List<Example> test = split(options.testSize(), random, seen);
        List<Example> noisyTrain = addLabelNoise(train, options.labelNoise(), random);
        String source = "fedqlora synthetic support-ticket demo (seed " + seed + ")";
        return new Demo(new Dataset(noisyTrain, labels, source + " train"),
                new Dataset(test, labels, source + " test"), seed, options);
    }

    /**
     * Writes {@code train.jsonl} and {@code test.jsonl} ({@code {"text": ..., "label": "<name>"}} per line), a
     * {@code dataset.json} that describes them ({@code "synthetic": true}, seed, sizes, labels) and a
     * {@code README.txt} with {@link #description()}, creating {@code dir} if needed.
     */
    public static void write(Demo demo, Path dir) throws IOException {
        Files.createDirectories(dir);
        DatasetFiles.writeJsonl(demo.train(), dir.resolve("train.jsonl"), Fields.DEFAULT);
        DatasetFiles.writeJsonl(demo.test(), dir.resolve("test.jsonl"), Fields.DEFAULT);
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("name", "fedqlora-demo-support-tickets");
        meta.put("version", 1);
        meta.put("synthetic", true);
        meta.put("seed", demo.seed());
        meta.put("train_examples", demo.train().size());
        meta.put("test_examples", demo.test().size());
        meta.put("train_label_noise", demo.options().labelNoise());
        meta.put("text_field", Fields.DEFAULT.text());
        meta.put("label_field", Fields.DEFAULT.label());
        meta.put("labels", LABELS);
        JSON.writeValue(dir.resolve("dataset.json").toFile(), meta);
        Files.writeString(dir.resolve("README.txt"), description(), StandardCharsets.UTF_8);
    }

    /** What the demo data is, ready for a README. */
    public static String description() {
        return """
                fedqlora demo data: synthetic customer-support messages (SYNTHETIC: generated from templates and word
                lists by fedqlora, deterministic by seed; no real customer wrote them).

                Files: train.jsonl and test.jsonl, one {"text": ..., "label": ...} object per line; dataset.json
                describes them.

                Task: 8 classes, a (product area, request type) pair: billing, account, delivery or app, crossed with
                problem (something is wrong) or question (how do I / what happens if). Messages are 10 to 40 words.
                No single word gives the class away: all areas share the templates, both request types share each
                area's vocabulary ("what happens if a parcel arrives damaged?" is a question, "I tried to change the
                delivery address but it failed" is a problem), many messages mention a second area only to dismiss it
                ("This is not about my invoice.") or deny the other request type ("Nothing is broken."), some have
                typos. A few training labels (train_label_noise in dataset.json) are deliberately wrong; the test
                split has none and shares no text with the training split.
                """;
    }

    private static List<String> labels() {
        List<String> names = new ArrayList<>();
        for (DemoVocabulary.Area area : DemoVocabulary.AREAS) {
            for (String request : DemoVocabulary.REQUESTS) {
                names.add(area.name() + "_" + request);
            }
        }
        return List.copyOf(names);
    }

    /** {@code n} examples, classes balanced (class = position mod 8, then shuffled), texts not in {@code seen}. */
    private static List<Example> split(int n, SplittableRandom random, Set<String> seen) {
        int[] order = PartitionSupport.shuffled(n, random);
        List<Example> examples = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int label = order[i] % LABELS.size();
            String text = DemoMessage.compose(label, random);
            for (int redraw = 0; redraw < MAX_REDRAWS && seen.contains(text); redraw++) {
                text = DemoMessage.compose(label, random);
            }
            seen.add(text);
            examples.add(new Example(text, label));
        }
        return examples;
    }

    private static List<Example> addLabelNoise(List<Example> examples, double noise, SplittableRandom random) {
        List<Example> noisy = new ArrayList<>(examples.size());
        for (Example e : examples) {
            if (random.nextDouble() < noise) {
                int other = (e.label() + 1 + random.nextInt(LABELS.size() - 1)) % LABELS.size();
                noisy.add(new Example(e.text(), other));
            } else {
                noisy.add(e);
            }
        }
        return noisy;
    }
}
