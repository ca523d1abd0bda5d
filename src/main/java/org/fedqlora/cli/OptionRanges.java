package org.fedqlora.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.lang.reflect.Field;
import java.util.List;
import java.util.Locale;

/**
 * Checks every numeric option against its {@link Range} once the command line is parsed, so a meaningless value
 * ({@code --steps -1}, {@code --max-length 0}, {@code --lr NaN}) is refused with the allowed range before the
 * command starts. Installed by {@link Main#run}; a new command gets it by annotating its numeric options.
 */
public final class OptionRanges {
    private OptionRanges() {
    }

    /** The execution strategy: check every parsed (sub)command's options, then run the last one. */
    static int execute(CommandLine.ParseResult parsed) {
        for (CommandLine cl : parsed.asCommandLineList()) {
            check(cl);
        }
        return new CommandLine.RunLast().execute(parsed);
    }

    /** Refuses an out-of-range value of any option of {@code cl}'s command (given or default). */
    static void check(CommandLine cl) {
        for (OptionSpec o : cl.getCommandSpec().options()) {
            Range r = range(o);
            if (r == null || !isNumeric(o.type())) {
                continue;
            }
            Object v = o.getValue();
            if (v instanceof Number n) {
                String problem = problem(r, n, isIntegral(o.type()));
                if (problem != null) {
                    throw new CommandLine.ParameterException(cl, o.longestName() + " " + problem);
                }
            }
        }
    }

    /** The {@link Range} on the option's field, or null. */
    static Range range(OptionSpec o) {
        return o.userObject() instanceof Field f ? f.getAnnotation(Range.class) : null;
    }

    static boolean isNumeric(Class<?> t) {
        return List.of(int.class, long.class, float.class, double.class, short.class, Integer.class, Long.class,
                Float.class, Double.class, Short.class).contains(t);
    }

    private static boolean isIntegral(Class<?> t) {
        return List.of(int.class, long.class, short.class, Integer.class, Long.class, Short.class).contains(t);
    }

    /** Null if {@code n} is allowed, else "must be ..., got ...". */
    static String problem(Range r, Number n, boolean integral) {
        double x = n.doubleValue();
        if (!r.zero().isEmpty() && x == 0) {
            return null;
        }
        boolean ok = !Double.isNaN(x) && !Double.isInfinite(x)
                && (r.minExclusive() ? x > r.min() : x >= r.min())
                && (r.maxExclusive() ? x < r.max() : x <= r.max());
        if (ok) {
            return null;
        }
        return "must be " + describe(r, integral) + ", got " + n;
    }

    /** "an integer in [1, 1000000]", "a number in (0, 10]", "an integer >= 1, or 0 for off". */
    static String describe(Range r, boolean integral) {
        String kind = integral ? "an integer" : "a finite number";
        boolean lo = r.min() > -Double.MAX_VALUE;
        boolean hi = r.max() < Double.MAX_VALUE;
        String range;
        if (lo && hi) {
            range = " in " + (r.minExclusive() ? "(" : "[") + fmt(r.min(), integral) + ", " + fmt(r.max(), integral)
                    + (r.maxExclusive() ? ")" : "]");
        } else if (lo) {
            range = (r.minExclusive() ? " > " : " >= ") + fmt(r.min(), integral);
        } else if (hi) {
            range = (r.maxExclusive() ? " < " : " <= ") + fmt(r.max(), integral);
        } else {
            range = "";
        }
        return kind + range + (r.zero().isEmpty() ? "" : ", or 0 (" + r.zero() + ")");
    }

    private static String fmt(double v, boolean integral) {
        if (integral || v == Math.rint(v) && Math.abs(v) < 1e15) {
            return String.valueOf((long) v);
        }
        return String.format(Locale.ROOT, "%s", v);
    }
}
