package org.fedqlora.sim.config;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import org.fedqlora.quant.QuantFormat;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.fedqlora.quant.QuantFormat.INT8;
import static org.fedqlora.quant.QuantFormat.NF2;
import static org.fedqlora.quant.QuantFormat.NF3;
import static org.fedqlora.quant.QuantFormat.NF4;

class FormatSpecTest {

    @Test
    void halfAndHalfInterleavesTheFormats() {
        FormatSpec spec = FormatSpec.parse("nf2:0.5,nf4:0.5");

        assertThat(spec.resolve(4)).containsExactly(NF2, NF4, NF2, NF4);
        assertThat(spec.resolve(5)).containsExactly(NF2, NF4, NF2, NF4, NF2);
    }

    @Test
    void unevenSharesGetExactCountsAndInterleaveWhileEachHasClientsLeft() {
        FormatSpec spec = FormatSpec.parse("nf2:0.25,nf4:0.75");

        assertThat(spec.resolve(8)).containsExactly(NF2, NF4, NF2, NF4, NF4, NF4, NF4, NF4);
    }

    @Test
    void leftOverClientsGoToTheLargestRemainders() {
        // 10 clients at 0.45 / 0.35 / 0.2: exact 4.5, 3.5, 2 → floors 4, 3, 2; one left over, tie 0.5 / 0.5 goes to
        // the format listed first.
        FormatSpec.Mix mix = (FormatSpec.Mix) FormatSpec.parse("nf2:0.45,nf3:0.35,int8:0.2");

        assertThat(mix.counts(10)).containsExactly(5, 3, 2);
        assertThat(mix.resolve(10)).containsExactly(NF2, NF3, INT8, NF2, NF3, INT8, NF2, NF3, NF2, NF2);
        assertThat(((FormatSpec.Mix) FormatSpec.parse("nf2:0.3,nf4:0.7")).counts(3)).containsExactly(1, 2);
    }

    @Test
    void thirdsThatSumToNearlyOneAreAccepted() {
        FormatSpec spec = FormatSpec.parse("nf2:0.333,nf3:0.333,nf4:0.333");

        assertThat(spec.resolve(3)).containsExactly(NF2, NF3, NF4);
        assertThat(spec.resolve(6)).containsExactly(NF2, NF3, NF4, NF2, NF3, NF4);
    }

    @Test
    void aSingleNameMeansEveryClient() {
        FormatSpec spec = FormatSpec.parse("nf4");

        assertThat(spec).isEqualTo(FormatSpec.parse("nf4:1.0"));
        assertThat(spec.resolve(3)).containsExactly(NF4, NF4, NF4);
        assertThat(spec.toPlain()).isEqualTo("nf4:1.0");
    }

    @Test
    void anExplicitListIsTakenAsWritten() {
        FormatSpec spec = FormatSpec.parse(List.of("nf4", "nf4", "int8"));

        assertThat(spec.resolve(3)).containsExactly(NF4, NF4, INT8);
        assertThat(spec.toPlain()).isEqualTo(List.of("nf4", "nf4", "int8"));
    }

    @Property
    void countsAreExactAndWithinOneOfTheIdealShare(@ForAll @IntRange(min = 1, max = 200) int clients,
                                                   @ForAll @DoubleRange(min = 0.01, max = 0.99) double p) {
        FormatSpec.Mix mix = new FormatSpec.Mix(List.of(new FormatSpec.Share(NF2, p),
                new FormatSpec.Share(NF4, 1 - p)));

        int[] counts = mix.counts(clients);
        List<QuantFormat> formats = mix.resolve(clients);

        assertThat(Arrays.stream(counts).sum()).isEqualTo(clients);
        assertThat(Math.abs(counts[0] - p * clients)).isLessThan(1.0);
        assertThat(formats).hasSize(clients);
        assertThat(Collections.frequency(formats, NF2)).isEqualTo(counts[0]);
        assertThat(formats.get(0)).isEqualTo(counts[0] > 0 ? NF2 : NF4);
    }
}
