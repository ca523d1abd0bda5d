package org.fedqlora.model.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.engine.GraphConstants;
import org.fedqlora.engine.HostArrays;
import org.fedqlora.model.Backbone;
import org.fedqlora.model.ModelException;
import org.fedqlora.model.Pooling;
import org.fedqlora.nn.Attention;
import org.fedqlora.nn.AttentionBlock;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.nn.Compute;
import org.fedqlora.nn.FeedForward;
import org.fedqlora.nn.LayerNorm;
import org.fedqlora.nn.Linear;
import org.fedqlora.tensor.TensorSource;

import java.util.ArrayList;
import java.util.List;

/**
 * A post-LayerNorm BERT encoder (BertModel / DistilBertModel without pooler), on DJL NDArrays.
 *
 * <pre>
 * Shapes: B = batch, T = sequence, C = hidden, H = heads, D = C/H (head size), F = intermediate.
 * x = LN(word[ids] + pos[0..T) + type[typeIds])                     (B, T, C)
 * per block:  a = LN(x + Wo·attention(Wq x, Wk x, Wv x, mask))         (B, T, C)
 *             x = LN(a + W2·gelu(W1 a))                                (B, T, C)
 * </pre>
 * Every op starts from an array created in the caller's step manager, so all intermediates are freed when
 * that manager closes (DJL trap 1: results land in the first operand's manager). Weights are frozen here;
 * trainable parts are adapters attached to the {@link Linear} layers.
 */
public final class BertEncoder implements Backbone {
    private final BertConfig config;
    private final BertNames names;
    private final NDManager weights;
    private final NDArray wordEmb;      // (V, C)
    private final NDArray posEmb;       // (P, C)
    private final NDArray typeEmb;      // (2, C) or null (DistilBERT)
    private final LayerNorm embNorm;
    private final List<Block> blocks;
    private Compute compute = Compute.FP32;

    /** One transformer block. */
    private record Block(Linear query, Linear key, Linear value, Linear attnOut, LayerNorm attnNorm,
                         Linear inter, Linear out, LayerNorm outNorm) {
    }

    private BertEncoder(BertConfig config, BertNames names, NDManager weights, NDArray wordEmb, NDArray posEmb,
                        NDArray typeEmb, LayerNorm embNorm, List<Block> blocks) {
        this.config = config;
        this.names = names;
        this.weights = weights;
        this.wordEmb = wordEmb;
        this.posEmb = posEmb;
        this.typeEmb = typeEmb;
        this.embNorm = embNorm;
        this.blocks = blocks;
    }

    /**
     * Builds the encoder from checkpoint tensors; every tensor is checked for presence and shape first, so a
     * broken checkpoint fails with the tensor's name before anything is allocated.
     */
    public static BertEncoder load(BertConfig cfg, TensorSource w, BaseWeightFactory baseWeights, NDManager parent) {
        BertNames n = BertNames.detect(cfg.modelType(), w);
        checkShapes(cfg, n, w);
        NDManager m = parent.newSubManager();
        try {
            NDArray word = HostArrays.toNd(m, w.get(n.tensor("embeddings.word_embeddings", "weight")));
            NDArray pos = HostArrays.toNd(m, w.get(n.tensor("embeddings.position_embeddings", "weight")));
            NDArray type = cfg.typeVocab() > 0
                    ? HostArrays.toNd(m, w.get(n.tensor("embeddings.token_type_embeddings", "weight"))) : null;
            LayerNorm embNorm = norm(m, w, n, "embeddings.LayerNorm", cfg);
            List<Block> blocks = new ArrayList<>();
            for (int l = 0; l < cfg.layers(); l++) {
                blocks.add(new Block(
                        linear(m, w, n, cfg, l, "query", baseWeights), linear(m, w, n, cfg, l, "key", baseWeights),
                        linear(m, w, n, cfg, l, "value", baseWeights),
                        linear(m, w, n, cfg, l, "attention.output.dense", baseWeights),
                        norm(m, w, n, n.attentionNorm(l), cfg),
                        linear(m, w, n, cfg, l, "intermediate.dense", baseWeights),
                        linear(m, w, n, cfg, l, "output.dense", baseWeights),
                        norm(m, w, n, n.outputNorm(l), cfg)));
            }
            return new BertEncoder(cfg, n, m, word, pos, type, embNorm, blocks);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    private static void checkShapes(BertConfig c, BertNames n, TensorSource w) {
        long C = c.hidden();
        w.require(n.tensor("embeddings.word_embeddings", "weight"), c.vocab(), C);
        w.require(n.tensor("embeddings.position_embeddings", "weight"), c.maxPositions(), C);
        if (c.typeVocab() > 0) {
            w.require(n.tensor("embeddings.token_type_embeddings", "weight"), c.typeVocab(), C);
        }
        for (String ln : List.of("embeddings.LayerNorm")) {
            w.require(n.tensor(ln, "weight"), C);
            w.require(n.tensor(ln, "bias"), C);
        }
        for (int l = 0; l < c.layers(); l++) {
            for (String role : BertNames.LINEAR_ROLES) {
                long out = role.equals("intermediate.dense") ? c.intermediate() : C;
                long in = role.equals("output.dense") ? c.intermediate() : C;
                // the weight itself is checked by the BaseWeightFactory (it may be stored quantized)
                w.require(n.tensor(n.linear(l, role), "bias"), out);
            }
            for (String ln : List.of(n.attentionNorm(l), n.outputNorm(l))) {
                w.require(n.tensor(ln, "weight"), C);
                w.require(n.tensor(ln, "bias"), C);
            }
        }
    }

    private static Linear linear(NDManager m, TensorSource w, BertNames n, BertConfig c, int layer, String role,
                                 BaseWeightFactory f) {
        String module = n.linear(layer, role);
        int out = role.equals("intermediate.dense") ? c.intermediate() : c.hidden();
        int in = role.equals("output.dense") ? c.intermediate() : c.hidden();
        NDArray bias = HostArrays.toNd(m, w.get(n.tensor(module, "bias")));
        return new Linear(module, role, f.create(module, n.tensor(module, "weight"), w, out, in, m), bias);
    }

    private static LayerNorm norm(NDManager m, TensorSource w, BertNames n, String module, BertConfig c) {
        return new LayerNorm(HostArrays.toNd(m, w.get(n.tensor(module, "weight"))),
                HostArrays.toNd(m, w.get(n.tensor(module, "bias"))), c.layerNormEps());
    }

    /**
     * @param ids     (B, T) int64 token ids, created in {@code step}
     * @param mask    (B, T) int64, 1 for real tokens, 0 for padding
     * @param typeIds (B, T) int64 token types, or null for all zeros
     * @return last hidden state (B, T, C)
     */
    @Override
    public NDArray forward(NDManager step, NDArray ids, NDArray mask, NDArray typeIds, boolean training) {
        NDArray x = embed(step, ids, typeIds);                            // (B, T, C)
        NDArray bias = maskBias(mask);
        for (Block b : blocks) {
            x = block(step, b, x, bias, training);
        }
        return x;
    }

    /**
     * The additive attention mask (B, 1, 1, T), broadcast over heads and queries: 0 for real keys, -1e9 for
     * padding; null when no key is padding (adding zeros would change nothing).
     */
    private static NDArray maskBias(NDArray mask) {
        if (mask.min().getLong() != 0) {
            return null;
        }
        Shape s = mask.getShape();
        return mask.toType(DataType.FLOAT32, false).sub(1f).mul(1e9f).reshape(s.get(0), 1, 1, s.get(1));
    }

    private NDArray embed(NDManager step, NDArray ids, NDArray typeIds) {
        long T = ids.getShape().get(1);
        if (T > config.maxPositions()) {
            throw new ModelException("sequence of " + T + " tokens exceeds the model's " + config.maxPositions()
                    + " positions; truncate to at most that");
        }
        NDArray x = wordEmb.get(step, new NDIndex("{}", ids));          // (B, T, C)
        NDArray pos = step.arange(0, (int) T, 1, DataType.INT64);          // (T)
        x = x.add(posEmb.get(step, new NDIndex("{}", pos)));             // (B, T, C) + (T, C)
        if (typeEmb != null) {
            NDArray types = typeIds != null ? typeIds : step.zeros(ids.getShape(), DataType.INT64);
            x = x.add(typeEmb.get(step, new NDIndex("{}", types)));
        }
        return embNorm.apply(x);
    }

    private NDArray block(NDManager step, Block b, NDArray x, NDArray maskBias, boolean training) {
        NDArray a = attention(step, b, x, maskBias, training);           // (B, T, C)
        x = b.attnNorm().apply(x.add(a));
        NDArray f = FeedForward.gelu(step, b.inter(), b.out(), x, training); // W2·gelu(W1 x), exact erf GELU
        return b.outNorm().apply(x.add(f));
    }

    private NDArray attention(NDManager step, Block b, NDArray x, NDArray maskBias, boolean training) {
        Shape s = x.getShape();
        long B = s.get(0), T = s.get(1);
        int H = config.heads(), D = config.headDim();
        NDArray scale = GraphConstants.scalar(step, 1f / (float) Math.sqrt(D));   // not mul(float): see GraphConstants
        NDArray fused = AttentionBlock.bf16(step, b.query(), b.key(), b.value(), b.attnOut(), x, scale, maskBias, H,
                training);
        if (fused != null) {
            return fused;
        }
        NDArray q = heads(b.query().forward(step, x, training).mul(scale), B, T, H, D);
        NDArray k = heads(b.key().forward(step, x, training), B, T, H, D);
        NDArray v = heads(b.value().forward(step, x, training), B, T, H, D);  // (B, H, T, D)
        NDArray ctx = Attention.attend(compute, q, k, v, maskBias)              // softmax(q·kᵀ + mask)·v
                .transpose(0, 2, 1, 3).reshape(B, T, (long) H * D);            // (B, T, C)
        return b.attnOut().forward(step, ctx, training);
    }

    /** (B, T, C) → (B, H, T, D). */
    private static NDArray heads(NDArray y, long B, long T, int H, int D) {
        return y.reshape(B, T, H, D).transpose(0, 2, 1, 3);
    }

    /** Runs the base products (linear layers, attention) at {@code c}'s precision from now on. */
    public void setCompute(Compute c) {
        this.compute = c;
        linears().forEach(l -> l.setCompute(c));
    }

    public Compute compute() {
        return compute;
    }

    @Override
    public BertConfig config() {
        return config;
    }

    @Override
    public Pooling defaultPooling() {
        return Pooling.MEAN;
    }

    public BertNames names() {
        return names;
    }

    /** Every linear layer of every block, in checkpoint order (the places adapters and quantization go). */
    @Override
    public List<Linear> linears() {
        List<Linear> all = new ArrayList<>();
        for (Block b : blocks) {
            all.addAll(List.of(b.query(), b.key(), b.value(), b.attnOut(), b.inter(), b.out()));
        }
        return all;
    }

    /** Bytes held by frozen weights: embeddings, norms, biases, and each linear's base as resident. */
    @Override
    public long baseWeightBytes() {
        long total = linears().stream().mapToLong(Linear::residentBytes).sum();
        total += 4L * (wordEmb.size() + posEmb.size() + (typeEmb == null ? 0 : typeEmb.size()));
        total += 8L * config.hidden() * (1 + 2L * config.layers());
        return total;
    }

    @Override
    public void close() {
        for (Linear l : linears()) {
            l.base().close();
        }
        weights.close();
    }
}
