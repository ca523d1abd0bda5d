package org.fedqlora.sim.config;

import org.fedqlora.UserException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Expands a config into its runs, deterministically:
 * <ol>
 *   <li>Variants: the base config (named {@value #BASE}), then each experiment in the order listed. An experiment
 *       is the base with its {@code set} overrides applied in the order written; it inherits the base's sweep and
 *       seeds unless it sets {@code sweep} (e.g. {@code sweep: {}} to run only its own setting), a
 *       {@code sweep.KEY} axis or {@code seeds}. Experiments run in addition to the base, never instead of it.</li>
 *   <li>Per variant: every combination of its sweep, axes in key-table order ({@link SimConfig}'s field order),
 *       the first axis varying slowest and values in the order listed.</li>
 *   <li>Per combination: one run per seed of {@code seeds}, or the single {@code seed} when seeds is empty.</li>
 * </ol>
 * A variant with a sweep of sizes n1..nk and s seeds gives n1·…·nk·s runs.
 */
public final class Runs {
    /** The name of the variant that is the config itself. */
    public static final String BASE = "base";

    private Runs() {
    }

    /** Every run of config, in the order above; a run whose config is invalid fails with its id. */
    public static List<Run> expand(SimConfig config) {
        Map<String, Object> base = Settings.flatten(config);
        base.put("experiments", List.of());
        List<Run> runs = new ArrayList<>(variant(BASE, base));
        for (SimConfig.Experiment experiment : config.experiments()) {
            Map<String, Object> flat = new LinkedHashMap<>(base);
            experiment.set().forEach((key, value) -> Settings.apply(flat, key, value));
            runs.addAll(variant(experiment.name(), flat));
        }
        checkUniqueIds(runs);
        return List.copyOf(runs);
    }

    private static List<Run> variant(String name, Map<String, Object> flat) {
        @SuppressWarnings("unchecked")
        Map<String, List<Object>> sweep = (Map<String, List<Object>>) flat.get("sweep");
        @SuppressWarnings("unchecked")
        List<Long> seeds = (List<Long>) flat.get("seeds");
        List<Long> runSeeds = seeds.isEmpty() ? List.of((Long) flat.get("seed")) : seeds;
        List<Run> runs = new ArrayList<>();
        for (Map<String, Object> setting : combinations(sweep)) {
            for (long seed : runSeeds) {
                runs.add(run(name, flat, setting, seed));
            }
        }
        return runs;
    }

    /** The cartesian product of the axes, the first axis varying slowest. */
    static List<Map<String, Object>> combinations(Map<String, List<Object>> sweep) {
        List<Map<String, Object>> combos = new ArrayList<>();
        combos.add(new LinkedHashMap<>());
        for (Map.Entry<String, List<Object>> axis : sweep.entrySet()) {
            List<Map<String, Object>> next = new ArrayList<>();
            for (Map<String, Object> combo : combos) {
                for (Object value : axis.getValue()) {
                    Map<String, Object> extended = new LinkedHashMap<>(combo);
                    extended.put(axis.getKey(), value);
                    next.add(extended);
                }
            }
            combos = next;
        }
        return combos;
    }

    private static Run run(String name, Map<String, Object> variant, Map<String, Object> setting, long seed) {
        Map<String, Object> flat = new LinkedHashMap<>(variant);
        flat.putAll(setting);
        flat.put("seed", seed);
        flat.put("seeds", List.of());
        flat.put("sweep", Map.of());
        try {
            return new Run(name, setting, seed, Settings.build(flat));
        } catch (UserException e) {
            throw new UserException("run " + Run.id(name, setting, seed) + ": " + e.getMessage(), e);
        }
    }

    private static void checkUniqueIds(List<Run> runs) {
        Set<String> ids = new HashSet<>();
        for (Run r : runs) {
            if (!ids.add(r.id())) {
                throw new UserException("two runs would share the folder name '" + r.id() + "'; make the sweep"
                        + " values or experiment names differ in letters or digits");
            }
        }
    }
}
