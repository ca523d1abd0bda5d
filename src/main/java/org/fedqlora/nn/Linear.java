package org.fedqlora.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

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

    public Linear(String name, String role, BaseWeight base, NDArray bias) {
        this.name = name;
        this.role = role;
        this.base = base;
        this.bias = bias;
    }

    /** x: (..., in) → (..., out). */
    public NDArray forward(NDManager step, NDArray x, boolean training) {
        NDArray y = Gemm.linear(compute, x, base.kernel(step), bias);
        for (LinearAdapter a : adapters) {
            y = y.add(a.delta(x, training));
        }
        return y;
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
        adapters.add(a);
    }

    public boolean removeAdapter(LinearAdapter a) {
        return adapters.remove(a);
    }

    public List<LinearAdapter> adapters() {
        return Collections.unmodifiableList(adapters);
    }
}
