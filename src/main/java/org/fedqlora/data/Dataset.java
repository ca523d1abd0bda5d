package org.fedqlora.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Examples with their label map and a description of where they came from (for messages and reports).
 *
 * @param examples at least one; every label id is below {@code labels.size()}
 * @param labels   the names of the label ids
 * @param source   e.g. {@code "data/train.jsonl (jsonl, text='text', label='label')"}
 */
public record Dataset(List<Example> examples, LabelMap labels, String source) {
    public Dataset {
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(source, "source");
        examples = List.copyOf(examples);
        if (examples.isEmpty()) {
            throw new DataException(source + ": has no examples; a data set needs at least one");
        }
        for (Example e : examples) {
            if (e.label() >= labels.size()) {
                throw new IllegalArgumentException(source + ": label id " + e.label() + " but the label map has only "
                        + labels.size() + " labels");
            }
        }
    }

    public int size() {
        return examples.size();
    }

    public Example get(int i) {
        return examples.get(i);
    }

    /** The label id of every example, in order. */
    public int[] labelIds() {
        return examples.stream().mapToInt(Example::label).toArray();
    }

    /** How many examples each label id has. */
    public int[] labelCounts() {
        int[] counts = new int[labels.size()];
        for (Example e : examples) {
            counts[e.label()]++;
        }
        return counts;
    }

    /** The examples at {@code indices} (in that order), with the same label map. */
    public Dataset subset(List<Integer> indices, String description) {
        List<Example> picked = new ArrayList<>(indices.size());
        for (int i : indices) {
            picked.add(examples.get(i));
        }
        return new Dataset(picked, labels, description);
    }

    /**
     * The same examples with ids taken from {@code target} by label name, as evaluation data must be encoded with the
     * training label map. Fails naming the first label that {@code target} does not know.
     */
    public Dataset withLabelMap(LabelMap target) {
        if (target.equals(labels)) {
            return this;
        }
        List<Example> recoded = new ArrayList<>(examples.size());
        for (int i = 0; i < examples.size(); i++) {
            Example e = examples.get(i);
            int id = target.encodeStrict(labels.name(e.label()), source + ", example " + (i + 1));
            recoded.add(new Example(e.text(), id));
        }
        return new Dataset(recoded, target, source);
    }
}
