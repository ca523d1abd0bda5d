package org.fedqlora.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Pooling;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.fedqlora.tokenize.TokenBatch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Logits, loss and every LoRA and head gradient against PyTorch (shared/fixtures, "LoRA training check"). */
class LoraGradientFixtureTest {
    /** Logits and loss: absolute. */
    static final double LOGIT_TOLERANCE = 1e-4;
    /** Gradients: relative to the tensor's largest magnitude. */
    static final double GRADIENT_TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"bert-tiny", "distilbert-tiny"})
    void logitsLossAndGradientsMatchPyTorch(String model) {
        SafetensorsFile ref = Fixtures.expected(model);
        try (TextEncoder enc = TextEncoder.load(ModelFolder.open(Fixtures.model(model), model));
             AdapterSet lora = AdapterSet.create(enc.manager(), enc.encoder().linears(),
                     new LoraConfig(4, 8f, 0f, List.of("query", "value")), 1);
             ClassificationHead head = ClassificationHead.init(enc.manager(), enc.encoder().config().hidden(), 3, 1);
             NDManager step = enc.manager().newSubManager()) {
            lora.loadLoraState(bertNamed(lora.loraState().keySet(), ref, enc));
            head.load(Map.of(ClassificationHead.WEIGHT, ref.get("head.weight"), ClassificationHead.BIAS, ref.get("head.bias")));
            lora.attach();
            TextClassifier clf = new TextClassifier(enc, lora, head, Pooling.MEAN);
            List<Parameter> params = new ArrayList<>(lora.loraParameters());
            params.addAll(head.parameters());
            params.forEach(p -> p.array().setRequiresGradient(true));

            TokenBatch b = enc.tokenizer().encode(Fixtures.sentences());
            NDArray labels = step.create(ref.get("labels").toLongs());
            NDArray logits;
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                logits = clf.logits(step, b, false);
                loss = TextClassifier.crossEntropy(logits, labels);
                gc.backward(loss);
            }

            assertThat(Fixtures.maxAbsDiff(model + " logits", logits.toFloatArray(), ref.get("logits").toFloats()))
                    .isLessThan(LOGIT_TOLERANCE);
            assertThat(Fixtures.maxAbsDiff(model + " loss", new float[] {loss.getFloat()}, ref.get("loss").toFloats()))
                    .isLessThan(LOGIT_TOLERANCE);
            for (Parameter p : params) {
                float[] expected = ref.get(gradName(refName(p.name(), enc))).toFloats();
                float[] actual;
                try (NDArray g = p.array().getGradient();
                     NDArray t = p.transposed() ? g.transpose(1, 0) : g.duplicate()) {
                    actual = t.toFloatArray();
                }
                double rel = Fixtures.maxAbsDiff(model + " " + p.name() + ".grad", actual, expected) / Fixtures.maxAbs(expected);
                assertThat(rel).as(p.name()).isLessThan(GRADIENT_TOLERANCE);
            }
        }
    }

    /** LoRA gradients drop ".weight" (lora_A.grad), the head keeps it (head.weight.grad). */
    private static String gradName(String name) {
        return name.contains(".lora_") ? name.replace(".weight", ".grad") : name + ".grad";
    }

    /** The fixture names LoRA tensors with BERT module names for both families. */
    private static String refName(String name, TextEncoder enc) {
        return name.replace("transformer.layer.", "encoder.layer.")
                .replace("attention.q_lin", "attention.self.query")
                .replace("attention.v_lin", "attention.self.value");
    }

    private static Map<String, HostTensor> bertNamed(Iterable<String> names, SafetensorsFile ref, TextEncoder enc) {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        names.forEach(n -> m.put(n, ref.get(refName(n, enc))));
        return m;
    }
}
