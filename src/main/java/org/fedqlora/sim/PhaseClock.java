package org.fedqlora.sim;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where a run's wall time goes: local training (including iFedQLoRA's refinement) and evaluation, with the tokens
 * each processed, so that summary.json can report tokens/s per phase and each phase's share of the wall time.
 * Counts the work done by this process (a resumed run reports the rounds run since the resume).
 */
final class PhaseClock {
    private final long start = System.nanoTime();
    private final LongAdder trainTokens = new LongAdder();
    private final DoubleAdder trainSeconds = new DoubleAdder();
    private final LongAdder evalTokens = new LongAdder();
    private final DoubleAdder evalSeconds = new DoubleAdder();

    void trained(long tokens, double seconds) {
        trainTokens.add(tokens);
        trainSeconds.add(seconds);
    }

    void evaluated(long tokens, double seconds) {
        evalTokens.add(tokens);
        evalSeconds.add(seconds);
    }

    /** {"wall_s", "train": {tokens, seconds, tokens_per_s, share}, "eval": {...}, "other_share"}. */
    void write(ObjectNode o) {
        double wall = (System.nanoTime() - start) / 1e9;
        o.put("wall_s", round(wall, 1));
        phase(o.putObject("train"), trainTokens.sum(), trainSeconds.sum(), wall);
        phase(o.putObject("eval"), evalTokens.sum(), evalSeconds.sum(), wall);
        o.put("other_share", round(Math.max(0, 1 - (trainSeconds.sum() + evalSeconds.sum()) / wall), 3));
    }

    private static void phase(ObjectNode p, long tokens, double seconds, double wall) {
        p.put("tokens", tokens);
        p.put("seconds", round(seconds, 2));
        p.put("tokens_per_s", seconds > 0 ? round(tokens / seconds, 1) : 0);
        p.put("share", wall > 0 ? round(seconds / wall, 3) : 0);
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }
}
