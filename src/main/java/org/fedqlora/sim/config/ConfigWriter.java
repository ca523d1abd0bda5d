package org.fedqlora.sim.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.representer.Representer;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;

/**
 * Writes a resolved config: as YAML (DIR/config.yaml; {@link ConfigLoader#load(java.nio.file.Path, List)} gives
 * an equal config back), as a Jackson tree (for summary.json), and as a fingerprint for {@code --resume}.
 *
 * <p>The written form is canonical: every key, sections in {@link SimConfig}'s field order, lists of scalars on
 * one line, sweep axes in key order, experiments and their overrides in the order given.
 */
public final class ConfigWriter {
    private static final String HEADER = "# fedqlora simulation config, resolved (defaults < preset or file < --set)."
            + "\n# Run it again with: fedqlora simulate --config config.yaml\n";

    private ConfigWriter() {
    }

    /** The canonical YAML of config. */
    public static String toYaml(SimConfig config) {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setWidth(120);
        Yaml yaml = new Yaml(new ScalarListsInline(options), options);
        return HEADER + yaml.dump(tree(config));
    }

    /** config as a JSON tree with the same structure as the YAML. */
    public static JsonNode toJson(SimConfig config) {
        return new ObjectMapper().valueToTree(tree(config));
    }

    /**
     * SHA-256 of the canonical YAML, 64 lower-case hex digits: the same for the same resolved config, different
     * when any value (or the set of keys) differs.
     */
    public static String fingerprint(SimConfig config) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(toYaml(config).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    /** The keys whose values differ, as "rounds: 1 -> 2" (for a resume refused because the config changed). */
    public static List<String> differences(SimConfig before, SimConfig after) {
        Map<String, Object> a = Settings.flatten(before);
        Map<String, Object> b = Settings.flatten(after);
        List<String> out = new java.util.ArrayList<>();
        a.forEach((key, value) -> {
            if (!java.util.Objects.equals(Settings.toPlain(value), Settings.toPlain(b.get(key)))) {
                out.add(key + ": " + Settings.label(value) + " -> " + Settings.label(b.get(key)));
            }
        });
        return out;
    }

    /** Sections as nested maps, values in plain form: {model: .., data: {train: .., ..}, clients: .., ..}. */
    static Map<String, Object> tree(SimConfig config) {
        Map<String, Object> tree = new LinkedHashMap<>();
        Settings.flatten(config).forEach((key, value) -> {
            int dot = key.indexOf('.');
            Object plain = Settings.toPlain(value);
            if (dot < 0) {
                tree.put(key, plain);
            } else {
                @SuppressWarnings("unchecked")
                Map<String, Object> section = (Map<String, Object>) tree.computeIfAbsent(key.substring(0, dot),
                        k -> new LinkedHashMap<String, Object>());
                section.put(key.substring(dot + 1), plain);
            }
        });
        return tree;
    }

    /** Writes lists of scalars in flow style ([query, value]) and everything else in block style. */
    private static final class ScalarListsInline extends Representer {
        ScalarListsInline(DumperOptions options) {
            super(options);
        }

        @Override
        protected Node representSequence(Tag tag, Iterable<?> sequence, DumperOptions.FlowStyle style) {
            boolean scalars = StreamSupport.stream(sequence.spliterator(), false)
                    .noneMatch(x -> x instanceof Map || x instanceof List);
            return super.representSequence(tag, sequence, scalars ? DumperOptions.FlowStyle.FLOW : style);
        }
    }
}
