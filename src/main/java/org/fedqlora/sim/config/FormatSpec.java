package org.fedqlora.sim.config;

import org.fedqlora.UserException;
import org.fedqlora.quant.QuantFormat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * How the clients' base-weight formats are chosen (the {@code formats} key), in one of two forms:
 * <ul>
 *   <li>{@link Mix}, proportions {@code "nf2:0.5,nf4:0.5"}: with N clients, format i gets floor(p_i·N) clients
 *       and the clients left over go to the largest remainders p_i·N − floor(p_i·N) (ties: the format listed
 *       first), so the counts are exact; clients then take the formats round-robin in the listed order while
 *       each has clients left: nf2, nf4, nf2, nf4, … A single name {@code "nf4"} means {@code "nf4:1.0"}.</li>
 *   <li>{@link PerClient}, an explicit list {@code [nf2, nf4, nf4]}: client i gets element i; its length must be
 *       the number of clients.</li>
 * </ul>
 */
public sealed interface FormatSpec permits FormatSpec.Mix, FormatSpec.PerClient {
    /** How far the proportions may sum from 1 (they are then normalised to sum to 1 exactly). */
    double SUM_TOLERANCE = 0.01;

    /** The format of each of the clients, client 0 first. */
    List<QuantFormat> resolve(int clients);

    /** The form written to YAML and JSON: the proportions string, or the list of format names. */
    Object toPlain();

    /** One format and its share of the clients. */
    record Share(QuantFormat format, double fraction) {
    }

    /** Proportions of the clients per format, in the order written. */
    record Mix(List<Share> shares) implements FormatSpec {
        public Mix {
            shares = List.copyOf(shares);
            if (shares.isEmpty()) {
                throw new UserException("formats must name at least one format, e.g. nf2:0.5,nf4:0.5");
            }
            Check.noDuplicates("formats", shares.stream().map(s -> s.format().id()).toList());
            for (Share s : shares) {
                if (!(s.fraction() > 0) || Double.isInfinite(s.fraction())) {
                    throw new UserException("formats: the share of " + s.format().id() + " must be > 0, got "
                            + s.fraction() + " (leave the format out instead)");
                }
            }
            double sum = shares.stream().mapToDouble(Share::fraction).sum();
            if (Math.abs(sum - 1) > SUM_TOLERANCE) {
                throw new UserException("formats: the proportions " + plain(shares) + " sum to " + sum
                        + ", not 1; e.g. nf2:0.5,nf4:0.5");
            }
        }

        @Override
        public List<QuantFormat> resolve(int clients) {
            return interleave(counts(clients));
        }

        /** Clients per format by largest remainder; the counts sum to clients exactly. */
        int[] counts(int clients) {
            double sum = shares.stream().mapToDouble(Share::fraction).sum();
            int k = shares.size();
            int[] counts = new int[k];
            double[] remainders = new double[k];
            int assigned = 0;
            for (int i = 0; i < k; i++) {
                double exact = shares.get(i).fraction() / sum * clients;
                counts[i] = (int) Math.floor(exact);
                remainders[i] = exact - counts[i];
                assigned += counts[i];
            }
            List<Integer> byRemainder = IntStream.range(0, k).boxed()
                    .sorted(Comparator.comparingDouble((Integer i) -> -remainders[i]).thenComparing(i -> i))
                    .toList();
            for (int j = 0; j < clients - assigned; j++) {
                counts[byRemainder.get(j % k)]++;
            }
            return counts;
        }

        private List<QuantFormat> interleave(int[] counts) {
            int[] left = counts.clone();
            List<QuantFormat> order = new ArrayList<>();
            boolean any = true;
            while (any) {
                any = false;
                for (int i = 0; i < left.length; i++) {
                    if (left[i] > 0) {
                        order.add(shares.get(i).format());
                        left[i]--;
                        any = true;
                    }
                }
            }
            return List.copyOf(order);
        }

        @Override
        public Object toPlain() {
            return plain(shares);
        }

        private static String plain(List<Share> shares) {
            return shares.stream().map(s -> s.format().id() + ":" + s.fraction()).collect(Collectors.joining(","));
        }
    }

    /** One format per client. */
    record PerClient(List<QuantFormat> formats) implements FormatSpec {
        public PerClient {
            formats = List.copyOf(formats);
            if (formats.isEmpty()) {
                throw new UserException("formats must list one format per client, e.g. [nf2, nf4, nf4]");
            }
        }

        @Override
        public List<QuantFormat> resolve(int clients) {
            if (formats.size() != clients) {
                throw new UserException("formats lists " + formats.size() + " formats but clients = " + clients
                        + "; give one format per client, or proportions such as nf2:0.5,nf4:0.5");
            }
            return formats;
        }

        @Override
        public Object toPlain() {
            return formats.stream().map(QuantFormat::id).toList();
        }
    }

    /**
     * Parses the {@code formats} value: a proportions string ({@code "nf2:0.5,nf4:0.5"}, or one name for all
     * clients) or a list of names (one per client); an existing FormatSpec is returned as it is.
     */
    static FormatSpec parse(Object value) {
        if (value instanceof FormatSpec spec) {
            return spec;
        }
        if (value instanceof List<?> list) {
            return new PerClient(list.stream().map(FormatSpec::format).toList());
        }
        if (value instanceof String text) {
            return parseMix(text);
        }
        throw new UserException("formats must be proportions such as \"nf2:0.5,nf4:0.5\" or a list with one format"
                + " per client such as [nf2, nf4, nf4], got " + Settings.describe(value));
    }

    private static Mix parseMix(String text) {
        String[] items = text.split(",", -1);
        if (items.length == 1 && !text.contains(":")) {
            return new Mix(List.of(new Share(format(text), 1.0)));
        }
        List<Share> shares = new ArrayList<>();
        for (String item : items) {
            int colon = item.indexOf(':');
            if (colon < 0) {
                throw new UserException("formats: '" + item.trim() + "' in \"" + text + "\" has no share; write"
                        + " proportions such as nf2:0.5,nf4:0.5, or a list with one format per client such as"
                        + " [nf2, nf4]");
            }
            shares.add(new Share(format(item.substring(0, colon)), share(item.substring(colon + 1), text)));
        }
        return new Mix(shares);
    }

    private static double share(String number, String text) {
        try {
            return Double.parseDouble(number.trim());
        } catch (NumberFormatException e) {
            throw new UserException("formats: '" + number.trim() + "' in \"" + text + "\" is not a number;"
                    + " e.g. nf2:0.5,nf4:0.5", e);
        }
    }

    private static QuantFormat format(Object name) {
        if (name instanceof QuantFormat f) {
            return f;
        }
        if (!(name instanceof String text)) {
            throw new UserException("formats: expected a format name, got " + Settings.describe(name));
        }
        try {
            return QuantFormat.parse(text);
        } catch (IllegalArgumentException e) {
            throw new UserException("formats: " + e.getMessage(), e);
        }
    }
}
