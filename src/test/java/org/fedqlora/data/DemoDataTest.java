package org.fedqlora.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class DemoDataTest {
    /** Allowed gap between the measured and the requested training label noise (3,000 draws: sd ~0.004). */
    private static final double NOISE_TOLERANCE = 0.015;
    /** A word in at least this share of the messages must not pin down the class more often than MAX_PURITY. */
    private static final double FREQUENT_WORD_SHARE = 0.05;
    private static final double MAX_PURITY = 0.7;
    /** A unigram naive Bayes must stay well below what a fine-tuned encoder should reach. */
    private static final double MAX_BAG_OF_WORDS_ACCURACY = 0.8;

    private static final DemoData.Demo DEMO = DemoData.generate(1);

    @Test
    void hasTheDefaultSizesEightBalancedTestClassesAndShortTexts() {
        assertThat(DEMO.train().size()).isEqualTo(3000);
        assertThat(DEMO.test().size()).isEqualTo(1000);
        assertThat(DEMO.test().labels().labels()).hasSize(8).isEqualTo(DemoData.LABELS);
        assertThat(DEMO.test().labelCounts()).containsOnly(125);
        for (Dataset d : List.of(DEMO.train(), DEMO.test())) {
            d.examples().forEach(e -> assertThat(e.text().split("\\s+").length)
                    .isBetween(DemoData.MIN_WORDS, DemoData.MAX_WORDS));
        }
    }

    @Test
    void isDeterministicBySeed() {
        DemoData.Demo again = DemoData.generate(1);
        DemoData.Demo other = DemoData.generate(2);

        assertThat(again.train().examples()).isEqualTo(DEMO.train().examples());
        assertThat(again.test().examples()).isEqualTo(DEMO.test().examples());
        assertThat(other.train().examples()).isNotEqualTo(DEMO.train().examples());
    }

    @Test
    void testTextsNeverAppearInTraining() {
        Set<String> train = new HashSet<>();
        DEMO.train().examples().forEach(e -> train.add(e.text()));

        assertThat(DEMO.test().examples()).noneMatch(e -> train.contains(e.text()));
    }

    @Test
    void flipsTheRequestedShareOfTrainingLabelsOnly() {
        DemoData.Demo clean = DemoData.generate(1, new DemoData.Options(3000, 1000, 0));

        int flipped = 0;
        for (int i = 0; i < clean.train().size(); i++) {
            assertThat(DEMO.train().get(i).text()).isEqualTo(clean.train().get(i).text());
            flipped += DEMO.train().get(i).label() != clean.train().get(i).label() ? 1 : 0;
        }
        double rate = flipped / (double) clean.train().size();

        System.out.printf("training label noise: %.4f (requested %.2f)%n", rate, DemoData.Options.DEFAULT.labelNoise());
        assertThat(rate).isCloseTo(DemoData.Options.DEFAULT.labelNoise(), within(NOISE_TOLERANCE));
        assertThat(DEMO.test().examples()).isEqualTo(clean.test().examples());
    }

    @Test
    void noFrequentWordGivesTheClassAway() {
        Map<String, int[]> counts = wordClassCounts(DEMO.test());
        String worst = null;
        double worstPurity = 0;
        for (Map.Entry<String, int[]> e : counts.entrySet()) {
            int total = java.util.Arrays.stream(e.getValue()).sum();
            int top = java.util.Arrays.stream(e.getValue()).max().orElse(0);
            if (total >= FREQUENT_WORD_SHARE * DEMO.test().size() && top / (double) total > worstPurity) {
                worstPurity = top / (double) total;
                worst = e.getKey();
            }
        }

        System.out.printf("most telling frequent word: '%s', class purity %.3f%n", worst, worstPurity);
        assertThat(worstPurity).isLessThan(MAX_PURITY);
    }

    @Test
    void bagOfWordsBaselineIsFarFromPerfect() {
        double accuracy = naiveBayesAccuracy(DEMO.train(), DEMO.test());

        System.out.printf("unigram naive Bayes test accuracy: %.3f (chance 0.125)%n", accuracy);
        assertThat(accuracy).isGreaterThan(0.3).isLessThan(MAX_BAG_OF_WORDS_ACCURACY);
    }

    @Test
    void printsASampleOfEachClass() {
        for (int label = 0; label < DemoData.LABELS.size(); label++) {
            int shown = 0;
            for (Example e : DEMO.test().examples()) {
                if (e.label() == label && shown++ < 3) {
                    System.out.println(DemoData.LABELS.get(label) + " | " + e.text());
                }
            }
        }
        assertThat(DemoData.description()).contains("SYNTHETIC");
    }

    @Test
    void writesJsonlFilesThatLoadBackWithASyntheticNote(@TempDir Path dir) throws IOException {
        DemoData.write(DEMO, dir);

        Dataset train = DatasetFiles.load(dir.resolve("train.jsonl"));
        Dataset test = DatasetFiles.load(dir.resolve("test.jsonl"), Fields.DEFAULT, train.labels());
        JsonNode meta = new ObjectMapper().readTree(dir.resolve("dataset.json").toFile());

        assertThat(train.examples()).isEqualTo(DEMO.train().examples());
        assertThat(test.examples()).isEqualTo(DEMO.test().examples());
        assertThat(meta.get("synthetic").asBoolean()).isTrue();
        assertThat(meta.get("seed").asLong()).isEqualTo(1);
        assertThat(Files.readString(dir.resolve("README.txt"))).contains("SYNTHETIC");
    }

    private static List<String> words(String text) {
        return List.of(text.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9' -]", " ").trim().split("\\s+"));
    }

    private static Map<String, int[]> wordClassCounts(Dataset data) {
        Map<String, int[]> counts = new HashMap<>();
        for (Example e : data.examples()) {
            for (String w : new HashSet<>(words(e.text()))) {
                counts.computeIfAbsent(w, k -> new int[data.labels().size()])[e.label()]++;
            }
        }
        return counts;
    }

    /** Multinomial naive Bayes with add-one smoothing, trained on {@code train}, accuracy on {@code test}. */
    private static double naiveBayesAccuracy(Dataset train, Dataset test) {
        int k = train.labels().size();
        Map<String, int[]> wordCounts = new HashMap<>();
        int[] classWords = new int[k];
        int[] classDocs = train.labelCounts();
        for (Example e : train.examples()) {
            for (String w : words(e.text())) {
                wordCounts.computeIfAbsent(w, x -> new int[k])[e.label()]++;
                classWords[e.label()]++;
            }
        }
        int vocabulary = wordCounts.size();
        int correct = 0;
        for (Example e : test.examples()) {
            int best = 0;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < k; c++) {
                double score = Math.log(classDocs[c]);
                for (String w : words(e.text())) {
                    int n = wordCounts.containsKey(w) ? wordCounts.get(w)[c] : 0;
                    score += Math.log((n + 1.0) / (classWords[c] + vocabulary));
                }
                if (score > bestScore) {
                    bestScore = score;
                    best = c;
                }
            }
            correct += best == e.label() ? 1 : 0;
        }
        return correct / (double) test.size();
    }
}
