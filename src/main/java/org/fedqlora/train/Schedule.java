package org.fedqlora.train;

/**
 * Learning rate at each step: linear warm-up from 0 over {@code warmup} steps, then linear decay to 0 at
 * {@code total} (HuggingFace's get_linear_schedule_with_warmup), or constant when {@code decay} is false.
 */
public record Schedule(float peak, int warmup, int total, boolean decay) {

    /** lr for 0-based step {@code s}. */
    public float at(int s) {
        if (warmup > 0 && s < warmup) {
            return peak * (s + 1) / warmup;
        }
        if (!decay || total <= warmup) {
            return peak;
        }
        return peak * Math.max(0f, (float) (total - s) / (total - warmup));
    }
}
