package org.fedqlora.fed.strategy;

import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Server optimizers against values computed by hand from the formulas in {@link ServerOptimizer}. */
class ServerOptimizerTest {
    /** Float32 rounding of values of order 1. */
    private static final float MAX_ABS_ERROR = 1e-6f;

    @Test
    void averageReturnsTheMean() {
        // Prepare
        ServerOptimizer optimizer = ServerOptimizer.average();

        // Execute
        float x = step(optimizer, 1f, 3f);

        // Assert
        assertThat(x).isEqualTo(3f);
    }

    @Test
    void momentumMatchesHandComputedValues() {
        // Prepare: η = 2, β = 0.5, x0 = 1
        ServerOptimizer optimizer = ServerOptimizer.momentum(2.0, 0.5);

        // Execute and Assert
        // round 1: x̄ = 3, Δ = 2,  m = 0.5·0 + 2 = 2,  x = 1 + 2·2 = 5
        float x1 = step(optimizer, 1f, 3f);
        assertThat(x1).isCloseTo(5f, within(MAX_ABS_ERROR));
        // round 2: x̄ = 4, Δ = −1, m = 0.5·2 − 1 = 0, x = 5 + 2·0 = 5
        float x2 = step(optimizer, x1, 4f);
        assertThat(x2).isCloseTo(5f, within(MAX_ABS_ERROR));
        // round 3: x̄ = 6, Δ = 1,  m = 0.5·0 + 1 = 1, x = 5 + 2·1 = 7
        float x3 = step(optimizer, x2, 6f);
        assertThat(x3).isCloseTo(7f, within(MAX_ABS_ERROR));
        System.out.printf("fedavgm: %s %s %s (expected 5 5 7)%n", x1, x2, x3);
    }

    @Test
    void adamMatchesHandComputedValues() {
        // Prepare: η = 1, β1 = 0.9, β2 = 0.99, τ = 0.1, x0 = 0
        ServerOptimizer optimizer = ServerOptimizer.adam(1.0, 0.9, 0.99, 0.1);

        // Execute and Assert
        // round 1: Δ = 1: m = 0.1, v = 0.01, x = 0.1 / (0.1 + 0.1) = 0.5
        float x1 = step(optimizer, 0f, 1f);
        assertThat(x1).isCloseTo(0.5f, within(MAX_ABS_ERROR));
        // round 2: x̄ = x (Δ = 0): m = 0.09, v = 0.0099, x = 0.5 + 0.09 / (√0.0099 + 0.1) = 0.95113066
        float x2 = step(optimizer, x1, x1);
        assertThat(x2).isCloseTo(0.95113066f, within(MAX_ABS_ERROR));
        System.out.printf("fedadam: %s %s (expected 0.5 0.95113066)%n", x1, x2);
    }

    @Test
    void tensorsNoClientSentKeepTheirGlobalValue() {
        // Prepare: FFA-LoRA sends B only; A stays
        Map<String, HostTensor> global = Map.of("a", scalar(7f), "b", scalar(1f));

        // Execute
        Map<String, HostTensor> next = ServerOptimizer.adam(1, 0.9, 0.99, 1e-3).step(global, Map.of("b", scalar(2f)));

        // Assert
        assertThat(next.get("a").toFloats()).containsExactly(7f);
        assertThat(next.get("b").toFloats()[0]).isGreaterThan(1f);
    }

    @Test
    void restoredStateContinuesExactlyLikeTheOriginal() {
        // Prepare: two rounds on one optimizer; one round, then a fresh optimizer restored from its state
        ServerOptimizer original = ServerOptimizer.adam(0.5, 0.9, 0.99, 1e-3);
        float x1 = step(original, 0f, 1f);
        ServerOptimizer restored = ServerOptimizer.adam(0.5, 0.9, 0.99, 1e-3);
        restored.restoreState(original.state());

        // Execute
        float fromOriginal = step(original, x1, 2f);
        float fromRestored = step(restored, x1, 2f);

        // Assert
        assertThat(fromRestored).isEqualTo(fromOriginal);
    }

    @Test
    void aTensorMissingFromTheGlobalIsAnError() {
        assertThatThrownBy(() -> ServerOptimizer.average().step(Map.of("a", scalar(0f)), Map.of("b", scalar(1f))))
                .hasMessageContaining("clients sent tensor 'b'").hasMessageContaining("initial parameters");
    }

    @Test
    void parseReadsNamesAndOptions() {
        // Execute
        ServerOptimizer adam = ServerOptimizer.parse("fedadam:lr=1,beta1=0.9,beta2=0.99,tau=0.1");

        // Assert: same first step as the hand-computed one
        assertThat(step(adam, 0f, 1f)).isCloseTo(0.5f, within(MAX_ABS_ERROR));
        assertThat(step(ServerOptimizer.parse("fedavgm:lr=2,momentum=0.5"), 1f, 3f)).isCloseTo(5f,
                within(MAX_ABS_ERROR));
        assertThat(step(ServerOptimizer.parse("FedAvg"), 1f, 3f)).isEqualTo(3f);
    }

    @Test
    void parseRejectsUnknownNamesAndOptions() {
        assertThatThrownBy(() -> ServerOptimizer.parse("fedyogi"))
                .hasMessageContaining("expected fedavg, fedavgm or fedadam");
        assertThatThrownBy(() -> ServerOptimizer.parse("fedavgm:beta1=0.9"))
                .hasMessageContaining("unknown option(s) [beta1]");
        assertThatThrownBy(() -> ServerOptimizer.parse("fedadam:lr")).hasMessageContaining("not name=number");
    }

    private static float step(ServerOptimizer optimizer, float global, float mean) {
        return optimizer.step(Map.of("w", scalar(global)), Map.of("w", scalar(mean))).get("w").toFloats()[0];
    }

    private static HostTensor scalar(float value) {
        return HostTensor.ofFloats(new float[] {value}, 1);
    }
}
