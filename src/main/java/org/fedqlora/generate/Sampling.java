package org.fedqlora.generate;

import org.fedqlora.UserException;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits, as HF's generate does: greedy (the first largest logit) when temperature is 0;
 * otherwise logits / temperature, then top-k (keep the k largest; 0 = all), then top-p (keep the smallest set of most
 * likely tokens whose probability reaches p), renormalise and draw with a seeded RNG, so a seed gives the same text.
 *
 * @param temperature 0 for greedy, else &gt; 0 (lower = more deterministic)
 * @param topP        nucleus mass in (0, 1]; 1 = no cut
 * @param topK        keep this many most likely tokens; 0 = no cut
 * @param seed        seed of the draws
 */
public record Sampling(double temperature, double topP, int topK, long seed) {
    public Sampling {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new UserException("--temperature must be 0 (greedy) or positive, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new UserException("--top-p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new UserException("--top-k must be 0 (no cut) or positive, got " + topK);
        }
    }

    public static Sampling greedy() {
        return new Sampling(0, 1, 0, 0);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    /** A stateful sampler (its own RNG stream from the seed). */
    public Sampler sampler() {
        return new Sampler(this);
    }

    /** Draws tokens one after another. */
    public static final class Sampler {
        private final Sampling s;
        private final SplittableRandom rnd;

        private Sampler(Sampling s) {
            this.s = s;
            this.rnd = new SplittableRandom(s.seed());
        }

        /** The next token for logits (V). */
        public int next(float[] logits) {
            if (s.isGreedy()) {
                return argMax(logits);
            }
            int V = logits.length;
            Integer[] order = new Integer[V];
            for (int i = 0; i < V; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));   // most likely first
            int keep = s.topK() == 0 ? V : Math.min(s.topK(), V);
            double max = logits[order[0]] / s.temperature();
            double[] p = new double[keep];
            double total = 0;
            for (int i = 0; i < keep; i++) {
                p[i] = Math.exp(logits[order[i]] / s.temperature() - max);
                total += p[i];
            }
            int n = keep;
            if (s.topP() < 1) {
                double cum = 0;
                for (int i = 0; i < keep; i++) {
                    cum += p[i] / total;
                    if (cum >= s.topP()) {
                        n = i + 1;
                        break;
                    }
                }
            }
            double kept = 0;
            for (int i = 0; i < n; i++) {
                kept += p[i];
            }
            double u = rnd.nextDouble() * kept;
            for (int i = 0; i < n; i++) {
                u -= p[i];
                if (u < 0) {
                    return order[i];
                }
            }
            return order[n - 1];
        }

        static int argMax(float[] v) {
            int best = 0;
            for (int i = 1; i < v.length; i++) {
                if (v[i] > v[best]) {
                    best = i;
                }
            }
            return best;
        }
    }
}
