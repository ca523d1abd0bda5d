package org.fedqlora.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The progress line's rate: units per second, or seconds per unit for slow units. */
class ProgressTest {
    @Test
    void fastUnitsShowARate() {
        assertThat(Progress.speed(3.21, "step")).isEqualTo("3.2 step/s");
        assertThat(Progress.speed(0.05, "round")).isEqualTo("0.1 round/s");
    }

    @Test
    void unitsSlowerThanOnePer20sShowSecondsPerUnit() {
        assertThat(Progress.speed(1 / 45.0, "round")).isEqualTo("45 s/round");
        assertThat(Progress.speed(1 / 300.0, "round")).isEqualTo("300 s/round");
    }
}
