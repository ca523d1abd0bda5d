package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;

/**
 * The one linear layer of every model: {@code y = x·Wᵀ + b + Σ adapters(x)}, with W a frozen
 * {@link BaseWeight} (full precision or quantized) and adapters (QA adapter, LoRA) added by later stages.
 *
 * <p>{@code name} is the HuggingFace module path relative to the base model
 * ({@code encoder.layer.0.attention.self.query}); {@code role} is the family-independent role
 * ({@code query}, {@code key}, ...), used to pick LoRA targets across BERT and DistilBERT names.
 */
public final class Linear {
    private final String name;
    private final String role;
    private BaseWeight base;
    private final NDArray bias; // (out) or null
    private final List<LinearAdapter> adapters = new ArrayList<>();
    private Compute compute = Compute.FP32;
    private NDArray folded;                                           // W + Σ ΔW of the folded adapters, or null
    private final List<LinearAdapter> foldedAdapters = new ArrayList<>();

    public Linear(String name, String role, BaseWeight base, NDArray bias) {
        this.name = name;
        this.role = role;
        this.base = base;
        this.bias = bias;
    }

    /** x: (..., in) → (..., out). */
    public NDArray forward(NDManager step, NDArray x, boolean training) {
        NDArray y = Gemm.linear(compute, x, folded != null ? Gemm.dense(folded) : base.kernel(step), bias);
        for (LinearAdapter a : adapters) {
            if (!foldedAdapters.contains(a)) {
                y = y.add(a.delta(x, training));
            }
        }
        return y;
    }

    /** The sum of the unfolded adapters' outputs for x (..., in) → (..., out), or null when there is none. */
    public NDArray adapterDelta(NDArray x, boolean training) {
        NDArray d = null;
        for (LinearAdapter a : adapters) {
            if (!foldedAdapters.contains(a)) {
                NDArray da = a.delta(x, training);
                d = d == null ? da : d.add(da);
            }
        }
        return d;
    }

    /**
     * Folds the adapters {@code which} accepts into one dense weight W + Σ ΔW that {@link #forward} then uses in
     * place of the base product and those adapters' own products (one product instead of 1 + 2·k). Only for
     * adapters that do not change until {@link #unfold}: during evaluation, or a frozen QA adapter while LoRA
     * trains. Outputs equal the unfolded ones up to float32 rounding (at {@link Compute#BF16}, up to the bf16
     * rounding of the folded weight instead of the base's). A base kept packed is not folded (the fp32 copy would
     * undo its memory saving). The caller chooses which adapters: a training run leaves out those with dropout
     * ({@link LinearAdapter#stochasticInTraining}).
     *
     * @return whether anything was folded
     */
    public boolean fold(Predicate<LinearAdapter> which, NDManager owner) {
        unfold();
        if (!base.denseResident()) {
            return false;
        }
        List<LinearAdapter> chosen = adapters.stream().filter(which).toList();
        if (chosen.isEmpty()) {
            return false;
        }
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager tmp = owner.newSubManager()) {
            NDArray w = base.weight(tmp).duplicate();                 // lands in the weight's own manager: move it
            w.attach(tmp);
            for (LinearAdapter a : chosen) {
                w.addi(a.weightDelta(tmp));
            }
            w.attach(owner);
            folded = w;
            foldedAdapters.addAll(chosen);
            return true;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** Whether every adapter is folded in (or there is none): the layer is the one frozen product W·x + b. */
    public boolean plain() {
        return foldedAdapters.size() == adapters.size();
    }

    /**
     * The float32 W this layer multiplies by, for a fused call: the folded weight, else the base's resident array,
     * else (a packed base) W dequantized into {@code step} in one native call, freed with the step, as its own
     * kernel would unpack it inside each product.
     */
    NDArray denseWeight(NDManager step) {
        return folded != null ? folded : base.weight(step);
    }

    /** Undoes {@link #fold}: back to the base product plus each adapter's own. */
    public void unfold() {
        if (folded != null) {
            folded.close();
            folded = null;
        }
        foldedAdapters.clear();
    }

    /** Whether {@link #fold} is in effect. */
    public boolean isFolded() {
        return folded != null;
    }

    /** The precision of the base product (adapters always run in float32). */
    public void setCompute(Compute compute) {
        this.compute = compute;
    }

    public Compute compute() {
        return compute;
    }

    public String name() {
        return name;
    }

    public String role() {
        return role;
    }

    public BaseWeight base() {
        return base;
    }

    public NDArray bias() {
        return bias;
    }

    /** Bytes of the frozen part held in memory: the base weight as resident (packed or dense) and the bias. */
    public long residentBytes() {
        return base.residentBytes() + (bias == null ? 0 : 4L * bias.size());
    }

    public int in() {
        return base.in();
    }

    public int out() {
        return base.out();
    }

    public void addAdapter(LinearAdapter a) {
        unfold();
        adapters.add(a);
    }

    public boolean removeAdapter(LinearAdapter a) {
        unfold();
        return adapters.remove(a);
    }

    public List<LinearAdapter> adapters() {
        return Collections.unmodifiableList(adapters);
    }
}
