package org.fedqlora.linalg;

import org.fedqlora.tensor.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The rank-8 QA adapter of the fixture's quantization errors against PyTorch's truncated SVD (quant.safetensors). */
class SvdFixtureTest {
    /** Absolute tolerance on L·R against the reference rank-8 approximation. */
    private static final double MAX_ABS_ERROR = 1e-4;
    private static final int OUT = 48;
    private static final int IN = 256;
    private static final int RANK = 8;

    private static SafetensorsFile fixture() throws URISyntaxException {
        return SafetensorsFile.open(Path.of(SvdFixtureTest.class.getResource("/linalg/quant.safetensors").toURI()));
    }

    private static void assertRank8ErrorMatches(String quantized) throws URISyntaxException {
        // Prepare
        SafetensorsFile f = fixture();
        float[] w = f.floats("w", OUT, IN);
        float[] error = Matrices.subtract(w, f.floats(quantized, OUT, IN));
        float[] expected = f.floats(quantized + "_error_rank8", OUT, IN);

        // Execute: the wide matrix as stored, and its transpose (the tall code path)
        float[] wide = Svd.lowRank(error, OUT, IN, RANK, quantized).product();
        float[] tall = Svd.lowRank(Matrices.transpose(error, OUT, IN), IN, OUT, RANK, quantized).product();

        // Assert
        double wideDiff = Matrices.maxAbsDifference(wide, expected);
        double tallDiff = Matrices.maxAbsDifference(tall, Matrices.transpose(expected, OUT, IN));
        System.out.printf("%s error rank %d: max |diff| wide %.3g, tall %.3g (max |expected| %.3g)%n", quantized, RANK,
                wideDiff, tallDiff, Matrices.maxAbsDifference(expected, new float[expected.length]));
        assertThat(wideDiff).isLessThan(MAX_ABS_ERROR);
        assertThat(tallDiff).isLessThan(MAX_ABS_ERROR);
    }

    @Test
    void rank8ApproximationOfNf2ErrorMatchesReference() throws URISyntaxException {
        assertRank8ErrorMatches("nf2");
    }

    @Test
    void rank8ApproximationOfNf4ErrorMatchesReference() throws URISyntaxException {
        assertRank8ErrorMatches("nf4");
    }
}
