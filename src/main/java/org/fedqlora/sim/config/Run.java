package org.fedqlora.sim.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One simulation to run: a variant of the config ({@link Runs#BASE} or an experiment's name), one combination of
 * its sweep, and one seed.
 *
 * @param experiment "base" or the experiment's name
 * @param setting    the sweep values of this run, dotted key → typed value, in sweep-axis order (empty without a sweep)
 * @param seed       the run's seed (also config.seed())
 * @param config     the resolved single-run config: empty sweep, no seeds list, no experiments
 */
public record Run(String experiment, Map<String, Object> setting, long seed, SimConfig config) {

    public Run {
        setting = Collections.unmodifiableMap(new LinkedHashMap<>(setting));
    }

    /** The sweep setting in one line, "clients=3,partition.method=iid"; "" without a sweep. */
    public String label() {
        return label(setting);
    }

    /**
     * A name for the run's output folder, unique within its config: experiment, label and seed, with every
     * character outside [A-Za-z0-9._=,+-] replaced by '-': "base_clients=3,partition.method=iid_seed1",
     * "motivation-nf2_seed2".
     */
    public String id() {
        return id(experiment, setting, seed);
    }

    static String label(Map<String, Object> setting) {
        return setting.entrySet().stream().map(e -> e.getKey() + "=" + Settings.label(e.getValue()))
                .collect(Collectors.joining(","));
    }

    static String id(String experiment, Map<String, Object> setting, long seed) {
        String label = label(setting);
        String id = experiment + (label.isEmpty() ? "" : "_" + label) + "_seed" + seed;
        return id.replaceAll("[^A-Za-z0-9._=,+-]", "-");
    }
}
