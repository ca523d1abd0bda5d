package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench secagg --grpc}: three settings over loopback gRPC, each with its bytes and round times. */
class BenchSecAggGrpcTest {
    @Test
    void grpcBenchReportsPlainDpAndSecureRoundsWithTheirBytes() throws Exception {
        Cli.Result r = Cli.run("bench", "secagg", "--grpc", "--clients", "3", "--elements", "1000", "--rounds", "1",
                "--json");

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode rows = new ObjectMapper().readTree(r.out()).get("results");
        List<String> settings = new ArrayList<>();
        rows.forEach(row -> settings.add(row.get("setting").asText()));
        assertThat(settings).containsExactly("plain", "central-dp", "secagg+central-dp");
        long plainUp = rows.get(0).get("bytes_up_per_round").asLong();
        long secureUp = rows.get(2).get("bytes_up_per_round").asLong();
        // 3 clients × 1000 float32 in the clear; masked: 6 bytes per coordinate at 48 bits, plus keys and shares
        assertThat(plainUp).isGreaterThan(3 * 4000L);
        assertThat(secureUp).isGreaterThan(3 * 6000L);
        rows.forEach(row -> assertThat(row.get("round_ms").asDouble()).isPositive());
    }
}
