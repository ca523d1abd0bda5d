package org.fedqlora.fed.strategy;

import org.fedqlora.fed.Parameters;
import org.fedqlora.tensor.HostTensor;

import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * How the server turns the clients' weighted mean x̄_t into the next global x_{t+1}, with the pseudo-gradient
 * Δ_t = x̄_t − x_t (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2), element-wise per tensor:
 * <pre>
 * fedavg    x_{t+1} = x̄_t                                     (= x_t + Δ_t)
 * fedavgm   m_t = β m_{t−1} + Δ_t
 *           x_{t+1} = x_t + η m_t                              (Hsu et al. 2019; β = 0, η = 1 is fedavg)
 * fedadam   m_t = β1 m_{t−1} + (1 − β1) Δ_t
 *           v_t = β2 v_{t−1} + (1 − β2) Δ_t²
 *           x_{t+1} = x_t + η m_t / (√v_t + τ)                 (no bias correction, as in the paper)
 * </pre>
 * m and v start at 0 for each tensor the first time it is aggregated. Only tensors the clients sent are updated;
 * the others (e.g. LoRA A frozen by FFA-LoRA) keep their global value, and so does their state. Each element is
 * computed in double and stored as float32. Optimizers are stateful: one instance per run.
 *
 * <p>Text form ({@link #parse}): {@code fedavg}, {@code fedavgm:lr=1,momentum=0.9},
 * {@code fedadam:lr=0.01,beta1=0.9,beta2=0.99,tau=0.001}; omitted options take the defaults of the factories.
 */
public abstract class ServerOptimizer {
    /** Options of {@code fedavgm} when not given: η = 1, β = 0.9. */
    public static final double DEFAULT_MOMENTUM_LR = 1.0;
    public static final double DEFAULT_MOMENTUM = 0.9;
    /** Options of {@code fedadam} when not given: η = 0.01, β1 = 0.9, β2 = 0.99, τ = 1e-3 (Reddi et al.). */
    public static final double DEFAULT_ADAM_LR = 0.01;
    public static final double DEFAULT_BETA1 = 0.9;
    public static final double DEFAULT_BETA2 = 0.99;
    public static final double DEFAULT_TAU = 1e-3;

    private final SortedMap<String, float[]> first = new TreeMap<>();
    private final SortedMap<String, float[]> second = new TreeMap<>();

    ServerOptimizer() {
    }

    /** fedavg: the new global is the mean. */
    public static ServerOptimizer average() {
        return new Average();
    }

    /** fedavgm with server learning rate η and momentum β. */
    public static ServerOptimizer momentum(double lr, double beta) {
        return new Momentum(positive("lr", lr), fraction("momentum", beta));
    }

    /** fedadam with server learning rate η, decay rates β1, β2 and adaptivity τ. */
    public static ServerOptimizer adam(double lr, double beta1, double beta2, double tau) {
        return new Adam(positive("lr", lr), fraction("beta1", beta1), fraction("beta2", beta2), positive("tau", tau));
    }

    /** Parses the text form (see the class comment). */
    public static ServerOptimizer parse(String text) {
        String[] parts = text.trim().split(":", 2);
        Map<String, Double> options = options(text, parts.length == 2 ? parts[1] : "");
        String name = parts[0].toLowerCase(Locale.ROOT);
        ServerOptimizer optimizer = switch (name) {
            case "fedavg" -> average();
            case "fedavgm" -> momentum(option(options, "lr", DEFAULT_MOMENTUM_LR),
                    option(options, "momentum", DEFAULT_MOMENTUM));
            case "fedadam" -> adam(option(options, "lr", DEFAULT_ADAM_LR), option(options, "beta1", DEFAULT_BETA1),
                    option(options, "beta2", DEFAULT_BETA2), option(options, "tau", DEFAULT_TAU));
            default -> throw new IllegalArgumentException("unknown server optimizer '" + parts[0]
                    + "': expected fedavg, fedavgm or fedadam, e.g. 'fedadam:lr=0.01,tau=0.001'");
        };
        if (!options.isEmpty()) {
            throw new IllegalArgumentException("server optimizer '" + text + "': unknown option(s) "
                    + options.keySet() + " for " + name);
        }
        return optimizer;
    }

    /**
     * The next global parameters: every tensor of {@code mean} is updated from its global value (it must exist in
     * {@code global} with the same shape), the others are kept.
     */
    public SortedMap<String, HostTensor> step(Map<String, HostTensor> global, Map<String, HostTensor> mean) {
        SortedMap<String, HostTensor> next = new TreeMap<>(global);
        for (Map.Entry<String, HostTensor> e : mean.entrySet()) {
            String name = e.getKey();
            HostTensor current = global.get(name);
            if (current == null) {
                throw new IllegalArgumentException("clients sent tensor '" + name + "' that the global parameters "
                        + "lack; the strategy's initial parameters must hold every tensor clients send (global has "
                        + global.keySet() + ")");
            }
            Parameters.requireSameShape(name, current, "the global parameters", e.getValue(), "the client mean");
            float[] x = Parameters.floats(name, current, "the global parameters");
            float[] xBar = Parameters.floats(name, e.getValue(), "the client mean");
            next.put(name, HostTensor.ofFloats(update(name, x, xBar), current.shape()));
        }
        return next;
    }

    /** The moments as named tensors ("m/name", "v/name"), for checkpoints. */
    public SortedMap<String, HostTensor> state() {
        SortedMap<String, HostTensor> state = new TreeMap<>();
        first.forEach((name, m) -> state.put("m/" + name, HostTensor.ofFloats(m.clone(), m.length)));
        second.forEach((name, v) -> state.put("v/" + name, HostTensor.ofFloats(v.clone(), v.length)));
        return state;
    }

    /** Restores what {@link #state()} returned. */
    public void restoreState(Map<String, HostTensor> state) {
        first.clear();
        second.clear();
        state.forEach((key, tensor) -> {
            float[] values = Parameters.floats(key, tensor, "the server optimizer state");
            if (key.startsWith("m/")) {
                first.put(key.substring(2), values);
            } else if (key.startsWith("v/")) {
                second.put(key.substring(2), values);
            } else {
                throw new IllegalArgumentException("server optimizer state key '" + key + "' must start with "
                        + "'m/' or 'v/'; was the checkpoint written by another version?");
            }
        });
    }

    /** The new values of one tensor from its global values x and client mean x̄ (same length). */
    abstract float[] update(String name, float[] x, float[] xBar);

    /** The state vector of a tensor, zero the first time. */
    float[] moment(SortedMap<String, float[]> moments, String name, int length) {
        float[] m = moments.computeIfAbsent(name, k -> new float[length]);
        if (m.length != length) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + length + " elements but the server "
                    + "optimizer state has " + m.length + "; was the state restored from another model?");
        }
        return m;
    }

    float[] firstMoment(String name, int length) {
        return moment(first, name, length);
    }

    float[] secondMoment(String name, int length) {
        return moment(second, name, length);
    }

    private static Map<String, Double> options(String text, String list) {
        Map<String, Double> options = new TreeMap<>();
        if (list.isBlank()) {
            return options;
        }
        for (String item : list.split(",")) {
            String[] kv = item.split("=", 2);
            try {
                options.put(kv[0].trim().toLowerCase(Locale.ROOT), Double.parseDouble(kv[1].trim()));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("server optimizer '" + text + "': option '" + item
                        + "' is not name=number, e.g. lr=0.01");
            }
        }
        return options;
    }

    private static double option(Map<String, Double> options, String name, double fallback) {
        Double value = options.remove(name);
        return value == null ? fallback : value;
    }

    private static double positive(String name, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("server optimizer " + name + " must be a positive number, got "
                    + value);
        }
        return value;
    }

    private static double fraction(String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException("server optimizer " + name + " must be in [0, 1), got " + value);
        }
        return value;
    }

    /** x_{t+1} = x̄_t. */
    private static final class Average extends ServerOptimizer {
        @Override
        float[] update(String name, float[] x, float[] xBar) {
            return xBar.clone();
        }
    }

    /** m ← β m + Δ; x ← x + η m. */
    private static final class Momentum extends ServerOptimizer {
        private final double lr;
        private final double beta;

        Momentum(double lr, double beta) {
            this.lr = lr;
            this.beta = beta;
        }

        @Override
        float[] update(String name, float[] x, float[] xBar) {
            float[] m = firstMoment(name, x.length);
            float[] out = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                double delta = (double) xBar[i] - x[i];
                m[i] = (float) (beta * m[i] + delta);
                out[i] = (float) (x[i] + lr * m[i]);
            }
            return out;
        }
    }

    /** m ← β1 m + (1 − β1) Δ; v ← β2 v + (1 − β2) Δ²; x ← x + η m / (√v + τ). */
    private static final class Adam extends ServerOptimizer {
        private final double lr;
        private final double beta1;
        private final double beta2;
        private final double tau;

        Adam(double lr, double beta1, double beta2, double tau) {
            this.lr = lr;
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.tau = tau;
        }

        @Override
        float[] update(String name, float[] x, float[] xBar) {
            float[] m = firstMoment(name, x.length);
            float[] v = secondMoment(name, x.length);
            float[] out = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                double delta = (double) xBar[i] - x[i];
                m[i] = (float) (beta1 * m[i] + (1 - beta1) * delta);
                v[i] = (float) (beta2 * v[i] + (1 - beta2) * delta * delta);
                out[i] = (float) (x[i] + lr * m[i] / (Math.sqrt(v[i]) + tau));
            }
            return out;
        }
    }
}
