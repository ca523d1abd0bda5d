package org.fedqlora.model.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of the tokens a decoder has already seen, per layer, so each decoding step runs only the new
 * tokens. Keys are stored after RoPE, (B, KVH, S, D); the key mask (B, S) and each row's count of real tokens (its
 * next position) are kept in Java. Arrays live in the cache's own manager and are lent to each step's manager
 * ({@code tempAttach}), so what a step derives from them is freed with the step: use a fresh step manager per call.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final Layer[] layers;
    private final int batch;
    private long[] mask = new long[0]; // (B, S) row-major
    private final long[] counts;       // (B) real tokens so far
    private long length;               // S

    KvCache(NDManager parent, int layers, int batch) {
        this.manager = parent.newSubManager();
        this.layers = new Layer[layers];
        for (int i = 0; i < layers; i++) {
            this.layers[i] = new Layer();
        }
        this.batch = batch;
        this.counts = new long[batch];
    }

    /** Cached positions S (the same for every row; padding included). */
    public long length() {
        return length;
    }

    /** Real tokens cached in row {@code b}. */
    public long count(int b) {
        return counts[b];
    }

    Layer layer(int i) {
        return layers[i];
    }

    /** The key mask after appending {@code newMask} (B, T): (B, S + T), in {@code step}. */
    NDArray keyMask(NDManager step, NDArray newMask) {
        long T = newMask.getShape().get(1);
        checkBatch(newMask);
        return step.create(merged(newMask.toLongArray(), T), new Shape(batch, length + T));
    }

    /** Real tokens before the new ones, (B, 1), in {@code step}. */
    NDArray counts(NDManager step) {
        return step.create(counts.clone(), new Shape(batch, 1));
    }

    /** Records the new tokens once every layer has appended its keys and values. */
    void advance(NDArray newMask) {
        long T = newMask.getShape().get(1);
        long[] m = newMask.toLongArray();
        mask = merged(m, T);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < T; t++) {
                counts[b] += m[(int) (b * T + t)];
            }
        }
        length += T;
    }

    private long[] merged(long[] m, long T) {
        long S = length + T;
        long[] out = new long[(int) (batch * S)];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(mask, (int) (b * length), out, (int) (b * S), (int) length);
            System.arraycopy(m, (int) (b * T), out, (int) (b * S + length), (int) T);
        }
        return out;
    }

    private void checkBatch(NDArray newMask) {
        if (newMask.getShape().get(0) != batch) {
            throw new IllegalArgumentException("cache holds " + batch + " sequences, step got " + newMask.getShape().get(0));
        }
    }

    /** One layer's keys and values. */
    final class Layer {
        private NDArray keys;   // (B, KVH, S, D)
        private NDArray values; // (B, KVH, S, D)

        NDArray appendKeys(NDManager step, NDArray k) {
            keys = append(step, keys, k);
            return keys;
        }

        NDArray appendValues(NDManager step, NDArray v) {
            values = append(step, values, v);
            return values;
        }

        private NDArray append(NDManager step, NDArray old, NDArray add) {
            NDArray merged = old == null ? add.duplicate() : old.concat(add, 2);   // (B, KVH, S + T, D)
            merged.attach(manager);
            if (old != null) {
                old.close();
            }
            merged.tempAttach(step);   // back to the cache when the step closes
            return merged;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
