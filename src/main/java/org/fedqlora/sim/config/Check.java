package org.fedqlora.sim.config;

import org.fedqlora.UserException;

import java.util.List;
import java.util.Locale;

/** Range and choice checks for config values; every message names the key, the value and what is allowed. */
final class Check {
    private Check() {
    }

    static int atLeast(String key, int value, int min) {
        if (value < min) {
            throw new UserException(key + " must be at least " + min + ", got " + value);
        }
        return value;
    }

    static double positive(String key, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new UserException(key + " must be a finite number > 0, got " + value);
        }
        return value;
    }

    static double nonNegative(String key, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new UserException(key + " must be a finite number >= 0, got " + value);
        }
        return value;
    }

    /** value in [0, 1) */
    static double unitOpen(String key, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new UserException(key + " must be in [0, 1), got " + value);
        }
        return value;
    }

    /** value in [0, 1] */
    static double unitClosed(String key, double value) {
        if (!(value >= 0 && value <= 1)) {
            throw new UserException(key + " must be in [0, 1], got " + value);
        }
        return value;
    }

    static String notBlank(String key, String value) {
        if (value == null || value.isBlank()) {
            throw new UserException(key + " must not be empty");
        }
        return value;
    }

    /** The choice equal to value ignoring case, in its canonical (lower-case) spelling. */
    static String oneOf(String key, String value, List<String> choices) {
        return choose(value, choices, key, "");
    }

    private static String choose(String value, List<String> choices, String what, String where) {
        String wanted = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        if (choices.contains(wanted)) {
            return wanted;
        }
        throw new UserException("unknown " + what + " '" + value + "'" + (where.isEmpty() ? "" : " in " + where)
                + Suggest.didYouMean(wanted, choices) + "; valid: " + String.join(", ", choices));
    }

    /** Every element of values checked with {@link #oneOf}, no duplicates, at least one. */
    static List<String> subsetOf(String key, List<String> values, List<String> choices) {
        if (values.isEmpty()) {
            throw new UserException(key + " must list at least one of: " + String.join(", ", choices));
        }
        List<String> canonical = values.stream().map(v -> choose(v, choices, "entry", key)).toList();
        noDuplicates(key, canonical);
        return canonical;
    }

    static <T> void noDuplicates(String key, List<T> values) {
        for (int i = 0; i < values.size(); i++) {
            if (values.subList(0, i).contains(values.get(i))) {
                throw new UserException(key + " lists '" + values.get(i) + "' twice: " + values);
            }
        }
    }
}
