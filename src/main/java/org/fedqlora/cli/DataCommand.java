package org.fedqlora.cli;

import org.fedqlora.data.DemoData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fedqlora data}: data utilities. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Data utilities.",
        subcommands = {DataCommand.Demo.class})
public final class DataCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** {@code fedqlora data demo}: the embedded, generated demo data set. */
    @Command(name = "demo", mixinStandardHelpOptions = true,
            description = {"Write the embedded demo data: a generated (synthetic) labelled text classification set,",
                    "train.jsonl and test.jsonl with fields text and label, plus dataset.json describing it."},
            footer = {"", "Examples:", "  fedqlora data demo --out demo-data",
                    "  fedqlora data demo --instructions --train 400 --test 100 --out demo-instruct"})
    public static final class Demo implements Callable<Integer> {
        @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
        @Range(min = Long.MIN_VALUE, max = Long.MAX_VALUE) @Option(names = "--seed", defaultValue = "1") long seed;
        @Range(min = 1, max = 10_000_000) @Option(names = "--train", defaultValue = "3000", description = "Training examples (default: ${DEFAULT-VALUE}).") int train;
        @Range(min = 1, max = 10_000_000) @Option(names = "--test", defaultValue = "1000", description = "Test examples (default: ${DEFAULT-VALUE}).") int test;
        @Range(min = 0, max = 0.5, maxExclusive = true) @Option(names = "--label-noise", defaultValue = "0.04", description = "Share of flipped labels (default: ${DEFAULT-VALUE}).") double noise;
        @Option(names = "--overwrite", description = "Write into a non-empty --out.") boolean overwrite;
        @Option(names = "--instructions", description = "Write instruction-tuning rows (instruction, input, output, "
                + "category) for a decoder instead of text/label rows.") boolean instructions;

        @Override
        public Integer call() throws Exception {
            Outputs.prepareDir(out, overwrite);
            DemoData.Demo d = DemoData.generate(seed, new DemoData.Options(train, test, noise));
            if (instructions) {
                org.fedqlora.data.DemoInstructions.write(d, out);
            } else {
                DemoData.write(d, out);
            }
            System.out.printf("wrote %d train and %d test examples (%d labels, synthetic) to %s%n",
                    d.train().size(), d.test().size(), d.train().labels().size(), out);
            return 0;
        }
    }
}
