package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.UserException;
import org.fedqlora.report.SummaryTable;
import org.fedqlora.sim.Method;
import org.fedqlora.sim.RoundRecord;
import org.fedqlora.sim.Simulation;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fedqlora simulate}: the federated simulation and experiment runner. */
@Command(name = "simulate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Simulate federated fine-tuning with heterogeneously quantized clients and compare methods",
                "(lora, ffa-lora, lora-truncated, fedqlora, ifedqlora, full-precision, local) on the same partition."},
        footer = {"", "Examples:",
                "  fedqlora simulate --preset demo --out runs/demo",
                "  fedqlora simulate --preset paper --out runs/paper",
                "  fedqlora simulate --config my.yaml --set rounds=20 --set formats=nf2:0.5,nf4:0.5 --out runs/x",
                "  fedqlora simulate --config my.yaml --out runs/x --resume      # continue an interrupted run",
                "",
                "Outputs in --out: config.yaml, partition.json, metrics.jsonl, summary.json, report.html (open it in a",
                "browser), checkpoints/. Presets: demo, paper, privacy. Unknown keys are rejected with the list of valid ones."})
public final class SimulateCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE.yaml", description = "Experiment config (YAML).") Path config;
    @Option(names = "--preset", paramLabel = "NAME", description = "A built-in config: demo, paper, llm-demo or privacy.") String preset;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key (repeatable), e.g. local.lr=1e-3.")
    List<String> sets = new ArrayList<>();
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (new or empty, unless --resume).")
    Path out;
    @Option(names = "--resume", description = "Continue the interrupted simulation in --out (same config).") boolean resume;

    @Override
    public Integer call() {
        if (config != null && preset != null) {
            throw new UserException("give either --config or --preset, not both");
        }
        SimConfig cfg = config != null ? ConfigLoader.load(config, sets)
                : preset != null ? ConfigLoader.loadPreset(preset, sets) : ConfigLoader.loadDefaults(sets);
        return run(cfg, out, resume);
    }

    /** Runs a simulation with a progress line per round and prints the summary table. */
    static int run(SimConfig cfg, Path out, boolean resume) {
        long t0 = System.nanoTime();
        int runs = cfg.runs().size();
        int total = runs * cfg.methods().size() * cfg.rounds();
        JsonNode summary;
        try (Progress progress = new Progress("simulate", total, "round")) {
            summary = Simulation.run(cfg, out, resume, new Simulation.Listener() {
                @Override
                public void runStarted(Run run, int index, int n) {
                    if (n > 1) {
                        System.err.printf(Locale.ROOT, "%nrun %d/%d: %s%n", index, n, run.id());
                    }
                }

                private String privacy = "";

                @Override
                public void privacy(Run run, Method method, int round, double epsilon, double delta) {
                    privacy = String.format(Locale.ROOT, ", ε = %.3f (δ = %.1g)", epsilon, delta);
                }

                @Override
                public void round(Run run, Method method, int round, int rounds, RoundRecord r) {
                    String status = r == null ? method.id + " round " + round + privacy
                            : String.format(Locale.ROOT, "%s round %d/%d: %s %.4f (worst %.4f)%s", method.id,
                            round, rounds, r.task().causalLm() ? "perplexity" : "accuracy", r.accuracy(),
                            r.worstAccuracy(), privacy);
                    privacy = "";
                    progress.advance(1, status);
                }
            });
        }
        System.out.println();
        System.out.print(SummaryTable.format(summary));
        if (summary.has("aggregate")) {
            System.out.println();
            System.out.print(org.fedqlora.sim.Tables.paper(summary));
        }
        System.out.printf(Locale.ROOT, "%ndone in %.1f s; open %s%n", (System.nanoTime() - t0) / 1e9,
                out.resolve("report.html"));
        return 0;
    }
}
