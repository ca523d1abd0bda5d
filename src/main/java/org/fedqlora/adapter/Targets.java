package org.fedqlora.adapter;

import org.fedqlora.UserException;
import org.fedqlora.nn.Linear;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which linear layers get an adapter. A target matches a layer as in PEFT (the module path equals it or ends with
 * "." + it), or matches the layer's family-independent role the same way, so "query,value" selects BERT's
 * {@code attention.self.query} and DistilBERT's {@code attention.q_lin} alike.
 */
public final class Targets {
    private Targets() {
    }

    /** PEFT's shorthand for every linear layer of the body (the output layer is never a {@link Linear} here). */
    public static final String ALL_LINEAR = "all-linear";

    public static List<Linear> select(List<Linear> layers, List<String> targets) {
        if (targets.contains(ALL_LINEAR)) {
            return List.copyOf(layers);
        }
        List<Linear> out = new ArrayList<>();
        for (String t : targets) {
            if (layers.stream().noneMatch(l -> matches(l, t))) {
                Set<String> roles = new TreeSet<>();
                layers.forEach(l -> roles.add(l.role()));
                throw new UserException("LoRA target '" + t + "' matches no layer of this model; valid targets: "
                        + String.join(", ", roles) + ", " + ALL_LINEAR + " (or a module path such as "
                        + layers.get(0).name() + ")");
            }
        }
        for (Linear l : layers) {
            if (targets.stream().anyMatch(t -> matches(l, t))) {
                out.add(l);
            }
        }
        return out;
    }

    static boolean matches(Linear l, String target) {
        return suffixMatch(l.name(), target) || suffixMatch(l.role(), target);
    }

    /** PEFT's rule: equal, or ends with "." + target. */
    static boolean suffixMatch(String name, String target) {
        return name.equals(target) || name.endsWith("." + target);
    }

    /**
     * {@code target_modules} for adapter_config.json: the shortest real-name suffixes (last path component) if, under
     * PEFT's rule, they select exactly {@code selected} among {@code all}; otherwise the full module paths.
     */
    public static List<String> peftTargets(List<Linear> all, List<Linear> selected) {
        Set<String> names = new LinkedHashSet<>();
        selected.forEach(l -> names.add(l.name()));
        for (int parts = 1; parts <= 3; parts++) {
            Set<String> suffixes = new TreeSet<>();
            for (Linear l : selected) {
                String[] p = l.name().split("\\.");
                suffixes.add(String.join(".", List.of(p).subList(Math.max(0, p.length - parts), p.length)));
            }
            Set<String> hit = new LinkedHashSet<>();
            for (Linear l : all) {
                if (suffixes.stream().anyMatch(s -> suffixMatch(l.name(), s))) {
                    hit.add(l.name());
                }
            }
            if (hit.equals(names)) {
                return List.copyOf(suffixes);
            }
        }
        return List.copyOf(names);
    }
}
