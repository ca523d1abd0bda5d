package org.fedqlora.transport.grpc;

import java.time.Duration;
import java.util.SplittableRandom;

/**
 * Reconnection delays: exponential with full jitter and a cap, delay_k = uniform(0, min(cap, base · 2^k)),
 * reset after a success. Jitter keeps many clients of a restarted server from reconnecting in lock step.
 */
public final class Backoff {
    private final long baseMs;
    private final long capMs;
    private final SplittableRandom random;
    private int attempt;

    public Backoff(Duration base, Duration cap, long seed) {
        if (base.isNegative() || base.isZero() || cap.compareTo(base) < 0) {
            throw new IllegalArgumentException("backoff needs 0 < base ≤ cap, got " + base + ", " + cap);
        }
        this.baseMs = base.toMillis();
        this.capMs = cap.toMillis();
        this.random = new SplittableRandom(seed);
    }

    /** The next delay in milliseconds (and counts the attempt). */
    public synchronized long nextDelayMs() {
        long ceiling = attempt >= 30 ? capMs : Math.min(capMs, baseMs << attempt);
        attempt++;
        return Math.max(1, (long) (random.nextDouble() * ceiling));
    }

    /** The ceiling of the next delay, for log lines. */
    public synchronized long ceilingMs() {
        return attempt >= 30 ? capMs : Math.min(capMs, baseMs << attempt);
    }

    public synchronized void reset() {
        attempt = 0;
    }
}
