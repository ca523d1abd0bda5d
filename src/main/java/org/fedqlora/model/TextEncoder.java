package org.fedqlora.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.engine.Engines;
import org.fedqlora.model.bert.BertConfig;
import org.fedqlora.model.bert.BertEncoder;
import org.fedqlora.model.llama.LlamaConfig;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.nn.Compute;
import org.fedqlora.tokenize.TextTokenizer;
import org.fedqlora.tokenize.TokenBatch;

import java.util.List;

/**
 * A loaded model body ({@link Backbone}: BERT-family encoder or Llama-family decoder) with its tokenizer: text in,
 * hidden states or sentence embeddings out.
 */
public final class TextEncoder implements AutoCloseable {
    private final ModelFolder folder;
    private final Backbone encoder;
    private final TextTokenizer tokenizer;
    private final NDManager manager;

    private TextEncoder(ModelFolder folder, Backbone encoder, TextTokenizer tokenizer, NDManager manager) {
        this.folder = folder;
        this.encoder = encoder;
        this.tokenizer = tokenizer;
        this.manager = manager;
    }

    public static TextEncoder load(ModelFolder folder, BaseWeightFactory baseWeights, int maxLength) {
        String file = folder.dir().resolve("config.json").toString();
        ModelConfig cfg = folder.isDecoder() ? LlamaConfig.fromJson(folder.config())
                : BertConfig.fromJson(folder.config(), file);
        int max = maxLength <= 0 ? cfg.maxPositions() : Math.min(maxLength, cfg.maxPositions());
        NDManager m = Engines.newManager();
        try {
            Backbone enc = cfg instanceof LlamaConfig lc ? LlamaModel.load(lc, folder.weights(), baseWeights, m)
                    : BertEncoder.load((BertConfig) cfg, folder.weights(), baseWeights, m);
            return new TextEncoder(folder, enc, TextTokenizer.open(folder.tokenizer(), max, cfg.padTokenId()), m);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    public static TextEncoder load(ModelFolder folder) {
        return load(folder, BaseWeightFactory.DENSE, 0);
    }

    /** The precision of the frozen products (see {@link Compute}); FP32 until set. */
    public void setCompute(Compute c) {
        encoder.setCompute(c);
    }

    public Compute compute() {
        return encoder.compute();
    }

    public ModelFolder folder() {
        return folder;
    }

    public Backbone encoder() {
        return encoder;
    }

    /** The decoder, for generation and causal-LM training; a clear error for an encoder-only model. */
    public LlamaModel decoder() {
        if (encoder instanceof LlamaModel d) {
            return d;
        }
        throw new ModelException(folder.name() + " is a " + folder.modelType() + " encoder; this needs a decoder "
                + "(model_type " + String.join(", ", LlamaConfig.SUPPORTED_TYPES) + ")");
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public NDManager manager() {
        return manager;
    }

    /** Creates the batch's (B, T) ids, mask and type ids in {@code step}. */
    public static NDArray[] toArrays(NDManager step, TokenBatch b) {
        Shape s = new Shape(b.batch(), b.length());
        return new NDArray[] {step.create(b.ids(), s), step.create(b.mask(), s), step.create(b.typeIds(), s)};
    }

    /** Last hidden state (B, T, C) of a batch, in {@code step}. */
    public NDArray hidden(NDManager step, TokenBatch b, boolean training) {
        NDArray[] a = toArrays(step, b);
        return encoder.forward(step, a[0], a[1], a[2], training);
    }

    /** Sentence embeddings: mean over unmasked tokens, then L2-normalised; one float[C] per text. */
    public float[][] embed(List<String> texts) {
        try (NDManager step = manager.newSubManager()) {
            TokenBatch b = tokenizer.encode(texts);
            NDArray[] a = toArrays(step, b);
            NDArray h = encoder.forward(step, a[0], a[1], a[2], false);
            NDArray e = Pooling.MEAN.pool(h, a[1]);
            e = e.div(e.norm(new int[] {1}, true).maximum(1e-12f));
            float[] flat = e.toFloatArray();
            int C = encoder.config().hidden();
            float[][] out = new float[texts.size()][C];
            for (int i = 0; i < out.length; i++) {
                System.arraycopy(flat, i * C, out[i], 0, C);
            }
            return out;
        }
    }

    @Override
    public void close() {
        tokenizer.close();
        encoder.close();
        manager.close();
    }
}
