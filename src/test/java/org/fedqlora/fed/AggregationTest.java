package org.fedqlora.fed;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The example-weighted mean of named tensors and metrics, and its errors. */
class AggregationTest {
    /** Max |mean − expected|: one float32 rounding of values of order 1 (the mean is accumulated in double). */
    private static final double MAX_ABS_ERROR = 1e-6;

    @Property(tries = 200)
    void aggregatingIdenticalUpdatesIsTheIdentity(@ForAll @IntRange(min = 1, max = 6) int clients,
                                                  @ForAll @IntRange(min = 1, max = 3) int tensors,
                                                  @ForAll long seed) {
        // Prepare: random shapes (1 to 3 dims) and values, the same for every client, random example counts
        Random random = new Random(seed);
        Map<String, HostTensor> update = new TreeMap<>();
        for (int t = 0; t < tensors; t++) {
            long[] shape = new long[1 + random.nextInt(3)];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = 1 + random.nextInt(5);
            }
            update.put("layer" + t + ".lora_B.weight", HostTensor.ofFloats(gaussian(random,
                    (int) HostTensor.numel(shape), Math.exp(4 * random.nextGaussian())), shape));
        }
        List<FitRes> results = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            results.add(new FitRes("c" + c, update, 1 + random.nextInt(1000), Map.of()));
        }

        // Execute
        Map<String, HostTensor> mean = Aggregation.weightedMean(results);

        // Assert: same names and shapes, and every value equal to within one float rounding
        assertThat(mean.keySet()).isEqualTo(update.keySet());
        for (String name : update.keySet()) {
            float[] expected = update.get(name).toFloats();
            float[] actual = mean.get(name).toFloats();
            assertThat(mean.get(name).shape()).isEqualTo(update.get(name).shape());
            for (int i = 0; i < expected.length; i++) {
                assertThat(actual[i]).isCloseTo(expected[i], within(Math.ulp(expected[i])));
            }
        }
    }

    @Test
    void weightsFollowExampleCounts() {
        // Prepare: x = 1, 2, 4 with 100, 300, 600 examples: mean = (100 + 600 + 2400) / 1000 = 3.1
        List<FitRes> results = List.of(result("a", 100, 1f, -1f), result("b", 300, 2f, 0f), result("c", 600, 4f, 1f));

        // Execute
        float[] mean = Aggregation.weightedMean(results).get("w").toFloats();

        // Assert: second element (−100 + 0 + 600) / 1000 = 0.5
        System.out.printf("weighted mean %s (expected [3.1, 0.5])%n", Arrays.toString(mean));
        assertThat(mean[0]).isCloseTo(3.1f, within((float) MAX_ABS_ERROR));
        assertThat(mean[1]).isCloseTo(0.5f, within((float) MAX_ABS_ERROR));
    }

    @Test
    void metricsAreWeightedOverTheClientsThatReportThem() {
        // Prepare: loss reported by both (weights 1 and 3), accuracy by b only
        List<FitRes> results = List.of(
                new FitRes("a", Map.of(), 1, Map.of("loss", 2.0)),
                new FitRes("b", Map.of(), 3, Map.of("loss", 6.0, "accuracy", 0.5)));

        // Execute
        Map<String, Double> metrics = Aggregation.fitMetrics(results);

        // Assert
        assertThat(metrics).containsOnlyKeys("loss", "accuracy");
        assertThat(metrics.get("loss")).isCloseTo(5.0, within(1e-12));
        assertThat(metrics.get("accuracy")).isCloseTo(0.5, within(1e-12));
    }

    @Test
    void aTensorMissingFromOneClientIsAnErrorNamingClientAndTensor() {
        // Prepare
        FitRes a = new FitRes("a", Map.of("x", tensor(1f), "y", tensor(2f)), 1, Map.of());
        FitRes b = new FitRes("b", Map.of("x", tensor(1f)), 1, Map.of());

        // Execute and Assert
        assertThatThrownBy(() -> Aggregation.weightedMean(List.of(a, b)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("client 'b'").hasMessageContaining("missing [y]");
    }

    @Test
    void aShapeMismatchIsAnErrorNamingClientAndTensor() {
        // Prepare
        FitRes a = new FitRes("a", Map.of("layer.lora_A.weight", HostTensor.ofFloats(new float[4], 2, 2)), 1,
                Map.of());
        FitRes b = new FitRes("b", Map.of("layer.lora_A.weight", HostTensor.ofFloats(new float[4], 4, 1)), 1,
                Map.of());

        // Execute and Assert
        assertThatThrownBy(() -> Aggregation.weightedMean(List.of(a, b)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'layer.lora_A.weight' from client 'b' has shape [4, 1]")
                .hasMessageContaining("client 'a' has [2, 2]");
    }

    @Test
    void aNonFloat32TensorIsAnError() {
        // Prepare
        FitRes a = new FitRes("a", Map.of("w", HostTensor.ofBytes(DType.BF16, new byte[2], 1)), 1, Map.of());

        // Execute and Assert
        assertThatThrownBy(() -> Aggregation.weightedMean(List.of(a)))
                .hasMessageContaining("'w' from client 'a' is BF16").hasMessageContaining("must be F32");
    }

    @Test
    void zeroExamplesEverywhereIsAnError() {
        // Prepare
        List<FitRes> results = List.of(result("a", 0, 1f), result("b", 0, 2f));

        // Execute and Assert
        assertThatThrownBy(() -> Aggregation.weightedMean(results))
                .hasMessageContaining("reported 0 examples");
    }

    private static FitRes result(String id, long examples, float... w) {
        return new FitRes(id, Map.of("w", HostTensor.ofFloats(w, w.length)), examples, Map.of());
    }

    private static HostTensor tensor(float value) {
        return HostTensor.ofFloats(new float[] {value}, 1);
    }

    private static float[] gaussian(Random random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (scale * random.nextGaussian());
        }
        return v;
    }
}
