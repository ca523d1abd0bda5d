package org.fedqlora.cli;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The allowed range of a numeric picocli option, checked by {@link OptionRanges} before any command runs (and
 * before any output is created). Every numeric option of every command carries one: a test walks all commands
 * and fails on a numeric option without it. Example:
 * <pre>
 * &#64;Range(min = 1, max = 1_000_000) &#64;Option(names = "--batch") int batch;
 * &#64;Range(min = 1, zero = "use --epochs") &#64;Option(names = "--steps") int steps;     // 0 or in [1, ∞)
 * &#64;Range(min = 0, max = 10, minExclusive = true) &#64;Option(names = "--lr") float lr;  // (0, 10]
 * </pre>
 * NaN and ±Inf are always refused for floating-point options.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.FIELD)
public @interface Range {
    double min() default -Double.MAX_VALUE;

    double max() default Double.MAX_VALUE;

    boolean minExclusive() default false;

    boolean maxExclusive() default false;

    /** If not empty, 0 is also allowed (outside the range) and means this, e.g. "off" or "the model's maximum". */
    String zero() default "";
}
