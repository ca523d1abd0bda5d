package org.fedqlora.fed;

import java.util.Optional;

/**
 * When a training round with failures still counts: at least {@code minSuccesses} clients answered, and at least
 * {@code minSuccessFraction} of the sampled clients. A round that does not count leaves the global model unchanged.
 *
 * @param minSuccesses       ≥ 1
 * @param minSuccessFraction in [0, 1]; 1 means every sampled client must succeed
 */
public record FailurePolicy(int minSuccesses, double minSuccessFraction) {
    /** Any round with at least one successful client counts. */
    public static final FailurePolicy ANY_SUCCESS = new FailurePolicy(1, 0.0);
    /** A round counts only if every sampled client succeeded. */
    public static final FailurePolicy ALL_SUCCEED = new FailurePolicy(1, 1.0);

    public FailurePolicy {
        if (minSuccesses < 1) {
            throw new IllegalArgumentException("minSuccesses must be at least 1 (an average of no client is "
                    + "undefined), got " + minSuccesses);
        }
        if (!(minSuccessFraction >= 0 && minSuccessFraction <= 1)) {
            throw new IllegalArgumentException("minSuccessFraction must be in [0, 1], e.g. 0.75, got "
                    + minSuccessFraction);
        }
    }

    /** Why a round with {@code succeeded} of {@code sampled} clients does not count, or empty if it counts. */
    public Optional<String> check(int sampled, int succeeded) {
        // the tolerance keeps 0.7 · 10 (= 7.000000000000001 in double) at 7
        int neededByFraction = (int) Math.ceil(minSuccessFraction * sampled - 1e-9);
        if (succeeded >= minSuccesses && succeeded >= neededByFraction) {
            return Optional.empty();
        }
        return Optional.of(succeeded + " of " + sampled + " sampled clients succeeded; the failure policy needs at "
                + "least " + minSuccesses + " and at least " + Math.round(100 * minSuccessFraction) + "% of those "
                + "sampled");
    }
}
