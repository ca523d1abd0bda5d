package org.fedqlora.model;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The real embedded all-MiniLM-L6-v2: semantics a sentence encoder must have. */
class MiniLmSemanticsTest {
    static TextEncoder minilm;

    @BeforeAll
    static void load() {
        minilm = TextEncoder.load(Models.open(Models.MINILM));
    }

    @AfterAll
    static void close() {
        minilm.close();
    }

    @Test
    void paraphrasesAreCloseAndUnrelatedSentencesAreFar() {
        float[][] e = minilm.embed(List.of("A man is eating food.", "A man is eating a piece of bread.",
                "The stock market fell sharply after the announcement.", "A cheetah chases its prey across a field."));

        double paraphrase = dot(e[0], e[1]);
        System.out.printf("paraphrase %.3f, unrelated %.3f / %.3f%n", paraphrase, dot(e[0], e[2]), dot(e[2], e[3]));
        assertThat(paraphrase).isGreaterThan(0.7);
        assertThat(dot(e[0], e[2])).isLessThan(0.3);
        assertThat(dot(e[2], e[3])).isLessThan(0.3);
    }

    @Test
    void embeddingsAreUnitLengthAndIndependentOfBatchPadding() {
        float[][] alone = minilm.embed(List.of("Short one."));
        float[][] padded = minilm.embed(List.of("Short one.", "A much longer sentence that forces the batch to be padded well beyond the first."));

        assertThat(dot(alone[0], alone[0])).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        for (int i = 0; i < alone[0].length; i++) {
            assertThat(padded[0][i]).isCloseTo(alone[0][i], org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void tokenizerDoesNotPadSingleSentencesToTheShippedFixedLength() {
        assertThat(minilm.tokenizer().ids("hello world")).hasSize(4); // [CLS] hello world [SEP]
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }
}
