package org.fedqlora.sim;

import org.fedqlora.adapter.LoraConfig;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.train.Optimizer;
import org.fedqlora.train.TrainOptions;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What the clients of one method share: the config, the global test set, and a cache of global-test results.
 * Clients whose models are identical (same base, QA adapter frozen at the same init or none, same global
 * LoRA) score identically on the global test set, so it is evaluated once per (round, base) for them.
 */
final class SimContext {
    private final SimConfig config;
    private final Method method;
    private final LoraConfig lora;
    private final int classes;
    private final TaskExamples test;
    private final SimTask task;
    private final Map<String, Object> globalCache = new HashMap<>();
    private final PhaseClock clock = new PhaseClock();

    SimContext(SimConfig config, Method method, int classes, TaskExamples test, SimTask task) {
        this.config = config;
        this.method = method;
        this.lora = new LoraConfig(config.lora().rank(), (float) config.lora().alpha(), (float) config.lora().dropout(),
                config.lora().targets());
        this.classes = classes;
        this.test = test;
        this.task = task;
    }

    SimTask task() {
        return task;
    }

    /** Training and evaluation time and tokens of this method's run (summary.json "throughput"). */
    PhaseClock clock() {
        return clock;
    }

    SimConfig config() {
        return config;
    }

    LoraConfig lora() {
        return lora;
    }

    int classes() {
        return classes;
    }

    TaskExamples test() {
        return test;
    }

    /** Evaluation batch for causal-LM (sequences are long: the local batch size, at least 8). */
    int lmEvalBatch() {
        return Math.max(8, config.local().batchSize());
    }

    int evalBatch() {
        return Math.max(32, config.local().batchSize());
    }

    /** Which shared base model a client runs: its method's format, LoftQ-quantized if its QA method says so. */
    String modelKey(Method m, QuantFormat format) {
        return modelKey(config, m, format);
    }

    static String modelKey(SimConfig c, Method m, QuantFormat format) {
        boolean loftq = m.usesQa() && c.qa().method().equals("loftq") && format != QuantFormat.FP32;
        return format.id() + (loftq ? "+loftq" : "");
    }

    /**
     * Seed of a client's local work in a round. It does not depend on the method, so every method sees the same
     * batches in the same order.
     */
    long seed(int client, int round) {
        return (config.seed() * 1_000_003L + client) * 10_007L + round;
    }

    TrainOptions options(int client, int round, float mu) {
        SimConfig.Local l = config.local();
        return new TrainOptions(l.epochs(), l.steps(), l.batchSize(), Optimizer.Kind.parse(l.optimizer()), (float) l.lr(),
                (float) l.weightDecay(), (float) l.momentum(), (float) l.maxGradNorm(), l.warmupSteps(), false,
                seed(client, round), 0, mu);
    }

    TrainOptions refineOptions(int client, int round) {
        SimConfig.Local l = config.local();
        return new TrainOptions(1, config.ifedqlora().refineSteps(), l.batchSize(), Optimizer.Kind.parse(l.optimizer()),
                (float) config.ifedqlora().refineLr(), 0f, (float) l.momentum(), (float) l.maxGradNorm(), 0, false,
                seed(client, round) ^ 0x5DEECE66DL, 0, 0f);
    }

    /** The client's global-test metrics, shared between interchangeable clients within a round. */
    @SuppressWarnings("unchecked")
    <T> T evaluateGlobal(SimClient client, int round, Supplier<T> compute) {
        if (method.personalQa() || !method.aggregates()) {
            return compute.get();
        }
        String key = round + "/" + client.modelKey();
        return (T) globalCache.computeIfAbsent(key, k -> compute.get());
    }

    void endRound() {
        globalCache.clear();
    }
}
