package org.fedqlora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.model.Pooling;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.model.Backbone;
import org.fedqlora.tokenize.TokenBatch;

import java.util.ArrayList;
import java.util.List;

/**
 * A text classifier: frozen (possibly quantized) backbone (encoder or decoder), adapters (QA + LoRA), pooling and a linear head.
 * <pre>
 * h = encoder(ids, mask)        (B, T, C)   with adapters attached to its Linear layers
 * p = pool(h, mask)             (B, C)
 * logits = head(p)              (B, K)
 * </pre>
 */
public final class TextClassifier {
    private final TextEncoder encoder;
    private final AdapterSet adapters;
    private final ClassificationHead head;
    private final Pooling pooling;

    public TextClassifier(TextEncoder encoder, AdapterSet adapters, ClassificationHead head, Pooling pooling) {
        this.encoder = encoder;
        this.adapters = adapters;
        this.head = head;
        this.pooling = pooling;
    }

    /** Logits (B, K) of a batch; all intermediates land in {@code step}. */
    public NDArray logits(NDManager step, TokenBatch b, boolean training) {
        NDArray[] a = TextEncoder.toArrays(step, b);
        Backbone enc = encoder.encoder();
        NDArray h = enc.forward(step, a[0], a[1], a[2], training);        // (B, T, C)
        return head.forward(pooling.pool(h, a[1]));                         // (B, K)
    }

    /**
     * The arrays a local training step updates: LoRA's A (unless {@code freezeA}, FFA-LoRA) and B, the head, and
     * the QA factors if {@code withQa}.
     */
    public List<NDArray> trainable(boolean freezeA, boolean withQa) {
        List<NDArray> out = new ArrayList<>();
        for (Parameter p : adapters.loraParameters()) {
            if (!(freezeA && p.name().endsWith(".lora_A.weight"))) {
                out.add(p.array());
            }
        }
        head.parameters().forEach(p -> out.add(p.array()));
        if (withQa) {
            adapters.qaParameters().forEach(p -> out.add(p.array()));
        }
        return out;
    }

    /** Mean cross-entropy of logits (B, K) against labels (B). */
    public static NDArray crossEntropy(NDArray logits, NDArray labels) {
        return logits.logSoftmax(-1).gather(labels.expandDims(1), 1).neg().mean();
    }

    public TextEncoder encoder() {
        return encoder;
    }

    public AdapterSet adapters() {
        return adapters;
    }

    public ClassificationHead head() {
        return head;
    }

    public Pooling pooling() {
        return pooling;
    }
}
