package org.fedqlora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.fedqlora.UserException;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * First-order optimizers over DJL parameters, applied after the gradient collector has closed (in-place updates
 * on leaves are not allowed inside one). Gradients are zeroed after each step: DJL accumulates them.
 *
 * <ul>
 *   <li>{@code sgd}: p ← p − lr·(g + wd·p), optional momentum μ: v ← μ·v + g, p ← p − lr·v (the paper's choice).</li>
 *   <li>{@code adamw}: decoupled weight decay (Loshchilov &amp; Hutter): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
 *       p ← p − lr·(m̂ / (√v̂ + ε) + wd·p), with bias-corrected m̂, v̂.</li>
 * </ul>
 */
public final class Optimizer implements AutoCloseable {
    /** Optimizer kinds. */
    public enum Kind { SGD, ADAMW;

        public static Kind parse(String s) {
            for (Kind k : values()) {
                if (k.name().equalsIgnoreCase(s)) {
                    return k;
                }
            }
            throw new UserException("unknown optimizer '" + s + "' (valid: sgd, adamw)");
        }
    }

    /** adamUpdate's clip_grad: a negative value turns its element-wise clamp off. */
    private static final float NO_CLAMP = -1f;
    private final Kind kind;
    private final float weightDecay;
    private final float momentum;
    private final float beta1 = 0.9f;
    private final float beta2 = 0.999f;
    private final float eps = 1e-8f;
    private final NDManager state;
    private final Map<NDArray, NDArray[]> moments = new IdentityHashMap<>();
    private int t;

    public Optimizer(Kind kind, float weightDecay, float momentum, NDManager parent) {
        this.kind = kind;
        this.weightDecay = weightDecay;
        this.momentum = momentum;
        this.state = parent.newSubManager();
    }

    /**
     * Clips the global gradient norm to {@code maxNorm} (if positive), updates every parameter in place and zeroes
     * its gradient. Temporaries land in {@code step}. Returns the gradient norm before clipping.
     */
    public float step(List<NDArray> params, float lr, float maxNorm, NDManager step) {
        t++;
        NDArray[] grads = new NDArray[params.size()];
        double sq = 0;
        for (int i = 0; i < grads.length; i++) {
            grads[i] = params.get(i).getGradient();
            grads[i].attach(step);                         // the handle (not the storage) dies with the step
            sq += grads[i].square().sum().getFloat();
        }
        float norm = (float) Math.sqrt(sq);
        float clip = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6f) : 1f;
        for (int i = 0; i < grads.length; i++) {
            NDArray p = params.get(i);
            switch (kind) {
                case SGD -> sgd(p, clip != 1f ? grads[i].mul(clip) : grads[i], lr, step);
                case ADAMW -> adamw(p, grads[i], lr, clip);
            }
            JniUtils.zeroGrad((PtNDArray) p);
        }
        return norm;
    }

    // Results of ops land in the first operand's manager (DJL-NOTES trap 1): anything computed from a parameter
    // or a moment is moved to the step manager at once, so nothing accumulates in long-lived managers.

    private void sgd(NDArray p, NDArray g, float lr, NDManager step) {
        NDArray update = weightDecay > 0 ? g.add(inStep(p.mul(weightDecay), step)) : g;
        if (momentum > 0) {
            NDArray v = moments.computeIfAbsent(p, k -> new NDArray[] {state.zeros(k.getShape())})[0];
            v.muli(momentum).addi(update);
            update = inStep(v.mul(1f), step);
        }
        p.subi(update.mul(lr));
    }

    /**
     * One fused native update per parameter (DJL's adamUpdate, decoupled decay). It computes
     * p ← p − lr·wd·p, then p ← p − m·lrₜ / (√v + εₜ) with lrₜ = lr·√c2 / c1 and εₜ = ε·√c2, which is the
     * bias-corrected form above rearranged (as torch.optim.AdamW does): m̂ / (√v̂ + ε) = (m/c1)·√c2 / (√v + ε·√c2).
     */
    private void adamw(NDArray p, NDArray g, float lr, float clip) {
        NDArray[] mv = moments.computeIfAbsent(p, k -> new NDArray[] {state.zeros(k.getShape()), state.zeros(k.getShape())});
        double c1 = 1 - Math.pow(beta1, t);
        double sqrtC2 = Math.sqrt(1 - Math.pow(beta2, t));
        JniUtils.adamUpdate((PtNDArray) p, (PtNDArray) g, (PtNDArray) mv[0], (PtNDArray) mv[1], lr,
                (float) (lr * sqrtC2 / c1), weightDecay, clip, NO_CLAMP, beta1, beta2, (float) (eps * sqrtC2), true);
    }

    private static NDArray inStep(NDArray a, NDManager step) {
        a.attach(step);
        return a;
    }

    /** Forgets moments (e.g. when a federated client receives a new global model and restarts). */
    public void reset() {
        moments.values().forEach(a -> {
            for (NDArray x : a) {
                x.close();
            }
        });
        moments.clear();
        t = 0;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s(wd=%s, momentum=%s)", kind.name().toLowerCase(Locale.ROOT), weightDecay, momentum);
    }

    @Override
    public void close() {
        moments.clear();
        state.close();
    }
}
