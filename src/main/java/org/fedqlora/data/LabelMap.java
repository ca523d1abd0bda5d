package org.fedqlora.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The label names of a data set and their ids: id {@code i} is {@code labels().get(i)}.
 *
 * <p>Rule for ids ({@link #fromObserved}): take the set of distinct labels seen, then sort it; if every label is an
 * integer literal ({@code "0"}, {@code "7"}, {@code "-1"}) the sort is numeric (ties such as "07" and "7" by string),
 * otherwise it is by string
 * ({@link String#compareTo}). So a file with int labels 0..K-1 keeps id = label, and the ids never depend on the
 * order of the rows.
 *
 * <p>JSON form (saved beside an adapter): {@code {"labels": ["business", "sports", ...]}}.
 */
public final class LabelMap {
    private static final int MAX_LABELS_IN_MESSAGE = 50;
    private final List<String> labels;
    private final Map<String, Integer> ids;

    /** Labels in id order; they must be distinct. */
    @JsonCreator
    public LabelMap(@JsonProperty("labels") List<String> labels) {
        if (labels == null || labels.isEmpty()) {
            throw new DataException("a label map needs at least one label, got " + labels);
        }
        this.labels = List.copyOf(labels);
        this.ids = new HashMap<>();
        for (int i = 0; i < this.labels.size(); i++) {
            if (ids.put(this.labels.get(i), i) != null) {
                throw new DataException("label '" + this.labels.get(i) + "' appears twice in the label map " + labels);
            }
        }
    }

    /** The label map of the labels seen in a file, ids assigned by the sorting rule in the class comment. */
    public static LabelMap fromObserved(Collection<String> observed) {
        boolean allIntegers = !observed.isEmpty() && observed.stream().allMatch(LabelMap::isIntegerLiteral);
        Comparator<String> order = allIntegers
                ? Comparator.<String>comparingLong(Long::parseLong).thenComparing(Comparator.naturalOrder())
                : Comparator.naturalOrder();
        TreeSet<String> distinct = new TreeSet<>(order);
        distinct.addAll(observed);
        return new LabelMap(List.copyOf(distinct));
    }

    @JsonProperty("labels")
    public List<String> labels() {
        return labels;
    }

    public int size() {
        return labels.size();
    }

    public String name(int id) {
        if (id < 0 || id >= labels.size()) {
            throw new IndexOutOfBoundsException("label id " + id + " outside 0.." + (labels.size() - 1));
        }
        return labels.get(id);
    }

    public boolean contains(String label) {
        return ids.containsKey(label);
    }

    /**
     * The id of {@code label}, failing with a message that names it, {@code where} it was found (e.g.
     * {@code "test.jsonl line 12"}) and the known labels when the map does not hold it.
     */
    public int encodeStrict(String label, String where) {
        Integer id = ids.get(label);
        if (id == null) {
            throw new DataException(where + ": label '" + label + "' was not seen in the training data; known labels: "
                    + describe() + ". Evaluation data must use the training labels (check the label field and "
                    + "spelling, or train on data that has this label).");
        }
        return id;
    }

    /** The labels for a message, at most {@value #MAX_LABELS_IN_MESSAGE} of them. */
    String describe() {
        if (labels.size() <= MAX_LABELS_IN_MESSAGE) {
            return labels.toString();
        }
        return labels.subList(0, MAX_LABELS_IN_MESSAGE) + " ... (" + labels.size() + " in all)";
    }

    private static boolean isIntegerLiteral(String s) {
        return s.matches("-?\\d{1,18}");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelMap other && labels.equals(other.labels);
    }

    @Override
    public int hashCode() {
        return labels.hashCode();
    }

    @Override
    public String toString() {
        return "LabelMap" + describe();
    }
}
