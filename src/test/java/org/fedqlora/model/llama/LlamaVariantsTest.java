package org.fedqlora.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.engine.Engines;
import org.fedqlora.model.ModelException;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.nn.Compute;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Decoders;
import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Mistral and Llama 3 rope_scaling, checked against references derived independently of the model code. */
class LlamaVariantsTest {
    static final double LOGIT_TOLERANCE = 1e-4;
    /** Rotation of float32 values against a double reference. */
    static final double ROTATION_TOLERANCE = 1e-5;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** llama-tiny's weights under an edited config.json. */
    Path variant(Consumer<ObjectNode> edit) throws IOException {
        Path src = Fixtures.model("llama-tiny");
        ObjectNode cfg = (ObjectNode) JSON.readTree(src.resolve("config.json").toFile());
        edit.accept(cfg);
        Path dir = Files.createDirectories(tmp.resolve("variant"));
        Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(cfg));
        for (String f : new String[] {"model.safetensors", "tokenizer.json"}) {
            Files.copy(src.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    static float[] logits(Path dir, long[] ids, long T) {
        return Decoders.logits(ModelFolder.open(dir, "variant"), ids, T, Compute.FP32);
    }

    /**
     * A Mistral is a Llama (no biases, untied head, GQA) plus a sliding window; with the window longer than the
     * sequence it must give the PyTorch Llama logits exactly as the Llama fixture defines them.
     */
    @Test
    void mistralWithAWindowLongerThanTheSequenceGivesTheLlamaReferenceLogits() throws IOException {
        Path dir = variant(c -> {
            c.put("model_type", "mistral");
            c.put("sliding_window", 64);
            c.putArray("architectures").add("MistralForCausalLM");
        });
        SafetensorsFile ref = Fixtures.expected("llama-tiny");

        float[] actual = logits(dir, ref.get("input_ids").toLongs(), 12);

        assertThat(Fixtures.maxAbsDiff("mistral-shaped logits", actual, ref.get("logits").toFloats()))
                .isLessThan(LOGIT_TOLERANCE);
    }

    @Test
    void mistralRefusesASequenceLongerThanItsSlidingWindow() throws IOException {
        Path dir = variant(c -> {
            c.put("model_type", "mistral");
            c.put("sliding_window", 8);
        });
        long[] ids = Fixtures.expected("llama-tiny").get("input_ids").toLongs();

        assertThatThrownBy(() -> logits(dir, ids, 12)).isInstanceOf(ModelException.class)
                .hasMessageContaining("sliding window of 8").hasMessageContaining("not implemented");
    }

    /** With factor 1 every band of the llama3 formula reduces to the plain frequencies: the PyTorch logits again. */
    @Test
    void llama3ScalingWithFactorOneGivesTheUnscaledReferenceLogits() throws IOException {
        Path dir = variant(c -> c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 1.0)
                .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0).put("original_max_position_embeddings", 64));
        SafetensorsFile ref = Fixtures.expected("llama-tiny");

        float[] actual = logits(dir, ref.get("input_ids").toLongs(), 12);

        assertThat(Fixtures.maxAbsDiff("llama3 rope_scaling factor 1 logits", actual, ref.get("logits").toFloats()))
                .isLessThan(LOGIT_TOLERANCE);
    }

    /**
     * The model's rotary embedding with Llama 3 scaling (D = 8, θ = 10⁴, factor 8, low 1, high 4, L = 64, so the four
     * frequencies fall in all three bands: wavelengths 6.3 (kept), 62.8 (interpolated), 628 and 6283 (divided))
     * against a plain Java rotation. The reference computes inv_freq in double exactly as HF's published
     * {@code _compute_llama3_parameters} writes it (torch.where over the wavelength masks, not the model's if/else),
     * then rotates each pair (x_i, x_{i+D/2}) by the angle position·inv_freq_i with a 2×2 rotation matrix.
     */
    @Test
    void llama3ScaledRotationMatchesAPlainRotationWithHfFormula() throws IOException {
        Path dir = variant(c -> {
            c.put("hidden_size", 32);
            c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0)
                    .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0).put("original_max_position_embeddings", 64);
        });
        LlamaConfig cfg = LlamaConfig.fromJson(ModelFolder.open(dir, "v").config());
        int D = cfg.headDim(), H = 2;
        long[] positions = {0, 1, 7, 50, 255};
        int T = positions.length;
        double[] inv = hfLlama3InvFreq(D, 10000.0, 8.0, 1.0, 4.0, 64);
        float[] x = new float[H * T * D];
        Random rnd = new Random(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        ModelFolder f = ModelFolder.open(dir, "v");
        float[] actual;
        try (NDManager m = Engines.newManager(); LlamaModel model = LlamaModel.load(cfg, f.weights(), BaseWeightFactory.DENSE, m)) {
            NDArray[] cosSin = model.rope(m, m.create(positions, new Shape(1, T)));
            actual = LlamaModel.rotate(m.create(x, new Shape(1, H, T, D)), cosSin).toFloatArray();
        }

        float[] expected = new float[x.length];
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                int base = (h * T + t) * D;
                for (int i = 0; i < D / 2; i++) {
                    double a = positions[t] * inv[i], c = Math.cos(a), s = Math.sin(a);
                    double x1 = x[base + i], x2 = x[base + i + D / 2];
                    expected[base + i] = (float) (x1 * c - x2 * s);
                    expected[base + i + D / 2] = (float) (x2 * c + x1 * s);
                }
            }
        }
        assertThat(inv[0]).isEqualTo(1.0);                                  // high band: kept
        assertThat(inv[3]).isCloseTo(1e-3 / 8, org.assertj.core.data.Offset.offset(1e-12)); // low band: divided
        assertThat(Fixtures.maxAbsDiff("llama3-scaled rotation", actual, expected)).isLessThan(ROTATION_TOLERANCE);
    }

    /** HF transformers {@code _compute_llama3_parameters}, transcribed with its masks. */
    static double[] hfLlama3InvFreq(int dim, double base, double factor, double low, double high, int oldContext) {
        double lowWavelen = oldContext / low;
        double highWavelen = oldContext / high;
        double[] out = new double[dim / 2];
        for (int k = 0; k < dim / 2; k++) {
            double inv = 1.0 / Math.pow(base, (2.0 * k) / dim);
            double wavelen = 2 * Math.PI / inv;
            double invLlama = wavelen > lowWavelen ? inv / factor : inv;
            double smooth = (oldContext / wavelen - low) / (high - low);
            double smoothed = (1 - smooth) * invLlama / factor + smooth * invLlama;
            boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            out[k] = medium ? smoothed : invLlama;
        }
        return out;
    }

    @Test
    void unknownRopeTypeIsRefusedNamingWhatIsSupported() throws IOException {
        Path dir = variant(c -> c.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0));

        assertThatThrownBy(() -> LlamaConfig.fromJson(ModelFolder.open(dir, "v").config()))
                .isInstanceOf(UserException.class).hasMessageContaining("'yarn'").hasMessageContaining("llama3");
    }

    @Test
    void unsupportedArchitectureIsRefusedNamingWhatIsSupported() throws IOException {
        Path dir = variant(c -> c.put("model_type", "gpt2"));

        assertThatThrownBy(() -> ModelFolder.open(dir, "v")).isInstanceOf(ModelException.class)
                .hasMessageContaining("'gpt2'").hasMessageContaining("llama, mistral, qwen2");
    }

    @Test
    void invalidFieldsAreRefusedWithTheirName() throws IOException {
        Path heads = variant(c -> c.put("num_key_value_heads", 3));
        assertThatThrownBy(() -> LlamaConfig.fromJson(ModelFolder.open(heads, "v").config()))
                .hasMessageContaining("num_key_value_heads (3)");
    }

    @Test
    void rmsNormEpsMustBePositive() throws IOException {
        Path eps = variant(c -> c.put("rms_norm_eps", -1.0));
        assertThatThrownBy(() -> LlamaConfig.fromJson(ModelFolder.open(eps, "v").config()))
                .hasMessageContaining("rms_norm_eps must be positive");
    }

    @Test
    void qwen2WindowIsIgnoredUnlessUseSlidingWindow() throws IOException {
        Path dir = variant(c -> {
            c.put("model_type", "qwen2");
            c.put("sliding_window", 4);
            c.put("use_sliding_window", false);
        });
        assertThat(LlamaConfig.fromJson(ModelFolder.open(dir, "v").config()).slidingWindow()).isZero();
    }
}
