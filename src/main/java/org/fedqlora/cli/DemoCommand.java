package org.fedqlora.cli;

import org.fedqlora.model.Models;
import org.fedqlora.model.TextEncoder;
import picocli.CommandLine.Command;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code fedqlora demo}: the main job on the embedded model. Until the federated simulation lands this runs a
 * smaller end-to-end job (load the embedded MiniLM, encode sentences, compare them) and says so.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the demo on the embedded model (minilm).",
        footer = {"", "Example:", "  fedqlora demo"})
public final class DemoCommand implements Callable<Integer> {
    private static final List<String> SENTENCES = List.of(
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The new movie is awesome.",
            "A man is playing a guitar.",
            "Federated learning keeps the data where it is.");

    @Override
    public Integer call() {
        System.out.println("fedqlora demo (interim): the federated simulation is not built yet, so this runs a smaller");
        System.out.println("end-to-end job: load the embedded all-MiniLM-L6-v2 on DJL, embed sentences, compare them.");
        long t0 = System.nanoTime();
        try (TextEncoder enc = TextEncoder.load(Models.open(Models.MINILM))) {
            float[][] e = enc.embed(SENTENCES);
            System.out.println();
            System.out.println("cosine similarity");
            for (int i = 0; i < SENTENCES.size(); i++) {
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-50s", SENTENCES.get(i)));
                for (int j = 0; j < SENTENCES.size(); j++) {
                    row.append(String.format(Locale.ROOT, " %5.2f", dot(e[i], e[j])));
                }
                System.out.println(row);
            }
        }
        System.out.printf(Locale.ROOT, "%ndone in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }
}
