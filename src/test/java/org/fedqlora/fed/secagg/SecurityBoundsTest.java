package org.fedqlora.fed.secagg;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SecurityBoundsTest {
    @Test
    void hypergeometricTailMatchesAHandCount() {
        // 2 draws from 5 with 2 marked: P[both marked] = C(2,2)/C(5,2) = 1/10; P[≥ 1] = 1 − C(3,2)/C(5,2) = 7/10
        assertThat(SecurityBounds.upperTail(5, 2, 2, 2)).isCloseTo(0.1, within(1e-12));
        assertThat(SecurityBounds.upperTail(5, 2, 2, 1)).isCloseTo(0.7, within(1e-12));
        assertThat(SecurityBounds.upperTail(40, 7, 9, 0)).isCloseTo(1.0, within(1e-12));
        assertThat(Math.exp(SecurityBounds.logChoose(50, 14))).isCloseTo(937845656300.0, within(1.0));
    }

    @Test
    void moreNeighboursGiveSmallerBounds() {
        SecurityBounds.Bounds k14 = SecurityBounds.of(1000, 14, 8, 0.05, 0.05);
        SecurityBounds.Bounds k30 = SecurityBounds.of(1000, 30, 16, 0.05, 0.05);
        assertThat(k30.security()).isLessThan(k14.security());
        assertThat(k30.abort()).isLessThan(k14.abort());
    }
}
