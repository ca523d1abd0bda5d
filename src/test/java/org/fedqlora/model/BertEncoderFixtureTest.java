package org.fedqlora.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.fedqlora.tokenize.TokenBatch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The encoder forward and tokenizer against PyTorch references (shared/fixtures). */
class BertEncoderFixtureTest {
    /** Hidden states and embeddings: float32 forward vs PyTorch float32. */
    static final double HIDDEN_TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "distilbert-tiny"})
    void tokenizerGivesExactlyTheReferenceIds(String model) {
        ModelFolder f = ModelFolder.open(Fixtures.model(model), model);
        SafetensorsFile expected = Fixtures.expected(model);
        try (TextEncoder enc = TextEncoder.load(f)) {
            TokenBatch b = enc.tokenizer().encode(Fixtures.sentences());

            assertThat(b.ids()).containsExactly(expected.get("input_ids").toLongs());
            assertThat(b.mask()).containsExactly(expected.get("attention_mask").toLongs());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "distilbert-tiny"})
    void lastHiddenStateMatchesPyTorchOnUnmaskedPositions(String model) {
        ModelFolder f = ModelFolder.open(Fixtures.model(model), model);
        SafetensorsFile expected = Fixtures.expected(model);
        try (TextEncoder enc = TextEncoder.load(f); NDManager step = enc.manager().newSubManager()) {
            TokenBatch b = enc.tokenizer().encode(Fixtures.sentences());
            NDArray h = enc.hidden(step, b, false);

            float[] actual = h.toFloatArray();
            float[] ref = expected.get("last_hidden_state").toFloats();
            int C = enc.encoder().config().hidden();
            float[] a = masked(actual, b.mask(), C);
            float[] r = masked(ref, b.mask(), C);
            assertThat(Fixtures.maxAbsDiff(model + " last_hidden_state", a, r)).isLessThan(HIDDEN_TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "distilbert-tiny"})
    void sentenceEmbeddingMatchesPyTorch(String model) {
        ModelFolder f = ModelFolder.open(Fixtures.model(model), model);
        try (TextEncoder enc = TextEncoder.load(f)) {
            List<String> s = Fixtures.sentences();
            float[][] e = enc.embed(s);

            float[] ref = Fixtures.expected(model).get("sentence_embedding").toFloats();
            float[] flat = new float[ref.length];
            for (int i = 0; i < e.length; i++) {
                System.arraycopy(e[i], 0, flat, i * e[i].length, e[i].length);
            }
            assertThat(Fixtures.maxAbsDiff(model + " sentence_embedding", flat, ref)).isLessThan(HIDDEN_TOLERANCE);
        }
    }

    /** Keeps the rows (positions) whose mask is 1. */
    static float[] masked(float[] h, long[] mask, int C) {
        int n = 0;
        for (long m : mask) {
            n += (int) m;
        }
        float[] out = new float[n * C];
        int k = 0;
        for (int p = 0; p < mask.length; p++) {
            if (mask[p] == 1) {
                System.arraycopy(h, p * C, out, k++ * C, C);
            }
        }
        return out;
    }
}
