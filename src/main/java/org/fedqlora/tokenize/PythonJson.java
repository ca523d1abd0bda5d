package org.fedqlora.tokenize;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON text exactly as Python's {@code json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=...)} writes it,
 * which is what HuggingFace's {@code tojson} filter in chat templates produces: {@code ", "} and {@code ": "}
 * between items without indent; with an indent, one item per line and {@code ","} at line ends. Strings escape
 * quote, backslash, newline, carriage return, tab, backspace and form feed, other control characters as a
 * six-character unicode escape; non-ASCII stays as it is.
 */
final class PythonJson {
    private PythonJson() {
    }

    static String dumps(Object value, Integer indent, boolean sortKeys) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, indent, sortKeys, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, Integer indent, boolean sortKeys, int depth) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
                || v instanceof java.math.BigInteger) {
            sb.append(v);
        } else if (v instanceof Number n) {
            sb.append(pythonFloat(n.doubleValue()));
        } else if (v instanceof CharSequence s) {
            string(sb, s.toString());
        } else if (v instanceof Map<?, ?> m) {
            Map<?, ?> map = sortKeys ? new TreeMap<>(m) : m;
            List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
            container(sb, '{', '}', entries.size(), indent, depth, i -> {
                string(sb, String.valueOf(entries.get(i).getKey()));
                sb.append(": ");
                write(sb, entries.get(i).getValue(), indent, sortKeys, depth + 1);
            });
        } else if (v instanceof Collection<?> c) {
            List<?> list = new ArrayList<>(c);
            container(sb, '[', ']', list.size(), indent, depth, i -> write(sb, list.get(i), indent, sortKeys, depth + 1));
        } else if (v instanceof Object[] a) {
            container(sb, '[', ']', a.length, indent, depth, i -> write(sb, a[i], indent, sortKeys, depth + 1));
        } else {
            string(sb, v.toString());
        }
    }

    private static void container(StringBuilder sb, char open, char close, int n, Integer indent, int depth,
                                  java.util.function.IntConsumer item) {
        sb.append(open);
        if (n == 0) {
            sb.append(close);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb.append(indent == null ? ", " : ",");
            }
            if (indent != null) {
                sb.append('\n').append(" ".repeat(indent * (depth + 1)));
            }
            item.accept(i);
        }
        if (indent != null) {
            sb.append('\n').append(" ".repeat(indent * depth));
        }
        sb.append(close);
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** Python's {@code repr(float)}: "1.0", "0.5", "1e+20", "1e-07", "NaN", "Infinity". */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        String s = Double.toString(d);               // shortest round-trip digits, e.g. "1.0E20", "1.0E-7", "0.5"
        int e = s.indexOf('E');
        if (e < 0) {
            return s;
        }
        String mantissa = s.substring(0, e);
        int exp = Integer.parseInt(s.substring(e + 1));
        if (exp >= -4 && exp < 16) {                 // Python writes these positionally
            String plain = new java.math.BigDecimal(s).stripTrailingZeros().toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        if (mantissa.endsWith(".0")) {
            mantissa = mantissa.substring(0, mantissa.length() - 2);
        }
        return mantissa + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
    }
}
