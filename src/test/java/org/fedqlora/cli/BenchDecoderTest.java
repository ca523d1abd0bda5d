package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench generate} and {@code bench train} on a synthetic decoder (the shapes of the SmolLM2 run, tiny). */
class BenchDecoderTest {
    @Test
    void benchGenerateReportsSpeedMemoryAndPackedNf2UnderATenthOfFp32() throws IOException {
        GenerateCommandTest.Out r = GenerateCommandTest.run("bench", "generate", "--model", "synthetic:tiny",
                "--format", "nf2", "--residency", "packed", "--prompt-tokens", "5", "--new-tokens", "4", "--warmup", "1", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("new_tokens").asInt()).isEqualTo(4);
        assertThat(j.get("tokens_per_s").asDouble()).isPositive();
        assertThat(j.get("peak_rss_mb").asLong()).isPositive();
        assertThat(j.get("linear_fp32_bytes").asLong()).isEqualTo(4L * 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128));
        assertThat(j.get("linear_base_bytes").asDouble()).isLessThanOrEqualTo(j.get("linear_fp32_bytes").asDouble() / 10);
    }

    @Test
    void benchTrainRunsTheCausalLmObjectiveOnADecoder() throws IOException {
        GenerateCommandTest.Out r = GenerateCommandTest.run("bench", "train", "--model", "synthetic:tiny", "--format", "nf4",
                "--batch", "2", "--seq", "16", "--targets", "all-linear", "--steps", "2", "--warmup", "1", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("objective").asText()).isEqualTo("causal-lm");
        assertThat(j.get("tokens_per_s").asDouble()).isPositive();
        assertThat(j.get("last_loss").asDouble()).isCloseTo(Math.log(512), org.assertj.core.data.Offset.offset(0.5));
    }

    @Test
    void anUnknownSyntheticModelNamesTheKnownOnes() {
        GenerateCommandTest.Out r = GenerateCommandTest.run("bench", "generate", "--model", "synthetic:gpt5");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("error:").contains("smollm2-135m");
    }
}
