package org.fedqlora.cli;

import org.fedqlora.sim.config.ConfigLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code fedqlora demo}: the demo preset (4 clients, nf2/nf4, lora vs fedqlora) on the embedded model. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the demo: the 'demo' simulation preset on the embedded model and generated data:",
                "4 clients (nf2:nf4 = 1:1, Dirichlet 0.5 label skew), methods lora and fedqlora, 12 rounds."},
        footer = {"", "Examples:", "  fedqlora demo", "  fedqlora demo --out runs/my-demo --set rounds=10",
                "", "Same as: fedqlora simulate --preset demo --out DIR"})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: runs/demo-<date-time>).") Path out;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a preset key (repeatable).")
    List<String> sets = new ArrayList<>();

    @Override
    public Integer call() {
        Path dir = out != null ? out
                : Path.of("runs", "demo-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        System.err.println("fedqlora demo -> " + dir);
        return SimulateCommand.run(ConfigLoader.loadPreset("demo", sets), dir, false);
    }
}
