package org.fedqlora.report;

import java.util.Locale;
import java.util.OptionalDouble;

/** How the report prints numbers: metrics in [0, 1] as percentages with two decimals, sizes in binary units. */
final class Numbers {
    /** Printed where a value is missing. */
    static final String MISSING = "-";

    private Numbers() {
    }

    /** 0.8123 -> "81.23"; missing -> "-". */
    static String percent(OptionalDouble fraction) {
        return fraction.isPresent() ? percent(fraction.getAsDouble()) : MISSING;
    }

    static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.2f", 100 * fraction);
    }

    /** 0.8123 -> 81.23 (rounded to two decimals, for chart data). */
    static double percentValue(double fraction) {
        return Math.round(10_000 * fraction) / 100.0;
    }

    /** A perplexity or loss with three decimals ("12.345"), "-" when missing. */
    static String decimal(OptionalDouble value) {
        return value.isPresent() && Double.isFinite(value.getAsDouble())
                ? String.format(java.util.Locale.ROOT, "%.3f", value.getAsDouble()) : MISSING;
    }

    /** 1536 -> "1.5 KiB"; missing -> "-". */
    static String bytes(OptionalDouble bytes) {
        if (bytes.isEmpty()) {
            return MISSING;
        }
        double value = bytes.getAsDouble();
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int unit = 0;
        while (Math.abs(value) >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? String.format(Locale.ROOT, "%.0f B", value)
                : String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    /** 12.345 -> "12.3 s"; missing -> "-". */
    static String seconds(OptionalDouble seconds) {
        return seconds.isPresent() ? String.format(Locale.ROOT, "%.1f s", seconds.getAsDouble()) : MISSING;
    }
}
