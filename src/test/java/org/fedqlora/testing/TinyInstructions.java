package org.fedqlora.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Tiny instruction data for the tiny decoder: short conversations in two categories, colours of things (Alpaca
 * rows) and counting (chat rows), so both shapes and the category field are exercised.
 */
public final class TinyInstructions {
    private static final String[][] FACTS = {
            {"sky", "blue"}, {"grass", "green"}, {"sun", "yellow"}, {"snow", "white"}, {"blood", "red"},
            {"night", "black"}, {"sea", "blue"}, {"leaf", "green"}};

    private TinyInstructions() {
    }

    /** {@code n} JSONL rows from {@code seed}, one per line, in file order. */
    public static List<String> lines(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (r.nextBoolean()) {
                String[] f = FACTS[r.nextInt(FACTS.length)];
                lines.add("{\"instruction\": \"what color is the " + f[0] + "?\", \"output\": \"the " + f[0] + " is "
                        + f[1] + ".\", \"category\": \"colors\"}");
            } else {
                int a = r.nextInt(5);
                lines.add("{\"messages\": [{\"role\": \"user\", \"content\": \"what comes after " + a + "?\"}, "
                        + "{\"role\": \"assistant\", \"content\": \"" + (a + 1) + " comes after " + a + ".\"}], "
                        + "\"category\": \"numbers\"}");
            }
        }
        return lines;
    }

    /** Writes {@link #lines} to {@code file}. */
    public static void write(Path file, int n, long seed) throws IOException {
        Files.write(file, lines(n, seed));
    }
}
