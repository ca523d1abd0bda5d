package org.fedqlora.fed;

/** Called by the {@link Server} after every round, e.g. to log, write a checkpoint or stop a progress bar. */
@FunctionalInterface
public interface RoundListener {
    /** Does nothing. */
    RoundListener NONE = report -> {
    };

    void onRound(RoundReport report);
}
