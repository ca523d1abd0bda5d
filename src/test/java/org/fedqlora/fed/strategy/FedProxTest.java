package org.fedqlora.fed.strategy;

import org.fedqlora.fed.FitIns;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The proximal term μ/2 ‖w − w_g‖², its gradient, and how μ reaches clients. */
class FedProxTest {
    private static final double MAX_ABS_ERROR = 1e-6;

    @Test
    void penaltyAndGradientMatchTheClosedForm() {
        // Prepare: w − w_g = (1, −2) and (3); μ = 0.5
        Map<String, HostTensor> local = Map.of("a", floats(2f, 0f), "b", floats(4f));
        Map<String, HostTensor> global = Map.of("a", floats(1f, 2f), "b", floats(1f), "frozen", floats(9f));

        // Execute
        double penalty = FedProx.penalty(local, global, 0.5);
        Map<String, HostTensor> gradient = FedProx.gradient(local, global, 0.5);

        // Assert: 0.5 / 2 · (1 + 4 + 9) = 3.5; gradient μ (w − w_g)
        assertThat(penalty).isCloseTo(3.5, within(MAX_ABS_ERROR));
        assertThat(gradient).containsOnlyKeys("a", "b");
        assertThat(gradient.get("a").toFloats()).containsExactly(0.5f, -1f);
        assertThat(gradient.get("b").toFloats()).containsExactly(1.5f);
    }

    @Test
    void muTravelsInTheFitConfigAndIsReadBack() {
        // Prepare
        FedAvg strategy = new FedAvg(FedAvg.Config.defaults().withProximalMu(0.01), Map.of(),
                ServerOptimizer.average());

        // Execute
        Map<String, FitIns> ins = strategy.configureFit(1, Map.of(), List.of("a", "b"), new SplittableRandom(1));

        // Assert
        assertThat(ins).containsOnlyKeys("a", "b");
        assertThat(FedProx.mu(ins.get("a").config())).isEqualTo(0.01);
        assertThat(FedProx.mu(Map.of())).isZero();
    }

    @Test
    void aMalformedMuIsAnError() {
        assertThatThrownBy(() -> FedProx.mu(Map.of(FedProx.MU_KEY, "abc"))).hasMessageContaining("not a number");
        assertThatThrownBy(() -> FedProx.mu(Map.of(FedProx.MU_KEY, "-1"))).hasMessageContaining("≥ 0");
    }

    private static HostTensor floats(float... values) {
        return HostTensor.ofFloats(values, values.length);
    }
}
