package org.fedqlora.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The instruction-tuning loss (vocabulary projection at target positions only) equals PyTorch's shifted
 * cross-entropy over the fixture's labels (first 6 positions -100), and so do all LoRA gradients; evaluation's
 * token-weighted NLL equals the loss times the target count.
 */
class LanguageModelFixtureTest {
    static final double LOSS_TOLERANCE = 1e-4;
    static final double GRADIENT_TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "qwen2-tiny"})
    void responseOnlyLossAndGradientsMatchPyTorch(String name) {
        SafetensorsFile ref = Fixtures.expected(name);
        long[] ids = ref.get("input_ids").toLongs();
        long[] labels = ref.get("labels").toLongs();
        int T = (int) ref.get("input_ids").shape()[1];
        long[][] idRows = {Arrays.copyOfRange(ids, 0, T), Arrays.copyOfRange(ids, T, 2 * T)};
        long[][] labelRows = {Arrays.copyOfRange(labels, 0, T), Arrays.copyOfRange(labels, T, 2 * T)};
        InstructionExamples data = new InstructionExamples(idRows, labelRows, 0);
        try (TextEncoder enc = TextEncoder.load(ModelFolder.open(Fixtures.model(name), name));
             AdapterSet lora = AdapterSet.create(enc.manager(), enc.encoder().linears(),
                     new LoraConfig(4, 8f, 0f, List.of("q_proj", "v_proj")), 1)) {
            Map<String, HostTensor> factors = new LinkedHashMap<>();
            lora.loraState().keySet().forEach(k -> factors.put(k, ref.get(k)));
            lora.loadLoraState(factors);
            lora.attach();
            LanguageModel lm = new LanguageModel(enc, lora);
            List<NDArray> params = lm.trainable(false, false);
            params.forEach(p -> p.setRequiresGradient(true));
            float loss;
            try (NDManager step = enc.manager().newSubManager()) {
                NDArray l;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    l = lm.loss(step, data.batch(new int[] {0, 1}), true);
                    gc.backward(l);
                }
                loss = l.getFloat();
            }

            assertThat(Fixtures.maxAbsDiff(name + " response-only loss", new float[] {loss},
                    ref.get("lora_loss").toFloats())).isLessThan(LOSS_TOLERANCE);
            for (Parameter p : lora.loraParameters()) {
                float[] expected = ref.get(p.name().replace(".weight", ".grad")).toFloats();
                float[] actual;
                try (NDArray g = p.array().getGradient(); NDArray t = p.transposed() ? g.transpose(1, 0) : g.duplicate()) {
                    actual = t.toFloatArray();
                }
                double rel = Fixtures.maxAbsDiff(name + " " + p.name() + ".grad", actual, expected) / Fixtures.maxAbs(expected);
                assertThat(rel).as(p.name()).isLessThan(GRADIENT_TOLERANCE);
            }
            params.forEach(p -> p.setRequiresGradient(false));

            LmMetrics m = LanguageModel.evaluate(lm, data, 1);
            long targets = data.targets(0) + data.targets(1);
            assertThat(m.tokens()).isEqualTo(targets).isEqualTo(2L * (T - 6));
            assertThat(m.loss()).isCloseTo(ref.get("lora_loss").toFloats()[0], org.assertj.core.data.Offset.offset(1e-4));
            assertThat(m.perplexity()).isCloseTo(Math.exp(m.loss()), org.assertj.core.data.Offset.offset(1e-9));
        }
    }
}
