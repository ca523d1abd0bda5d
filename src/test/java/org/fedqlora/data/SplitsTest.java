package org.fedqlora.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SplitsTest {
    /** 100 examples of label 0, 50 of label 1, 10 of label 2; text = "t<index>". */
    private static Dataset unbalanced() {
        List<Example> examples = new ArrayList<>();
        int[] counts = {100, 50, 10};
        for (int label = 0; label < counts.length; label++) {
            for (int i = 0; i < counts[label]; i++) {
                examples.add(new Example("t" + examples.size(), label));
            }
        }
        return new Dataset(examples, new LabelMap(List.of("a", "b", "c")), "memory");
    }

    @Test
    void sameSeedGivesTheSameSplitAndAnotherSeedAnother() {
        Dataset data = unbalanced();

        Splits.TrainEval a = Splits.trainEval(data, 0.2, 7);
        Splits.TrainEval b = Splits.trainEval(data, 0.2, 7);
        Splits.TrainEval c = Splits.trainEval(data, 0.2, 8);

        assertThat(a.eval().examples()).isEqualTo(b.eval().examples());
        assertThat(a.eval().examples()).isNotEqualTo(c.eval().examples());
    }

    @Test
    void partsAreDisjointCoverEverythingAndKeepLabelProportions() {
        Dataset data = unbalanced();

        Splits.TrainEval split = Splits.trainEval(data, 0.2, 1);

        Set<String> texts = new HashSet<>();
        split.train().examples().forEach(e -> texts.add(e.text()));
        split.eval().examples().forEach(e -> assertThat(texts.add(e.text())).isTrue());
        assertThat(texts).hasSize(data.size());
        assertThat(split.eval().labelCounts()).containsExactly(20, 10, 2);
        assertThat(split.train().labelCounts()).containsExactly(80, 40, 8);
        assertThat(split.eval().labels()).isEqualTo(data.labels());
    }

    @Test
    void fractionOutsideZeroOneIsAnError() {
        assertThatThrownBy(() -> Splits.trainEval(unbalanced(), 1.0, 1)).hasMessageContaining("between 0 and 1");
        assertThatThrownBy(() -> Splits.trainEval(unbalanced(), 0, 1)).hasMessageContaining("between 0 and 1");
    }

    @Test
    void splitThatLeavesAPartEmptyIsAnError() {
        Dataset tiny = new Dataset(List.of(new Example("a", 0)), new LabelMap(List.of("x")), "tiny");

        assertThatThrownBy(() -> Splits.trainEval(tiny, 0.2, 1)).hasMessageContaining("evaluation part empty");
    }
}
