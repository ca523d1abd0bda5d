package org.fedqlora.model;

import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A batch without padding skips the attention mask; each sentence encoded alone (no padding, so no mask) must give
 * its row of PyTorch's padded-batch reference.
 */
class BertEncoderMaskTest {
    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "distilbert-tiny"})
    void sentenceAloneMatchesItsRowOfThePaddedBatch(String model) {
        try (TextEncoder enc = TextEncoder.load(ModelFolder.open(Fixtures.model(model), model))) {
            List<String> sentences = Fixtures.sentences();
            float[] ref = Fixtures.expected(model).get("sentence_embedding").toFloats();
            int C = enc.encoder().config().hidden();
            for (int i = 0; i < sentences.size(); i++) {
                float[] alone = enc.embed(List.of(sentences.get(i)))[0];

                float[] row = Arrays.copyOfRange(ref, i * C, (i + 1) * C);
                assertThat(Fixtures.maxAbsDiff(model + " sentence " + i + " alone", alone, row))
                        .isLessThan(BertEncoderFixtureTest.HIDDEN_TOLERANCE);
            }
        }
    }
}
