package org.fedqlora.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LabelMapTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void stringLabelsGetIdsInSortedOrderWhateverTheRowOrder() {
        LabelMap a = LabelMap.fromObserved(List.of("sports", "business", "tech", "sports"));
        LabelMap b = LabelMap.fromObserved(List.of("tech", "sports", "business"));

        assertThat(a.labels()).containsExactly("business", "sports", "tech");
        assertThat(b).isEqualTo(a);
    }

    @Test
    void integerLabelsSortNumericallySoIdEqualsLabel() {
        LabelMap map = LabelMap.fromObserved(List.of("10", "2", "0", "1", "2"));

        assertThat(map.labels()).containsExactly("0", "1", "2", "10");
        assertThat(map.encodeStrict("2", "here")).isEqualTo(2);
    }

    @Test
    void integerLabelsThatAreEqualAsNumbersStayDistinct() {
        assertThat(LabelMap.fromObserved(List.of("7", "07", "1")).labels()).containsExactly("1", "07", "7");
    }

    @Test
    void mixedIntegerAndStringLabelsSortAsStrings() {
        assertThat(LabelMap.fromObserved(List.of("b", "10", "2")).labels()).containsExactly("10", "2", "b");
    }

    @Test
    void unknownLabelErrorNamesTheLabelThePlaceAndTheKnownLabels() {
        LabelMap map = new LabelMap(List.of("business", "sports"));

        assertThatThrownBy(() -> map.encodeStrict("travel", "test.jsonl line 12"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("test.jsonl line 12")
                .hasMessageContaining("'travel'")
                .hasMessageContaining("[business, sports]");
    }

    @Test
    void serialisesAsALabelsArrayAndReadsBack() throws Exception {
        LabelMap map = new LabelMap(List.of("business", "sports"));

        String json = JSON.writeValueAsString(map);

        assertThat(json).isEqualTo("{\"labels\":[\"business\",\"sports\"]}");
        assertThat(JSON.readValue(json, LabelMap.class)).isEqualTo(map);
    }

    @Test
    void rejectsDuplicateAndEmptyLabelLists() {
        assertThatThrownBy(() -> new LabelMap(List.of("a", "b", "a"))).hasMessageContaining("'a' appears twice");
        assertThatThrownBy(() -> new LabelMap(List.of())).hasMessageContaining("at least one label");
    }
}
