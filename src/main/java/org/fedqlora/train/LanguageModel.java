package org.fedqlora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.adapter.AdapterSet;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.engine.GraphConstants;
import org.fedqlora.engine.NativeHeap;
import org.fedqlora.model.TextEncoder;
import org.fedqlora.model.llama.LlamaModel;
import org.fedqlora.tokenize.ChatEncoder;

import java.util.ArrayList;
import java.util.List;

/**
 * A causal language model being instruction-tuned: a frozen (possibly quantized) decoder with adapters (QA +
 * LoRA) on its Linear layers; no head. The loss is the mean cross-entropy of the next token over the response
 * tokens only:
 * <pre>
 * h = decoder(ids, mask)                       (B, T, C)
 * keep = {(b, t) : labels[b, t+1] != -100}     N positions
 * logits = lm_head(h[keep])                    (N, V)   only where a target is predicted
 * loss = mean over keep of −log softmax(logits)[labels[b, t+1]]
 * </pre>
 * This equals HF's shifted loss ({@code CausalLm.loss} over all (B, T, V) logits) but computes the vocabulary
 * projection only at the N target positions, which for instruction data is a fraction of B·T.
 */
public final class LanguageModel {
    private final TextEncoder encoder;
    private final AdapterSet adapters;

    public LanguageModel(TextEncoder encoder, AdapterSet adapters) {
        this.encoder = encoder;
        this.adapters = adapters;
    }

    public TextEncoder encoder() {
        return encoder;
    }

    public LlamaModel decoder() {
        return encoder.decoder();
    }

    public AdapterSet adapters() {
        return adapters;
    }

    /** Summed negative log-likelihood (0-d) and the number of target tokens (N) of a batch. */
    public record Nll(NDArray sum, long count) {
    }

    /** The summed NLL of a batch's targets; everything lands in {@code step}. */
    public Nll nll(NDManager step, InstructionExamples.Batch b, boolean training) {
        int B = b.batch();
        int T = b.length();
        // positions whose next label is a target: row-major (b, t) over t < T - 1
        List<Long> keep = new ArrayList<>();
        List<Long> next = new ArrayList<>();
        for (int r = 0; r < B; r++) {
            for (int t = 0; t + 1 < T; t++) {
                long label = b.labels()[r * T + t + 1];
                if (label != ChatEncoder.IGNORE) {
                    keep.add((long) r * T + t);
                    next.add(label);
                }
            }
        }
        if (keep.isEmpty()) {
            throw new IllegalArgumentException("a batch without target tokens");
        }
        Shape s = new Shape(B, T);
        NDArray ids = step.create(b.ids(), s);
        NDArray mask = step.create(b.mask(), s);
        LlamaModel d = decoder();
        NDArray h = d.hidden(step, ids, mask, training);                               // (B, T, C)
        NDArray flat = h.reshape(-1, h.getShape().get(2));                            // (B·T, C)
        NDArray at = flat.get(new NDIndex("{}", step.create(keep.stream().mapToLong(Long::longValue).toArray())));
        NDArray logits = d.logits(step, at);                                           // (N, V)
        NDArray target = step.create(next.stream().mapToLong(Long::longValue).toArray()).expandDims(1); // (N, 1)
        NDArray nll = logits.logSoftmax(-1).gather(target, 1).neg();                  // (N, 1)
        return new Nll(nll.sum(), keep.size());
    }

    /** Mean NLL over the targets of a batch (the training loss). */
    public NDArray loss(NDManager step, InstructionExamples.Batch b, boolean training) {
        Nll n = nll(step, b, training);
        return n.sum().div(GraphConstants.scalar(step, n.count()));
    }

    /** The arrays a local step updates: LoRA's A (unless {@code freezeA}) and B, and the QA factors if {@code withQa}. */
    public List<NDArray> trainable(boolean freezeA, boolean withQa) {
        List<NDArray> out = new ArrayList<>();
        for (Parameter p : adapters.loraParameters()) {
            if (!(freezeA && p.name().endsWith(".lora_A.weight"))) {
                out.add(p.array());
            }
        }
        if (withQa) {
            adapters.qaParameters().forEach(p -> out.add(p.array()));
        }
        return out;
    }

    /** The training objective over {@code data}. */
    public Trainer.Objective objective(InstructionExamples data) {
        NDManager root = encoder.manager();
        return new Trainer.Objective() {
            @Override
            public int size() {
                return data.size();
            }

            @Override
            public NDManager manager() {
                return root;
            }

            @Override
            public NDArray loss(NDManager step, int[] idx) {
                return LanguageModel.this.loss(step, data.batch(idx), true);
            }

            @Override
            public AdapterSet adapters() {
                return adapters;
            }

            @Override
            public long tokens(int[] idx) {
                long n = 0;                     // the real tokens of the batch, without padding it a second time
                for (int i : idx) {
                    n += data.length(i);
                }
                return n;
            }
        };
    }

    /** Loss and perplexity over the response tokens of {@code data}, without gradients. */
    public static LmMetrics evaluate(LanguageModel lm, InstructionExamples data, int batchSize) {
        int n = data.size();
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, java.util.Comparator.comparingInt(data::length));   // little padding
        double sum = 0;
        long count = 0;
        AdapterSet adapters = lm.adapters();                 // unchanged while evaluating: fold them (Linear#fold)
        boolean folded = adapters != null && !adapters.isFolded() && adapters.fold(a -> true);
        try {
            for (int start = 0; start < n; start += batchSize) {
                int[] idx = new int[Math.min(batchSize, n - start)];
                for (int i = 0; i < idx.length; i++) {
                    idx[i] = order[start + i];
                }
                try (NDManager step = lm.encoder().manager().newSubManager()) {
                    Nll nll = lm.nll(step, data.batch(idx), false);
                    sum += nll.sum().toType(DataType.FLOAT64, false).getDouble();
                    count += nll.count();
                }
            }
        } finally {
            if (folded) {
                adapters.unfold();
            }
        }
        NativeHeap.trim();                                   // the batches' freed tensors back to the OS
        return LmMetrics.of(sum, count, n);
    }
}
