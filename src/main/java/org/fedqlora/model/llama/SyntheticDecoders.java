package org.fedqlora.model.llama;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.model.ModelException;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsException;
import org.fedqlora.tensor.TensorSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Decoders with random weights in the shape of real ones, for benchmarks ({@code --model synthetic:smollm2-135m}):
 * the config of the real model, a weight source that draws each tensor when it is read (nothing is kept, so memory
 * measurements see only what the model holds), and a one-word tokenizer. Weights are uniform with the
 * standard deviation of HF's initializer_range 0.02; norm gains are 1.
 */
public final class SyntheticDecoders {
    /** The prefix of a synthetic model's --model argument. */
    public static final String PREFIX = "synthetic:";

    /** Shapes by name: hidden, layers, heads, kv heads, intermediate, vocab, context, tied. */
    private record Shape(int hidden, int layers, int heads, int kvHeads, int intermediate, int vocab, int context,
                         boolean tied, double ropeTheta) {
    }

    private static final Map<String, Shape> SHAPES = Map.of(
            // HuggingFaceTB/SmolLM2-135M: LlamaForCausalLM, tied embeddings, rope_theta 100000
            "smollm2-135m", new Shape(576, 30, 9, 3, 1536, 49152, 8192, true, 100000),
            // small enough for tests
            "tiny", new Shape(64, 2, 4, 2, 128, 512, 256, true, 10000));

    private SyntheticDecoders() {
    }

    public static boolean isSynthetic(String arg) {
        return arg.startsWith(PREFIX);
    }

    /** The model folder for {@code synthetic:NAME} (config and tokenizer written to a temporary folder). */
    public static ModelFolder open(String arg) {
        String name = arg.substring(PREFIX.length());
        Shape s = SHAPES.get(name);
        if (s == null) {
            throw new ModelException("unknown synthetic model '" + name + "'; known: "
                    + String.join(", ", new java.util.TreeSet<>(SHAPES.keySet())));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.put("model_type", "llama");
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("hidden_size", s.hidden());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("intermediate_size", s.intermediate());
        c.put("vocab_size", s.vocab());
        c.put("max_position_embeddings", s.context());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", s.ropeTheta());
        c.put("tie_word_embeddings", s.tied());
        c.put("hidden_act", "silu");
        c.put("bos_token_id", 0);
        c.put("eos_token_id", 0);
        c.put("_name_or_path", arg);
        try {
            Path dir = Files.createTempDirectory("fedqlora-synthetic-");
            dir.toFile().deleteOnExit();
            Path cfg = dir.resolve("config.json");
            Files.write(cfg, json.writeValueAsBytes(c));
            Path tok = dir.resolve("tokenizer.json");
            Files.writeString(tok, TOKENIZER);
            cfg.toFile().deleteOnExit();
            tok.toFile().deleteOnExit();
            LlamaConfig lc = LlamaConfig.fromJson(c);
            return new ModelFolder(arg, dir, c, new RandomWeights(arg, lc), tok);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A word-level tokenizer of one word: synthetic models are fed random ids, not text. */
    private static final String TOKENIZER = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
            + "\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
            + "\"post_processor\":null,\"decoder\":null,"
            + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"<unk>\":0,\"word\":1},\"unk_token\":\"<unk>\"}}";

    /** Every tensor of a LlamaForCausalLM checkpoint, drawn from (name, seed) when read. */
    private static final class RandomWeights implements TensorSource {
        private static final double STD = 0.02;
        private final String description;
        private final Map<String, long[]> shapes = new LinkedHashMap<>();

        RandomWeights(String description, LlamaConfig c) {
            this.description = description;
            long C = c.hidden(), q = (long) c.heads() * c.headDim(), kv = (long) c.kvHeads() * c.headDim();
            long F = c.intermediate();
            shapes.put("model.embed_tokens.weight", new long[] {c.vocab(), C});
            for (int l = 0; l < c.layers(); l++) {
                String b = "model.layers." + l + ".";
                shapes.put(b + "input_layernorm.weight", new long[] {C});
                shapes.put(b + "self_attn.q_proj.weight", new long[] {q, C});
                shapes.put(b + "self_attn.k_proj.weight", new long[] {kv, C});
                shapes.put(b + "self_attn.v_proj.weight", new long[] {kv, C});
                shapes.put(b + "self_attn.o_proj.weight", new long[] {C, q});
                shapes.put(b + "post_attention_layernorm.weight", new long[] {C});
                shapes.put(b + "mlp.gate_proj.weight", new long[] {F, C});
                shapes.put(b + "mlp.up_proj.weight", new long[] {F, C});
                shapes.put(b + "mlp.down_proj.weight", new long[] {C, F});
            }
            shapes.put("model.norm.weight", new long[] {C});
            if (!c.tieWordEmbeddings()) {
                shapes.put("lm_head.weight", new long[] {c.vocab(), C});
            }
        }

        @Override
        public Set<String> names() {
            return Collections.unmodifiableSet(shapes.keySet());
        }

        @Override
        public HostTensor get(String name) {
            long[] shape = shapes.get(name);
            if (shape == null) {
                throw new SafetensorsException(description + ": missing tensor '" + name + "'");
            }
            float[] v = new float[(int) HostTensor.numel(shape)];
            if (name.endsWith("norm.weight")) {
                java.util.Arrays.fill(v, 1f);
            } else {
                SplittableRandom r = new SplittableRandom(name.hashCode() * 0x9E3779B97F4A7C15L);
                double a = STD * Math.sqrt(3);             // U(−a, a) has standard deviation STD
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((r.nextDouble() * 2 - 1) * a);
                }
            }
            return HostTensor.ofFloats(v, shape);
        }

        @Override
        public String describe() {
            return description;
        }
    }
}
