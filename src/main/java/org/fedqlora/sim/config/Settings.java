package org.fedqlora.sim.config;

import org.fedqlora.UserException;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The key table of {@link SimConfig}, derived from its record components so that the records are the single
 * source of truth: a leaf component is a key, a record component is a section ("local"), and a key's name is
 * its section and its component name in snake_case ("local.max_grad_norm").
 *
 * <p>Values go through three forms: raw (what SnakeYAML produced), typed (the Java value a record constructor
 * takes: Integer for int, FormatSpec, Optional, ...) and plain (what YAML / JSON writers take). A flat map is
 * dotted key → typed value, one entry per key.
 */
final class Settings {
    /** The value types a key can have, with what the user is told when a value does not fit. */
    enum Kind {
        INT("an integer"),
        LONG("an integer"),
        DOUBLE("a number"),
        BOOLEAN("true or false"),
        STRING("a string (quote values that YAML reads as numbers or booleans, e.g. \"123\")"),
        OPTIONAL_STRING("a string, or null for none"),
        STRING_LIST("a list of strings such as [query, value] (or \"query,value\")"),
        LONG_LIST("a list of integers such as [1, 2, 3]"),
        FORMATS("proportions such as \"nf2:0.5,nf4:0.5\" or one format per client such as [nf2, nf4, nf4]"),
        SWEEP("a map from key to a list of values such as {clients: [3, 5], partition.method: [iid, dirichlet]}"),
        EXPERIMENTS("a list of {name: NAME, set: {key: value, ...}}");

        final String expected;

        Kind(String expected) {
            this.expected = expected;
        }
    }

    /** One leaf setting of the config. */
    record Key(String name, Kind kind) {
    }

    /** Every key in record order (the canonical order of written configs and of sweep axes). */
    static final Map<String, Key> KEYS = keyTable();

    /** Keys a sweep may not vary: the run repetition keys. */
    private static final List<String> NOT_SWEEPABLE = List.of("seed", "seeds", "sweep", "experiments");

    private Settings() {
    }

    // ---- the key table ------------------------------------------------------------------------------------

    private static Map<String, Key> keyTable() {
        Map<String, Key> keys = new LinkedHashMap<>();
        addKeys(SimConfig.class, "", keys);
        return Collections.unmodifiableMap(keys);
    }

    private static void addKeys(Class<?> record, String prefix, Map<String, Key> keys) {
        for (RecordComponent c : record.getRecordComponents()) {
            String name = prefix + snakeCase(c.getName());
            if (c.getType().isRecord()) {
                addKeys(c.getType(), name + ".", keys);
            } else {
                keys.put(name, new Key(name, kindOf(c.getGenericType())));
            }
        }
    }

    private static Kind kindOf(Type type) {
        if (type == int.class) {
            return Kind.INT;
        } else if (type == long.class) {
            return Kind.LONG;
        } else if (type == double.class) {
            return Kind.DOUBLE;
        } else if (type == boolean.class) {
            return Kind.BOOLEAN;
        } else if (type == String.class) {
            return Kind.STRING;
        } else if (type == FormatSpec.class) {
            return Kind.FORMATS;
        } else if (type instanceof ParameterizedType p) {
            Type raw = p.getRawType();
            Type arg = p.getActualTypeArguments()[0];
            if (raw == Optional.class && arg == String.class) {
                return Kind.OPTIONAL_STRING;
            } else if (raw == List.class && arg == String.class) {
                return Kind.STRING_LIST;
            } else if (raw == List.class && arg == Long.class) {
                return Kind.LONG_LIST;
            } else if (raw == List.class && arg == SimConfig.Experiment.class) {
                return Kind.EXPERIMENTS;
            } else if (raw == Map.class) {
                return Kind.SWEEP;
            }
        }
        throw new IllegalStateException("SimConfig has a component of unsupported type " + type);
    }

    static String snakeCase(String camel) {
        return camel.replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
    }

    // ---- raw YAML trees → dotted keys ---------------------------------------------------------------------

    /**
     * Flattens a YAML map into dotted key → raw value, in the order written. Sections may nest
     * ({@code local: {lr: 1}}) or be written dotted ({@code local.lr: 1}); {@code sweep.KEY} names one sweep
     * axis. Unknown keys are rejected with the valid ones.
     */
    static Map<String, Object> readTree(Map<?, ?> tree) {
        Map<String, Object> out = new LinkedHashMap<>();
        readTree(tree, "", out);
        return out;
    }

    private static void readTree(Map<?, ?> tree, String prefix, Map<String, Object> out) {
        for (Map.Entry<?, ?> e : tree.entrySet()) {
            if (!(e.getKey() instanceof String key)) {
                throw new UserException("key " + describe(e.getKey()) + (prefix.isEmpty() ? "" : " in '" + prefix
                        + "'") + " is not a name; keys are names such as rounds or local.lr");
            }
            String name = prefix.isEmpty() ? key : prefix + "." + key;
            if (isKey(name)) {
                if (out.containsKey(name)) {
                    throw new UserException("key '" + name + "' is given twice");
                }
                out.put(name, e.getValue());
            } else if (isSection(name) && e.getValue() instanceof Map<?, ?> section) {
                readTree(section, name, out);
            } else if (isSection(name)) {
                throw new UserException("'" + name + "' is a section: give a map of its keys ("
                        + String.join(", ", keysIn(name)) + "), e.g. " + name + ": {" + exampleIn(name)
                        + "}, or a dotted key such as " + name + "." + exampleIn(name));
            } else {
                throw unknownKey(name);
            }
        }
    }

    private static boolean isKey(String name) {
        return KEYS.containsKey(name) || name.startsWith("sweep.") && KEYS.containsKey(name.substring(6));
    }

    private static boolean isSection(String name) {
        String sectionPrefix = name.startsWith("sweep.") ? name.substring(6) + "." : name + ".";
        return KEYS.keySet().stream().anyMatch(k -> k.startsWith(sectionPrefix));
    }

    private static List<String> keysIn(String section) {
        String sectionPrefix = section.startsWith("sweep.") ? section.substring(6) + "." : section + ".";
        return KEYS.keySet().stream().filter(k -> k.startsWith(sectionPrefix))
                .map(k -> k.substring(sectionPrefix.length())).toList();
    }

    private static String exampleIn(String section) {
        return keysIn(section).get(0) + (section.startsWith("sweep.") ? ": [..]" : ": ..");
    }

    static UserException unknownKey(String name) {
        if (name.startsWith("sweep.")) {
            String axis = name.substring(6);
            return new UserException("unknown sweep key '" + axis + "'" + Suggest.didYouMean(axis, KEYS.keySet())
                    + "; a sweep varies config keys such as clients or partition.method");
        }
        String section = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : "";
        boolean known = !section.isEmpty() && isSection(section);
        List<String> valid = known ? keysIn(section) : List.copyOf(KEYS.keySet());
        return new UserException("unknown key '" + name + "'" + Suggest.didYouMean(name, KEYS.keySet())
                + "; valid keys" + (known ? " in '" + section + "'" : "") + ": " + String.join(", ", valid));
    }

    // ---- raw → typed --------------------------------------------------------------------------------------

    /** The typed value of an override "key = raw", for any key or "sweep.KEY" (one sweep axis). */
    static Object overrideValue(String key, Object raw) {
        if (KEYS.containsKey(key)) {
            return typed(key, KEYS.get(key).kind(), raw);
        } else if (key.startsWith("sweep.")) {
            return sweepValues(key.substring(6), raw);
        }
        throw unknownKey(key);
    }

    /** Sets key (or one sweep axis, "sweep.KEY") in a flat map of typed values. */
    static void apply(Map<String, Object> flat, String key, Object typed) {
        if (key.startsWith("sweep.")) {
            Map<String, Object> sweep = new LinkedHashMap<>(castMap(flat.get("sweep")));
            sweep.put(key.substring(6), typed);
            flat.put("sweep", sweep(sweep));
        } else {
            flat.put(key, typed);
        }
    }

    private static Object typed(String key, Kind kind, Object raw) {
        Object value = switch (kind) {
            case INT -> raw instanceof Number n && isInteger(n) && n.longValue() == n.intValue() ? n.intValue() : null;
            case LONG -> raw instanceof Number n && isInteger(n) ? n.longValue() : null;
            case DOUBLE -> toDouble(raw);
            case BOOLEAN -> raw instanceof Boolean ? raw : null;
            case STRING -> raw instanceof String ? raw : null;
            case OPTIONAL_STRING -> optionalString(raw);
            case STRING_LIST -> stringList(raw);
            case LONG_LIST -> longList(raw);
            case FORMATS -> FormatSpec.parse(raw);
            case SWEEP -> sweep(raw);
            case EXPERIMENTS -> experiments(raw);
        };
        if (value == null) {
            throw new UserException(key + ": expected " + kind.expected + ", got " + describe(raw));
        }
        return value;
    }

    private static boolean isInteger(Number n) {
        return n instanceof Integer || n instanceof Long;
    }

    /** Numbers, and numeric strings: YAML 1.1 reads some exponent forms as strings. */
    private static Double toDouble(Object raw) {
        if (raw instanceof Number n) {
            return n.doubleValue();
        }
        if (raw instanceof String s) {
            try {
                return Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    private static Optional<?> optionalString(Object raw) {
        if (raw == null) {
            return Optional.empty();
        }
        if (raw instanceof Optional<?> o) {
            return o;
        }
        return raw instanceof String s ? Optional.of(s) : null;
    }

    private static List<String> stringList(Object raw) {
        if (raw instanceof String s) {
            return Arrays.stream(s.split(",", -1)).map(String::trim).toList();
        }
        if (raw instanceof List<?> list && list.stream().allMatch(x -> x instanceof String)) {
            return list.stream().map(x -> ((String) x).trim()).toList();
        }
        return null;
    }

    private static List<Long> longList(Object raw) {
        if (raw instanceof List<?> list && list.stream().allMatch(x -> x instanceof Number n && isInteger(n))) {
            return list.stream().map(x -> ((Number) x).longValue()).toList();
        }
        return null;
    }

    /**
     * The typed sweep: key → non-empty list of distinct typed values, keys in {@link #KEYS} order. A map may
     * nest sections as the config does ({@code {partition: {method: [iid, dirichlet]}}}).
     */
    static Map<String, List<Object>> sweep(Object raw) {
        if (!(raw instanceof Map<?, ?> map)) {
            return null;
        }
        Map<String, Object> axes;
        try {
            axes = readTree(map);
        } catch (UserException e) {
            throw new UserException("sweep: " + e.getMessage(), e);
        }
        Map<String, List<Object>> typed = new LinkedHashMap<>();
        axes.forEach((key, values) -> typed.put(key, sweepValues(key, values)));
        Map<String, List<Object>> sweep = new LinkedHashMap<>();
        KEYS.keySet().stream().filter(typed::containsKey).forEach(k -> sweep.put(k, typed.get(k)));
        return Collections.unmodifiableMap(sweep);
    }

    private static List<Object> sweepValues(String key, Object raw) {
        if (!KEYS.containsKey(key)) {
            throw unknownKey("sweep." + key);
        }
        if (NOT_SWEEPABLE.contains(key)) {
            throw new UserException("sweep." + key + ": " + key + " cannot be swept"
                    + (key.startsWith("seed") ? "; list the seeds instead: seeds: [1, 2, 3]" : ""));
        }
        if (!(raw instanceof List<?> list) || list.isEmpty()) {
            throw new UserException("sweep." + key + ": expected a non-empty list of values such as [a, b], got "
                    + describe(raw));
        }
        Kind kind = KEYS.get(key).kind();
        List<Object> values = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            values.add(typed("sweep." + key + "[" + i + "]", kind, list.get(i)));
        }
        Check.noDuplicates("sweep." + key, values);
        return List.copyOf(values);
    }

    private static List<SimConfig.Experiment> experiments(Object raw) {
        if (!(raw instanceof List<?> list)) {
            return null;
        }
        List<SimConfig.Experiment> experiments = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            try {
                experiments.add(experiment(list.get(i)));
            } catch (UserException e) {
                throw new UserException("experiments[" + i + "]: " + e.getMessage(), e);
            }
        }
        return List.copyOf(experiments);
    }

    private static SimConfig.Experiment experiment(Object raw) {
        if (raw instanceof SimConfig.Experiment e) {
            return e;
        }
        if (!(raw instanceof Map<?, ?> map) || !(map.get("name") instanceof String name)
                || !List.of("name", "set").containsAll(map.keySet())) {
            throw new UserException("expected {name: NAME, set: {key: value, ...}}, got " + describe(raw));
        }
        Object set = map.containsKey("set") ? map.get("set") : Map.of();
        if (!(set instanceof Map<?, ?> overrides)) {
            throw new UserException("set of '" + name + "': expected a map {key: value, ...}, got " + describe(set));
        }
        return new SimConfig.Experiment(name, readTree(overrides));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object map) {
        return (Map<String, Object>) map;
    }

    /** A raw value as the user wrote it, with its YAML type: "'abc' (a string)". */
    static String describe(Object raw) {
        if (raw == null) {
            return "nothing (null)";
        } else if (raw instanceof String s) {
            return "'" + s + "' (a string)";
        } else if (raw instanceof Boolean) {
            return raw + " (a boolean)";
        } else if (raw instanceof Number n) {
            return n + (isInteger(n) ? " (an integer)" : " (a number)");
        } else if (raw instanceof List<?>) {
            return raw + " (a list)";
        } else if (raw instanceof Map<?, ?>) {
            return raw + " (a map)";
        }
        return String.valueOf(raw);
    }

    // ---- typed records ↔ flat maps, typed → plain ---------------------------------------------------------

    /** Dotted key → typed value of every key of config, in {@link #KEYS} order. */
    static Map<String, Object> flatten(SimConfig config) {
        Map<String, Object> flat = new LinkedHashMap<>();
        flatten(config, "", flat);
        return flat;
    }

    private static void flatten(Record record, String prefix, Map<String, Object> flat) {
        for (RecordComponent c : record.getClass().getRecordComponents()) {
            Object value = invoke(c, record);
            String name = prefix + snakeCase(c.getName());
            if (c.getType().isRecord()) {
                flatten((Record) value, name + ".", flat);
            } else {
                flat.put(name, value);
            }
        }
    }

    private static Object invoke(RecordComponent c, Record record) {
        try {
            return c.getAccessor().invoke(record);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + c, e);
        }
    }

    /** The config of a flat map holding every key; its constructors validate it. */
    static SimConfig build(Map<String, Object> flat) {
        return (SimConfig) build(SimConfig.class, "", flat);
    }

    private static Record build(Class<?> type, String prefix, Map<String, Object> flat) {
        RecordComponent[] components = type.getRecordComponents();
        Object[] args = new Object[components.length];
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            String name = prefix + snakeCase(c.getName());
            types[i] = c.getType();
            args[i] = c.getType().isRecord() ? build(c.getType(), name + ".", flat) : flat.get(name);
        }
        try {
            Constructor<?> constructor = type.getDeclaredConstructor(types);
            return (Record) constructor.newInstance(args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot construct " + type.getSimpleName(), e);
        }
    }

    /** The plain (YAML / JSON) form of a typed value: strings, numbers, booleans, null, lists and maps. */
    static Object toPlain(Object typed) {
        if (typed instanceof FormatSpec spec) {
            return spec.toPlain();
        } else if (typed instanceof Optional<?> o) {
            return o.orElse(null);
        } else if (typed instanceof List<?> list) {
            return list.stream().map(Settings::toPlain).collect(Collectors.toList());
        } else if (typed instanceof Map<?, ?> map) {
            Map<Object, Object> plain = new LinkedHashMap<>();
            map.forEach((k, v) -> plain.put(k, toPlain(v)));
            return plain;
        } else if (typed instanceof SimConfig.Experiment e) {
            Map<String, Object> plain = new LinkedHashMap<>();
            plain.put("name", e.name());
            plain.put("set", toPlain(e.set()));
            return plain;
        }
        return typed;
    }

    /** A typed value in one line for run labels: 3, iid, [query,value], nf2:0.5,nf4:0.5. */
    static String label(Object typed) {
        Object plain = toPlain(typed);
        if (plain instanceof List<?> list) {
            return list.stream().map(String::valueOf).collect(Collectors.joining(",", "[", "]"));
        }
        return String.valueOf(plain);
    }
}
