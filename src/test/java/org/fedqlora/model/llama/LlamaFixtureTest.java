package org.fedqlora.model.llama;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.engine.Engines;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Llama and Qwen2 against PyTorch (shared/fixtures llama-tiny, qwen2-tiny; see its README): logits, the LoRA
 * loss and every LoRA gradient, greedy decoding; and KV-cache decoding and padding against full recomputation.
 */
class LlamaFixtureTest {
    /** Logits and loss: absolute. */
    static final double LOGIT_TOLERANCE = 1e-4;
    /** Gradients: relative to the tensor's largest magnitude. */
    static final double GRADIENT_TOLERANCE = 1e-4;

    static LlamaModel load(String name, NDManager m) {
        ModelFolder f = ModelFolder.open(Fixtures.model(name), name);
        return LlamaModel.load(LlamaConfig.fromJson(f.config()), f.weights(), BaseWeightFactory.DENSE, m);
    }

    static NDArray ids(NDManager m, HostTensor t) {
        return m.create(t.toLongs(), new Shape(t.shape()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "qwen2-tiny"})
    void logitsMatchPyTorch(String name) {
        SafetensorsFile ref = Fixtures.expected(name);
        try (NDManager m = Engines.newManager(); LlamaModel model = load(name, m); NDManager step = m.newSubManager()) {
            NDArray ids = ids(step, ref.get("input_ids"));
            NDArray logits = model.logits(step, model.hidden(step, ids, ids.onesLike(), false));

            assertThat(Fixtures.maxAbsDiff(name + " logits", logits.toFloatArray(), ref.get("logits").toFloats()))
                    .isLessThan(LOGIT_TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "qwen2-tiny"})
    void loraLossAndGradientsMatchPyTorch(String name) {
        SafetensorsFile ref = Fixtures.expected(name);
        try (NDManager m = Engines.newManager(); LlamaModel model = load(name, m);
             AdapterSet lora = AdapterSet.create(m, model.linears(), new LoraConfig(4, 8f, 0f, List.of("q_proj", "v_proj")), 1);
             NDManager step = m.newSubManager()) {
            Map<String, HostTensor> factors = new LinkedHashMap<>();
            lora.loraState().keySet().forEach(k -> factors.put(k, ref.get(k)));
            lora.loadLoraState(factors);
            lora.attach();
            List<Parameter> params = new ArrayList<>(lora.loraParameters());
            params.forEach(p -> p.array().setRequiresGradient(true));
            NDArray ids = ids(step, ref.get("input_ids"));
            NDArray labels = ids(step, ref.get("labels"));
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                loss = CausalLm.loss(model.logits(step, model.hidden(step, ids, ids.onesLike(), true)), labels);
                gc.backward(loss);
            }

            assertThat(params).hasSize(8);
            assertThat(Fixtures.maxAbsDiff(name + " lora_loss", new float[] {loss.getFloat()},
                    ref.get("lora_loss").toFloats())).isLessThan(LOGIT_TOLERANCE);
            for (Parameter p : params) {
                float[] expected = ref.get(p.name().replace(".weight", ".grad")).toFloats();
                float[] actual;
                try (NDArray g = p.array().getGradient(); NDArray t = p.transposed() ? g.transpose(1, 0) : g.duplicate()) {
                    actual = t.toFloatArray();
                }
                double rel = Fixtures.maxAbsDiff(name + " " + p.name() + ".grad", actual, expected) / Fixtures.maxAbs(expected);
                assertThat(rel).as(p.name()).isLessThan(GRADIENT_TOLERANCE);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "qwen2-tiny"})
    void greedyDecodingMatchesPyTorchAndKvCacheMatchesRecomputation(String name) {
        SafetensorsFile ref = Fixtures.expected(name);
        long[] prompt = ref.get("greedy_prompt").toLongs();
        long[] expected = ref.get("greedy_output").toLongs();
        int steps = expected.length - prompt.length;
        try (NDManager m = Engines.newManager(); LlamaModel model = load(name, m); KvCache cache = model.newCache(1)) {
            long[] full = prompt.clone();
            long[] cached = prompt.clone();
            double worst = 0;
            for (int s = 0; s < steps; s++) {
                float[] recomputed;
                float[] fromCache;
                try (NDManager step = m.newSubManager()) {
                    NDArray ids = step.create(full, new Shape(1, full.length));
                    NDArray h = model.hidden(step, ids, ids.onesLike(), false);
                    recomputed = model.logits(step, h.get("0, -1, :")).toFloatArray();
                }
                try (NDManager step = m.newSubManager()) {
                    long[] fresh = s == 0 ? cached : new long[] {cached[cached.length - 1]};
                    fromCache = model.step(step, step.create(fresh, new Shape(1, fresh.length)), cache).toFloatArray();
                }
                worst = Math.max(worst, Fixtures.maxAbsDiff(name + " kv-cache logits step " + s, fromCache, recomputed));
                full = append(full, argMax(recomputed));
                cached = append(cached, argMax(fromCache));
            }

            assertThat(full).as("greedy, recomputed").containsExactly(expected);
            assertThat(cached).as("greedy, KV cache").containsExactly(expected);
            assertThat(worst).isLessThan(LOGIT_TOLERANCE);
            assertThat(cache.length()).isEqualTo(expected.length - 1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "qwen2-tiny"})
    void leftAndRightPaddingGiveTheUnpaddedLogits(String name) {
        SafetensorsFile ref = Fixtures.expected(name);
        long[] all = ref.get("input_ids").toLongs();
        long[] row = Arrays.copyOfRange(all, 0, 9);              // 9 tokens of the first sequence
        int pad = 3, T = row.length + pad, V = 4096;
        long[] left = new long[T], right = new long[T], leftMask = new long[T], rightMask = new long[T];
        for (int t = 0; t < row.length; t++) {
            left[pad + t] = row[t];
            leftMask[pad + t] = 1;
            right[t] = row[t];
            rightMask[t] = 1;
        }
        try (NDManager m = Engines.newManager(); LlamaModel model = load(name, m); NDManager step = m.newSubManager()) {
            NDArray plain = step.create(row, new Shape(1, row.length));
            float[] expected = model.logits(step, model.hidden(step, plain, plain.onesLike(), false)).toFloatArray();
            NDArray ids = step.create(concat(left, right), new Shape(2, T));
            NDArray mask = step.create(concat(leftMask, rightMask), new Shape(2, T));
            float[] padded = model.logits(step, model.hidden(step, ids, mask, false)).toFloatArray();

            float[] leftReal = Arrays.copyOfRange(padded, pad * V, T * V);
            float[] rightReal = Arrays.copyOfRange(padded, T * V, (T + row.length) * V);
            assertThat(Fixtures.maxAbsDiff(name + " left-padded logits", leftReal, expected)).isLessThan(LOGIT_TOLERANCE);
            assertThat(Fixtures.maxAbsDiff(name + " right-padded logits", rightReal, expected)).isLessThan(LOGIT_TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-tiny", "qwen2-tiny"})
    void leftPaddedBatchDecodesLikeEachPromptAlone(String name) {
        SafetensorsFile ref = Fixtures.expected(name);
        long[] all = ref.get("input_ids").toLongs();
        long[] a = Arrays.copyOfRange(all, 0, 7);
        long[] b = Arrays.copyOfRange(all, 12, 16);                 // 4 tokens of the second sequence
        long[] ids = new long[14], mask = new long[14];
        System.arraycopy(a, 0, ids, 0, 7);
        System.arraycopy(b, 0, ids, 7 + 3, 4);
        Arrays.fill(mask, 0, 7, 1);
        Arrays.fill(mask, 10, 14, 1);
        try (NDManager m = Engines.newManager(); LlamaModel model = load(name, m);
             KvCache batch = model.newCache(2); KvCache alone = model.newCache(1)) {
            float[] batched;
            float[] single;
            try (NDManager step = m.newSubManager()) {
                batched = model.step(step, step.create(ids, new Shape(2, 7)), step.create(mask, new Shape(2, 7)), batch)
                        .toFloatArray();
            }
            try (NDManager step = m.newSubManager()) {
                single = model.step(step, step.create(b, new Shape(1, 4)), alone).toFloatArray();
            }
            long next = argMax(single);
            try (NDManager step = m.newSubManager()) {
                batched = model.step(step, step.create(new long[] {argMax(Arrays.copyOfRange(batched, 0, 4096)), next},
                        new Shape(2, 1)), batch).toFloatArray();
            }
            try (NDManager step = m.newSubManager()) {
                single = model.step(step, step.create(new long[] {next}, new Shape(1, 1)), alone).toFloatArray();
            }

            assertThat(Fixtures.maxAbsDiff(name + " left-padded batch, second step", Arrays.copyOfRange(batched, 4096, 8192),
                    single)).isLessThan(LOGIT_TOLERANCE);
            assertThat(batch.count(1)).isEqualTo(5);
        }
    }

    static long argMax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static long[] append(long[] a, long v) {
        long[] out = Arrays.copyOf(a, a.length + 1);
        out[a.length] = v;
        return out;
    }

    static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
