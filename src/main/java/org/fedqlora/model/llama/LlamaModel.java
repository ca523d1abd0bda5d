package org.fedqlora.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import org.fedqlora.engine.GraphConstants;
import org.fedqlora.engine.HostArrays;
import org.fedqlora.model.Backbone;
import org.fedqlora.model.ModelException;
import org.fedqlora.model.Pooling;
import org.fedqlora.nn.Attention;
import org.fedqlora.nn.BaseWeightFactory;
import org.fedqlora.nn.Gemm;
import org.fedqlora.nn.Linear;
import org.fedqlora.tensor.TensorSource;

import java.util.ArrayList;
import java.util.List;

/**
 * A Llama-family decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), on DJL NDArrays.
 *
 * <pre>
 * Shapes: B = batch, T = new tokens, S = keys (cached + new), C = hidden, H = query heads, KVH = key/value heads,
 *         D = head size, F = intermediate, V = vocabulary.
 * x = embed[ids]                                                     (B, T, C)
 * per block:  x = x + Wo·attention(rope(Wq n), rope(Wk n), Wv n)     n = rmsnorm(x), causal + padding mask
 *             x = x + Wdown·(silu(Wgate n) * Wup n)                  n = rmsnorm(x)
 * hidden = rmsnorm(x)                                                (B, T, C)
 * logits = hidden · lm_headᵀ                                         (B, T, V), lm_head = embed when tied
 * </pre>
 * Positions count real tokens only (cumsum of the mask − 1, as HF's generate does), so a left-padded row gets
 * the same positions, hence the same logits, as the unpadded one. Every op starts from an array created in the
 * caller's step manager (DJL trap 1). Embeddings, norms and lm_head are never quantized (lm_head and attention run at the
 * compute precision, fp32 or bf16); every projection is a
 * {@link Linear} built by the {@link BaseWeightFactory}, so quantization and adapters apply as for BERT.
 */
public final class LlamaModel implements Backbone {
    /** Added to the attention score of a key a query must not see. */
    private static final float MASKED = -1e9f;

    private final LlamaConfig config;
    private final NDManager weights;
    private final NDArray embed;     // (V, C)
    private final NDArray lmHead;    // (V, C), the same array as embed when tied
    private final NDArray finalNorm; // (C)
    private final NDArray invFreq;   // (D/2), RoPE inverse frequencies
    private final List<Block> blocks;
    private org.fedqlora.nn.Compute compute = org.fedqlora.nn.Compute.FP32; // of the linear layers and attention

    /** One decoder block. */
    private record Block(NDArray attnNorm, Linear q, Linear k, Linear v, Linear o,
                         NDArray mlpNorm, Linear gate, Linear up, Linear down) {
    }

    private LlamaModel(LlamaConfig config, NDManager weights, NDArray embed, NDArray lmHead, NDArray finalNorm,
                       NDArray invFreq, List<Block> blocks) {
        this.config = config;
        this.weights = weights;
        this.embed = embed;
        this.lmHead = lmHead;
        this.finalNorm = finalNorm;
        this.invFreq = invFreq;
        this.blocks = blocks;
    }

    /** Builds the decoder from checkpoint tensors, checking each tensor's presence and shape first. */
    public static LlamaModel load(LlamaConfig cfg, TensorSource w, BaseWeightFactory baseWeights, NDManager parent) {
        String p = prefix(w);
        checkShapes(cfg, w, p);
        NDManager m = parent.newSubManager();
        try {
            NDArray embed = HostArrays.toNd(m, w.get(p + "embed_tokens.weight"));
            NDArray head = cfg.tieWordEmbeddings() ? embed : HostArrays.toNd(m, w.get("lm_head.weight"));
            List<Block> blocks = new ArrayList<>();
            for (int l = 0; l < cfg.layers(); l++) {
                String b = p + "layers." + l + ".";
                blocks.add(new Block(HostArrays.toNd(m, w.get(b + "input_layernorm.weight")),
                        linear(m, w, p, cfg, l, "self_attn.q_proj", baseWeights),
                        linear(m, w, p, cfg, l, "self_attn.k_proj", baseWeights),
                        linear(m, w, p, cfg, l, "self_attn.v_proj", baseWeights),
                        linear(m, w, p, cfg, l, "self_attn.o_proj", baseWeights),
                        HostArrays.toNd(m, w.get(b + "post_attention_layernorm.weight")),
                        linear(m, w, p, cfg, l, "mlp.gate_proj", baseWeights),
                        linear(m, w, p, cfg, l, "mlp.up_proj", baseWeights),
                        linear(m, w, p, cfg, l, "mlp.down_proj", baseWeights)));
            }
            NDArray norm = HostArrays.toNd(m, w.get(p + "norm.weight"));
            NDArray inv = HostArrays.create(m, Rope.inverseFrequencies(cfg), new Shape(cfg.headDim() / 2));
            return new LlamaModel(cfg, m, embed, head, norm, inv, blocks);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** "model." for *ForCausalLM checkpoints, "" for a bare LlamaModel. */
    private static String prefix(TensorSource w) {
        for (String p : List.of("model.", "")) {
            if (w.has(p + "embed_tokens.weight")) {
                return p;
            }
        }
        throw new ModelException(w.describe() + ": no 'model.embed_tokens.weight': is this a Llama/Mistral/Qwen2 checkpoint?");
    }

    private static void checkShapes(LlamaConfig c, TensorSource w, String p) {
        w.require(p + "embed_tokens.weight", c.vocab(), c.hidden());
        w.require(p + "norm.weight", c.hidden());
        if (!c.tieWordEmbeddings() && !w.has("lm_head.weight")) {
            throw new ModelException(w.describe() + ": no 'lm_head.weight' and tie_word_embeddings is false; "
                    + "if the model shares its embeddings with the output layer, set tie_word_embeddings to true");
        }
        if (!c.tieWordEmbeddings()) {
            w.require("lm_head.weight", c.vocab(), c.hidden());
        }
        for (int l = 0; l < c.layers(); l++) {
            w.require(p + "layers." + l + ".input_layernorm.weight", c.hidden());
            w.require(p + "layers." + l + ".post_attention_layernorm.weight", c.hidden());
            for (String role : ROLES) {
                if (hasBias(c, role)) {
                    w.require(p + "layers." + l + "." + role + ".bias", dims(c, role)[0]);
                }
            }
        }
    }

    /** Module suffixes of a block's linear layers, HF names (their last component is the LoRA target). */
    private static final List<String> ROLES = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    /**
     * Family-independent roles (what {@link org.fedqlora.adapter.Targets} also matches): q/k/v answer to BERT's
     * query/key/value, so the default targets "query,value" select q_proj and v_proj; the others keep their HF name.
     */
    private static final List<String> ROLE_NAMES = List.of("query", "key", "value", "o_proj", "gate_proj", "up_proj",
            "down_proj");

    /** {out, in} of a projection. */
    private static int[] dims(LlamaConfig c, String role) {
        int C = c.hidden(), q = c.heads() * c.headDim(), kv = c.kvHeads() * c.headDim(), F = c.intermediate();
        return switch (role) {
            case "self_attn.q_proj" -> new int[] {q, C};
            case "self_attn.k_proj", "self_attn.v_proj" -> new int[] {kv, C};
            case "self_attn.o_proj" -> new int[] {C, q};
            case "mlp.gate_proj", "mlp.up_proj" -> new int[] {F, C};
            case "mlp.down_proj" -> new int[] {C, F};
            default -> throw new IllegalArgumentException(role);
        };
    }

    private static boolean hasBias(LlamaConfig c, String role) {
        return switch (role) {
            case "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj" -> c.qkvBias();
            case "self_attn.o_proj" -> c.oBias();
            default -> c.mlpBias();
        };
    }

    private static Linear linear(NDManager m, TensorSource w, String prefix, LlamaConfig c, int layer, String role,
                                 BaseWeightFactory f) {
        String module = "model.layers." + layer + "." + role;          // PEFT path under LlamaForCausalLM
        String tensor = prefix + "layers." + layer + "." + role;
        int[] d = dims(c, role);
        NDArray bias = hasBias(c, role) ? HostArrays.toNd(m, w.get(tensor + ".bias")) : null;
        return new Linear(module, ROLE_NAMES.get(ROLES.indexOf(role)), f.create(module, tensor + ".weight", w, d[0], d[1], m), bias);
    }

    /**
     * @param ids  (B, T) int64 token ids, in {@code step}
     * @param mask (B, T) int64, 1 for real tokens, 0 for padding (left or right)
     * @return the hidden state after the final norm (B, T, C)
     */
    public NDArray hidden(NDManager step, NDArray ids, NDArray mask, boolean training) {
        return run(step, ids, mask, null, training);
    }

    @Override
    public NDArray forward(NDManager step, NDArray ids, NDArray mask, NDArray typeIds, boolean training) {
        return hidden(step, ids, mask, training);
    }

    /** hidden (..., C) → logits (..., V), at the model's compute precision (bf16 rounds them, as autocast does). */
    public NDArray logits(NDManager step, NDArray hidden) {
        return Gemm.linear(compute, hidden, lmHead, null);
    }

    /**
     * One decoding step with a key/value cache: runs the new tokens after those already cached, appends their keys
     * and values, and returns the logits of the last position.
     *
     * @param ids  (B, T) new token ids (T ≥ 1; the whole prompt on the first call)
     * @param mask (B, T) 1 for real tokens (a left-padded prompt has 0s), or null for all real
     * @return logits (B, V) at the last position
     */
    public NDArray step(NDManager step, NDArray ids, NDArray mask, KvCache cache) {
        Shape s = ids.getShape();
        NDArray m = mask != null ? mask : step.ones(s, DataType.INT64);
        NDArray h = run(step, ids, m, cache, false);                       // (B, T, C)
        NDArray last = h.get(new NDIndex(":, {}, :", s.get(1) - 1));       // (B, C)
        return logits(step, last);                                         // (B, V)
    }

    /** {@link #step(NDManager, NDArray, NDArray, KvCache)} with every token real. */
    public NDArray step(NDManager step, NDArray ids, KvCache cache) {
        return step(step, ids, null, cache);
    }

    /** An empty cache for a batch of {@code batch} sequences. */
    public KvCache newCache(int batch) {
        return new KvCache(weights, config.layers(), batch);
    }

    private NDArray run(NDManager step, NDArray ids, NDArray mask, KvCache cache, boolean training) {
        Shape s = ids.getShape();
        long B = s.get(0), T = s.get(1);
        long past = cache == null ? 0 : cache.length();
        config.checkLength(past + T);
        NDArray keyMask = cache == null ? mask : cache.keyMask(step, mask);           // (B, S)
        NDArray offset = cache == null ? null : cache.counts(step);                   // (B, 1)
        NDArray[] cosSin = rope(step, positions(mask, offset));                       // 2 × (B, 1, T, D)
        NDArray bias = attentionBias(step, keyMask, T, past);                         // (B, 1, T, S) or null
        NDArray x = embed.get(step, new NDIndex("{}", ids));                         // (B, T, C)
        for (int l = 0; l < blocks.size(); l++) {
            x = block(step, blocks.get(l), x, cosSin, bias, cache == null ? null : cache.layer(l), training);
        }
        if (cache != null) {
            cache.advance(mask);
        }
        return rmsNorm(x, finalNorm);
    }

    private NDArray block(NDManager step, Block b, NDArray x, NDArray[] cosSin, NDArray bias, KvCache.Layer cache,
                          boolean training) {
        x = x.add(attention(step, b, rmsNorm(x, b.attnNorm()), cosSin, bias, cache, training));  // (B, T, C)
        NDArray n = rmsNorm(x, b.mlpNorm());
        NDArray g = b.gate().forward(step, n, training);                                 // (B, T, F)
        NDArray h = g.mul(Activation.sigmoid(g)).mul(b.up().forward(step, n, training)); // silu(g) * up
        return x.add(b.down().forward(step, h, training));                               // (B, T, C)
    }

    private NDArray attention(NDManager step, Block b, NDArray x, NDArray[] cosSin, NDArray bias, KvCache.Layer cache,
                              boolean training) {
        Shape s = x.getShape();
        long B = s.get(0), T = s.get(1);
        int H = config.heads(), KVH = config.kvHeads(), D = config.headDim();
        NDArray q = rotate(heads(b.q().forward(step, x, training), B, T, H, D), cosSin);   // (B, H, T, D)
        NDArray k = rotate(heads(b.k().forward(step, x, training), B, T, KVH, D), cosSin); // (B, KVH, T, D)
        NDArray v = heads(b.v().forward(step, x, training), B, T, KVH, D);                // (B, KVH, T, D)
        if (cache != null) {
            k = cache.appendKeys(step, k);                                                // (B, KVH, S, D)
            v = cache.appendValues(step, v);
        }
        k = repeatKv(k);                                                                  // (B, H, S, D)
        v = repeatKv(v);
        NDArray scale = GraphConstants.scalar(step, 1f / (float) Math.sqrt(D));            // see GraphConstants
        NDArray ctx = Attention.attend(compute, q.mul(scale), k, v, bias)                 // softmax(q·kᵀ + mask)·v
                .transpose(0, 2, 1, 3).reshape(B, T, (long) H * D);                         // (B, T, H·D)
        return b.o().forward(step, ctx, training);                                        // (B, T, C)
    }

    /** (B, T, heads·D) → (B, heads, T, D). */
    private static NDArray heads(NDArray y, long B, long T, int heads, int D) {
        return y.reshape(B, T, heads, D).transpose(0, 2, 1, 3);
    }

    /** HF's repeat_kv: key/value head j serves query heads j·G .. j·G+G−1 ([h0,h0,h1,h1], repeat_interleave). */
    private NDArray repeatKv(NDArray kv) {
        int g = config.groups();
        return g == 1 ? kv : kv.repeat(1, g);
    }

    /** RMSNorm: x / sqrt(mean(x²) + eps) · g (divide, not pow(-0.5): no Number inside the graph). */
    private NDArray rmsNorm(NDArray x, NDArray g) {
        return x.div(x.square().mean(new int[] {-1}, true).add(config.rmsNormEps()).sqrt()).mul(g);
    }

    /** Position of each token: real tokens before it in its row (plus those cached), as HF's generate counts. */
    private static NDArray positions(NDArray mask, NDArray offset) {
        NDArray pos = mask.cumSum(1).sub(1L);                                  // (B, T)
        if (offset != null) {
            pos = pos.add(offset);
        }
        return pos.maximum(0L);                                                // padding before the first token
    }

    /**
     * cos and the signed sin of position · inverse frequency, each (B, 1, T, D), the half repeated (rotate-half
     * layout); the sin's first half is negated, so that {@link #rotate} needs no negation.
     */
    NDArray[] rope(NDManager step, NDArray pos) {
        NDArray angles = pos.toType(DataType.FLOAT32, false).expandDims(-1).mul(invFreq);   // (B, T, D/2)
        NDArray emb = angles.concat(angles, -1).expandDims(1);                               // (B, 1, T, D)
        long half = angles.getShape().get(2);
        NDArray sign = step.full(new Shape(half), -1f).concat(step.ones(new Shape(half)));   // (D): −1…, +1…
        return new NDArray[] {emb.cos(), emb.sin().mul(sign)};
    }

    /**
     * x·cos + rotate_half(x)·sin, rotate_half(x) = (−x₂, x₁) with x₁, x₂ the two halves of the last axis, computed
     * as swap_halves(x)·sin' with sin' = (−sin₁, sin₂) from {@link #rope}: (−a)·b = a·(−b) exactly, so the values
     * are HF's; the swap is a flip of a (…, 2, D/2) view, whose gradient is a flip too (slices and a concat would
     * cost zero-filled gradients of the whole array).
     */
    static NDArray rotate(NDArray x, NDArray[] cosSin) {
        Shape s = x.getShape();
        long half = s.get(3) / 2;
        NDArray swapped = x.reshape(s.get(0), s.get(1), s.get(2), 2, half).flip(3).reshape(s);
        return x.mul(cosSin[0]).add(swapped.mul(cosSin[1]));
    }

    /**
     * Additive mask: query t (at cache position past + t) sees key j iff j ≤ past + t and key j is real; 0 where it
     * may, −1e9 where not ((T, S), or (B, 1, T, S) with padding). Null when nothing is masked (one new token, no
     * padding). A padding query sees no key and gets a uniform row, never NaN; its output is unused.
     */
    private static NDArray attentionBias(NDManager step, NDArray keyMask, long T, long past) {
        long B = keyMask.getShape().get(0), S = keyMask.getShape().get(1);
        boolean padded = keyMask.min().getLong() == 0;
        if (!padded && T == 1) {
            return null;
        }
        NDArray i = step.arange(past, past + T, 1, DataType.INT64).reshape(T, 1);
        NDArray j = step.arange(0, S, 1, DataType.INT64).reshape(1, S);
        NDArray keep = j.lte(i).toType(DataType.FLOAT32, false);                            // (T, S)
        if (padded) {
            keep = keep.mul(keyMask.toType(DataType.FLOAT32, false).reshape(B, 1, 1, S));   // (B, 1, T, S)
        }
        return keep.sub(1f).mul(-MASKED);
    }

    @Override
    public LlamaConfig config() {
        return config;
    }

    @Override
    public Pooling defaultPooling() {
        return Pooling.LAST;
    }

    @Override
    public void setCompute(org.fedqlora.nn.Compute c) {
        this.compute = c;
        linears().forEach(l -> l.setCompute(c));
    }

    @Override
    public org.fedqlora.nn.Compute compute() {
        return compute;
    }

    /** Every projection of every block, in checkpoint order (q, k, v, o, gate, up, down). */
    @Override
    public List<Linear> linears() {
        List<Linear> all = new ArrayList<>();
        for (Block b : blocks) {
            all.addAll(List.of(b.q(), b.k(), b.v(), b.o(), b.gate(), b.up(), b.down()));
        }
        return all;
    }

    @Override
    public long baseWeightBytes() {
        long total = linears().stream().mapToLong(Linear::residentBytes).sum();
        total += 4L * embed.size() + (lmHead == embed ? 0 : 4L * lmHead.size());
        total += 4L * config.hidden() * (1 + 2L * config.layers());
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
