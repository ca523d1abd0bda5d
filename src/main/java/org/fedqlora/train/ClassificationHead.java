package org.fedqlora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.fedqlora.UserException;
import org.fedqlora.adapter.Parameter;
import org.fedqlora.engine.HostArrays;
import org.fedqlora.tensor.HostTensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The classification head: {@code logits = pooled·Wᵀ + b}, W (K, C), b (K); trained with LoRA and sent with it in
 * federation. Initialised as HuggingFace does: W ~ N(0, 0.02²), b = 0. Stored transposed: wT (C, K).
 */
public final class ClassificationHead implements AutoCloseable {
    public static final String WEIGHT = "head.weight";
    public static final String BIAS = "head.bias";
    private final NDManager manager;
    private final NDArray wT;   // (C, K)
    private final NDArray bias; // (K)

    private ClassificationHead(NDManager manager, NDArray wT, NDArray bias) {
        this.manager = manager;
        this.wT = wT;
        this.bias = bias;
    }

    public static ClassificationHead init(NDManager parent, int hidden, int classes, long seed) {
        Random rnd = new Random(seed * 31 + 17);
        float[] w = new float[hidden * classes];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        NDManager m = parent.newSubManager();
        return new ClassificationHead(m, HostArrays.create(m, w, new Shape(hidden, classes)), m.zeros(new Shape(classes)));
    }

    /** pooled: (B, C) → logits (B, K). */
    public NDArray forward(NDArray pooled) {
        return pooled.matMul(wT).add(bias);
    }

    public int classes() {
        return (int) bias.getShape().get(0);
    }

    public List<Parameter> parameters() {
        return List.of(new Parameter(WEIGHT, wT, true), new Parameter(BIAS, bias, false));
    }

    /** head.weight (K, C) and head.bias (K). */
    public Map<String, HostTensor> state() {
        Map<String, HostTensor> s = new LinkedHashMap<>();
        try (NDArray w = wT.transpose(1, 0)) {
            s.put(WEIGHT, HostArrays.toHost(w));
        }
        s.put(BIAS, HostArrays.toHost(bias));
        return s;
    }

    public void load(Map<String, HostTensor> state) {
        HostTensor w = state.get(WEIGHT);
        HostTensor b = state.get(BIAS);
        long[] want = {bias.getShape().get(0), wT.getShape().get(0)};
        if (w == null || b == null) {
            throw new UserException("head state lacks head.weight or head.bias");
        }
        if (!Arrays.equals(w.shape(), want) || b.shape().length != 1 || b.shape()[0] != want[0]) {
            throw new UserException("head.weight has shape " + Arrays.toString(w.shape()) + ", this model expects "
                    + Arrays.toString(want) + " (classes, hidden): same labels and base model?");
        }
        try (NDArray src = HostArrays.toNd(manager, w); NDArray t = src.transpose(1, 0)) {
            HostArrays.write(wT, t.toFloatArray());
        }
        HostArrays.write(bias, b.toFloats());
    }

    @Override
    public void close() {
        manager.close();
    }
}
