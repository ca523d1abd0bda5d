package org.fedqlora.sim.config;

import org.fedqlora.UserException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every numeric config key has a checked range: a negative, NaN or infinite value is refused naming the key. */
class NumericRangesTest {
    /** Keys for which every value of the type is meaningful. */
    private static final List<String> UNBOUNDED = List.of("seed");

    private static List<Settings.Key> numericKeys() {
        List<Settings.Key> keys = new ArrayList<>();
        for (Settings.Key k : Settings.KEYS.values()) {
            if (k.kind() == Settings.Kind.INT || k.kind() == Settings.Kind.LONG || k.kind() == Settings.Kind.DOUBLE) {
                keys.add(k);
            }
        }
        return keys;
    }

    @Test
    void everyNumericKeyRefusesANegativeValueWithItsRange() {
        List<String> accepted = new ArrayList<>();
        for (Settings.Key k : numericKeys()) {
            if (UNBOUNDED.contains(k.name())) {
                continue;
            }
            try {
                ConfigLoader.loadDefaults(List.of(k.name() + "=-7"));
                accepted.add(k.name());
            } catch (UserException e) {
                assertThat(e.getMessage()).as(k.name()).contains(k.name()).contains("-7")
                        .containsAnyOf("at least", "> 0", ">= 0", "[0, 1", "(0, 1]", "but there are only");
            }
        }
        assertThat(accepted).as("numeric keys that accept -7").isEmpty();
    }

    @Test
    void everyFloatingKeyRefusesNanAndInfinity() {
        for (Settings.Key k : numericKeys()) {
            if (k.kind() != Settings.Kind.DOUBLE) {
                continue;
            }
            for (String v : new String[] {".nan", ".inf"}) {
                assertThatThrownBy(() -> ConfigLoader.loadDefaults(List.of(k.name() + "=" + v))).as(k.name() + "=" + v)
                        .isInstanceOf(UserException.class).hasMessageContaining(k.name());
            }
        }
    }

    @Test
    void theNumericKeysAreTheOnesExpected() {
        // a new numeric key needs a range check in its record's constructor: this list makes adding one visible
        assertThat(numericKeys()).extracting(Settings.Key::name).contains("rounds", "clients", "fraction",
                "local.lr", "lora.rank", "data.max_length", "server.tau", "partition.alpha");
    }
}
