package org.fedqlora.cli;

import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Every numeric option has a checked range; a value outside it is refused before anything runs. */
class OptionRangesTest {
    @TempDir
    Path dir;

    private static List<CommandLine> allCommands(CommandLine cl) {
        List<CommandLine> all = new ArrayList<>(List.of(cl));
        cl.getSubcommands().values().forEach(sub -> all.addAll(allCommands(sub)));
        return all;
    }

    @Test
    void everyNumericOptionOfEveryCommandHasARangeThatHoldsItsDefault() {
        List<String> missing = new ArrayList<>();
        for (CommandLine cl : allCommands(new CommandLine(new Main()))) {
            for (OptionSpec o : cl.getCommandSpec().options()) {
                if (OptionRanges.isNumeric(o.type())) {
                    String name = cl.getCommandSpec().qualifiedName() + " " + o.longestName();
                    if (OptionRanges.range(o) == null) {
                        missing.add(name);
                    } else if (o.defaultValue() != null) {
                        Number def = Double.valueOf(o.defaultValue());
                        assertThat(OptionRanges.problem(OptionRanges.range(o), def, false)).as(name + " default").isNull();
                    }
                }
            }
        }
        assertThat(missing).as("numeric options without @Range").isEmpty();
    }

    @Test
    void negativeStepsAreRefusedWithTheRangeBeforeAnyOutputExists() {
        Path out = dir.resolve("run");
        Cli.Result r = Cli.run("train", "--data", "x.jsonl", "--steps", "-1", "--out", out.toString());

        Cli.assertUserError(r, "--steps must be an integer in [1, 1000000000], or 0 (train --epochs passes), got -1");
        assertThat(out).doesNotExist();
    }

    @Test
    void zeroOrNegativeMaxLengthIsRefused() {
        for (String v : new String[] {"-5", "2"}) {
            Cli.Result r = Cli.run("encode", "--text", "x", "--max-length", v, "--out", dir.resolve("e.json").toString());
            Cli.assertUserError(r, "--max-length must be an integer in [3, 1048576], or 0 (the model's maximum), got " + v);
        }
        Cli.Result r = Cli.run("train", "--data", "x.jsonl", "--max-length", "0", "--out", dir.resolve("r").toString());
        Cli.assertUserError(r, "--max-length must be an integer in [3, 1048576], got 0");
    }

    @Test
    void nonFiniteAndOutOfRangeNumbersAreRefused() {
        String out = dir.resolve("r").toString();
        Cli.assertUserError(Cli.run("train", "--data", "x", "--lr", "NaN", "--out", out), "--lr must be a finite number in (0, 10], got NaN");
        Cli.assertUserError(Cli.run("train", "--data", "x", "--lr", "Infinity", "--out", out), "--lr", "got Infinity");
        Cli.assertUserError(Cli.run("train", "--data", "x", "--lora-rank", "0", "--out", out), "--lora-rank must be an integer in [1, 4096], got 0");
        Cli.assertUserError(Cli.run("train", "--data", "x", "--qa-rank", "-2", "--out", out), "--qa-rank", "or 0 (no QA adapter), got -2");
        Cli.assertUserError(Cli.run("train", "--data", "x", "--lora-dropout", "1", "--out", out), "--lora-dropout must be a finite number in [0, 1), got 1.0");
        Cli.assertUserError(Cli.run("train", "--data", "x", "--epochs", "0", "--out", out), "--epochs must be an integer in [1, 100000], got 0");
        Cli.assertUserError(Cli.run("quantize", "--format", "nf4", "--group-size", "0"), "--group-size must be an integer in [1, 1048576], got 0");
        Cli.assertUserError(Cli.run("data", "demo", "--out", out, "--label-noise", "0.7"), "--label-noise must be a finite number in [0, 0.5), got 0.7");
        Cli.assertUserError(Cli.run("eval", "--adapter", out, "--data", "x", "--batch", "0"), "--batch must be an integer in [1, 65536], got 0");
        assertThat(dir.resolve("r")).doesNotExist();
    }

    @Test
    void valuesInsideTheRangeStillRun() {
        Path out = dir.resolve("e.json");
        Cli.Result r = Cli.run("encode", "--model", Fixtures.model("bert-tiny").toString(), "--text", "fine",
                "--max-length", "3", "--batch", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out).exists();
    }
}
