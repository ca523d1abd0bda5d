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
import org.fedqlora.nn.Compute;
import org.fedqlora.nn.Linear;
import org.fedqlora.quant.PackedWeight;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.fedqlora.tokenize.TokenBatch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A whole model with packed base weights against the same model with the weights dequantized: the output and the
 * gradient of every LoRA factor, with a QA adapter on every quantized layer, for an encoder and a decoder, in fp32
 * and bf16. Both run the same operations on the same W (see {@code PackedWeightTest}), so they agree exactly.
 */
class PackedResidencyModelTest {
    private static final float PACKED_TOLERANCE = 0f;

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
            "bert-tiny, nf3, fp32", "bert-tiny, nf2, bf16", "llama-tiny, nf4, fp32", "llama-tiny, int3, bf16"})
    void packedModelEqualsDequantizedModel(String model, String format, String compute) {
        Map<String, float[]> dequantized = run(model, format, compute, QuantizedBase.Residency.DEQUANTIZED);
        Map<String, float[]> packed = run(model, format, compute, QuantizedBase.Residency.PACKED);

        assertThat(packed.keySet()).isEqualTo(dequantized.keySet()).hasSizeGreaterThan(2);
        for (String name : dequantized.keySet()) {
            double diff = Fixtures.maxAbsDiff(model + " " + format + " " + compute + " packed vs dequantized " + name,
                    packed.get(name), dequantized.get(name));
            assertThat(diff).as(name).isLessThanOrEqualTo(PACKED_TOLERANCE);
        }
    }

    /** The model's output ("out": logits or the loss) and every LoRA gradient, by name. */
    private static Map<String, float[]> run(String model, String format, String compute,
                                            QuantizedBase.Residency residency) {
        boolean decoder = model.startsWith("llama");
        Map<String, float[]> out = new LinkedHashMap<>();
        try (QuantizedModel qm = QuantizedModel.load(ModelFolder.open(Fixtures.model(model), model),
                new QuantSpec(QuantFormat.parse(format), 16, false), new QaSpec(2, QaSpec.Method.SVD, 1), residency, 0);
             AdapterSet adapters = qm.newAdapters(new LoraConfig(4, 8f, 0f,
                     decoder ? List.of("q_proj", "v_proj") : List.of("query", "value")), 1, true);
             ClassificationHead head = ClassificationHead.init(qm.encoder().manager(),
                     qm.encoder().encoder().config().hidden(), 3, 1);
             NDManager step = qm.encoder().manager().newSubManager()) {
            for (Linear l : qm.encoder().encoder().linears()) {
                assertThat(l.base() instanceof PackedWeight).as(l.name())
                        .isEqualTo(residency == QuantizedBase.Residency.PACKED);
            }
            qm.encoder().setCompute(Compute.parse(compute));
            adapters.attach();
            // B = 0 at init would make every A gradient zero: give B values so both factors get gradients
            Engine.getInstance().setRandomSeed(3);
            for (Parameter p : adapters.loraParameters()) {
                try (NDArray r = step.randomUniform(-0.1f, 0.1f, p.array().getShape())) {
                    p.array().addi(r);
                }
            }
            List<Parameter> params = new ArrayList<>(adapters.loraParameters());
            params.forEach(p -> p.array().setRequiresGradient(true));
            NDArray result;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                if (decoder) {
                    SafetensorsFile ref = Fixtures.expected(model);
                    long[] ids = ref.get("input_ids").toLongs();
                    long[] labels = ref.get("labels").toLongs();
                    int t = (int) ref.get("input_ids").shape()[1];
                    InstructionExamples data = new InstructionExamples(
                            new long[][] {Arrays.copyOfRange(ids, 0, t), Arrays.copyOfRange(ids, t, 2 * t)},
                            new long[][] {Arrays.copyOfRange(labels, 0, t), Arrays.copyOfRange(labels, t, 2 * t)}, 0);
                    result = new LanguageModel(qm.encoder(), adapters).loss(step, data.batch(new int[] {0, 1}), true);
                    gc.backward(result);
                } else {
                    TextClassifier clf = new TextClassifier(qm.encoder(), adapters, head, Pooling.MEAN);
                    TokenBatch b = qm.encoder().tokenizer().encode(Fixtures.sentences());
                    NDArray labels = step.create(new long[] {0, 1, 2, 0}).get("0:" + b.batch());
                    result = clf.logits(step, b, false);
                    gc.backward(TextClassifier.crossEntropy(result, labels));
                }
            }
            out.put("out", result.toFloatArray());
            for (Parameter p : params) {
                try (NDArray g = p.array().getGradient()) {
                    out.put(p.name() + ".grad", g.toFloatArray());
                }
            }
            params.forEach(p -> p.array().setRequiresGradient(false));
        }
        return out;
    }
}
