package org.fedqlora.sim.config;

import org.fedqlora.UserException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Builds a {@link SimConfig} from layers, each overriding the one before: the defaults, then a preset or a YAML
 * file, then {@code --set KEY=VALUE} overrides in the order given. A YAML file is a map of keys, nested by section
 * ({@code local: {lr: 0.001}}) or dotted ({@code local.lr: 0.001}); a {@code --set} value is read as YAML, so
 * {@code --set lora.targets=[query,value]}, {@code --set local.lr=1e-3} and
 * {@code --set formats=nf2:0.5,nf4:0.5} work as written; {@code --set sweep.clients=[3,5]} sets one sweep axis.
 *
 * <p>Unknown keys, values of the wrong type and invalid values are rejected with a message naming the layer
 * (file, preset or --set), the key and what was expected. Every run the config expands to is validated too.
 */
public final class ConfigLoader {
    private static final List<String> PRESETS = List.of("demo", "paper", "privacy", "privacy-scale", "llm-demo");

    private ConfigLoader() {
    }

    /** The names of the built-in presets (classpath resources presets/NAME.yaml). */
    public static List<String> presets() {
        return PRESETS;
    }

    /** Defaults < the YAML file < the --set overrides ("key=value" each). */
    public static SimConfig load(Path file, List<String> overrides) {
        String text;
        try {
            if (Files.isRegularFile(file)) {
                org.fedqlora.TextFiles.requireUtf8(file, "config file");
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserException("config file " + file + " does not exist; give a YAML file, or a preset with"
                    + " --preset (" + String.join(", ", PRESETS) + ")", e);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new UserException("config file " + file + " is not UTF-8 text: save it as UTF-8", e);
        } catch (IOException e) {
            throw new UserException("cannot read config file " + file + ": " + org.fedqlora.OutputPaths.why(e), e);
        }
        String source = "config file " + file;
        if (document(text, source).isEmpty()) {
            throw new UserException(source + " is empty (no keys, only comments or {}): it would run every default; "
                    + "write the keys of your experiment, e.g. 'model: minilm' and 'rounds: 10', or use --preset "
                    + String.join(" or --preset ", PRESETS));
        }
        return load(text, source, overrides);
    }

    /** Defaults < the named preset < the --set overrides ("key=value" each). */
    public static SimConfig loadPreset(String name, List<String> overrides) {
        if (!PRESETS.contains(name)) {
            throw new UserException("unknown preset '" + name + "'" + Suggest.didYouMean(name, PRESETS)
                    + "; presets: " + String.join(", ", PRESETS)
                    + (name.contains(".") || name.contains("/") ? "; to load a YAML file use --config" : ""));
        }
        return load(presetText(name), "preset " + name, overrides);
    }

    /** Defaults < the --set overrides ("key=value" each). */
    public static SimConfig loadDefaults(List<String> overrides) {
        return resolve(List.of(), overrides);
    }

    private static String presetText(String name) {
        String resource = "/presets/" + name + ".yaml";
        try (InputStream in = ConfigLoader.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("preset resource " + resource + " is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read preset resource " + resource, e);
        }
    }

    /** Defaults < yaml (read from source, named in errors) < the --set overrides. */
    static SimConfig load(String yaml, String source, List<String> overrides) {
        return resolve(List.of(new Layer(source, document(yaml, source))), overrides);
    }

    /** One source of settings: a YAML tree and where it came from (named in errors). */
    private record Layer(String source, Map<?, ?> tree) {
    }

    private static SimConfig resolve(List<Layer> documents, List<String> overrides) {
        List<Layer> layers = new ArrayList<>(documents);
        for (String assignment : overrides) {
            String where = "--set " + assignment;
            layers.add(new Layer(where, assignment(assignment, where)));
        }
        Map<String, Object> flat = Settings.flatten(SimConfig.defaults());
        layers.forEach(layer -> overlay(flat, layer));
        try {
            SimConfig config = Settings.build(flat);
            config.runs();
            return config;
        } catch (UserException e) {
            String sources = layers.stream().map(l -> " < " + l.source()).collect(Collectors.joining());
            throw new UserException("invalid configuration (defaults" + sources + "): " + e.getMessage(), e);
        }
    }

    private static void overlay(Map<String, Object> flat, Layer layer) {
        try {
            Settings.readTree(layer.tree())
                    .forEach((key, raw) -> Settings.apply(flat, key, Settings.overrideValue(key, raw)));
        } catch (UserException e) {
            throw new UserException(layer.source() + ": " + e.getMessage(), e);
        }
    }

    /** The top-level map of a YAML document (empty for an empty document). */
    private static Map<?, ?> document(String yaml, String source) {
        Object doc = parseYaml(yaml, source);
        if (doc == null) {
            return Map.of();
        }
        if (!(doc instanceof Map<?, ?> map)) {
            throw new UserException(source + ": expected a map of keys such as 'rounds: 10', got "
                    + Settings.describe(doc));
        }
        return map;
    }

    /** "key=value" as the one-entry tree {key: value}, value read as YAML. */
    private static Map<String, Object> assignment(String assignment, String where) {
        int eq = assignment.indexOf('=');
        if (eq <= 0) {
            throw new UserException(where + ": expected KEY=VALUE, e.g. --set local.lr=1e-3 or"
                    + " --set lora.targets=[query,value]");
        }
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put(assignment.substring(0, eq).trim(), parseYaml(assignment.substring(eq + 1), where));
        return tree;
    }

    private static Object parseYaml(String text, String source) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        try {
            return new Yaml(new SafeConstructor(options)).load(text);
        } catch (org.yaml.snakeyaml.error.MarkedYAMLException e) {
            var mark = e.getProblemMark();
            String at = mark == null ? "" : "line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1) + ": ";
            throw new UserException(source + ": not valid YAML (" + at + oneLine(e.getProblem())
                    + (e.getContext() == null ? "" : ", " + oneLine(e.getContext()))
                    + "); quote values with special characters and indent with spaces, not tabs", e);
        } catch (YAMLException e) {
            throw new UserException(source + ": not valid YAML (" + oneLine(e.getMessage())
                    + "); quote values with special characters", e);
        }
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }
}
