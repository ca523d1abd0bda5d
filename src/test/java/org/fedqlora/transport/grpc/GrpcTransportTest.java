package org.fedqlora.transport.grpc;

import org.fedqlora.fed.Aggregation;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.PhaseResult;
import org.fedqlora.fed.RunningMean;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** Fit and evaluate over a real gRPC server on loopback: chunking, streaming aggregation, compression, bytes. */
class GrpcTransportTest {
    @Test
    void fitFoldsEveryUpdateIntoTheWeightedMean() {
        try (Loopback lb = new Loopback(Loopback.fast())) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("c0", 10, Loopback.plus(1)),
                    Loopback.client("c1", 30, Loopback.plus(-1))));
            lb.awaitClients(2);
            Map<String, FitIns> ins = new TreeMap<>();
            FitIns one = new FitIns(1, Loopback.global(), Map.of("lr", "0.1"));
            ins.put("c0", one);
            ins.put("c1", one);
            RunningMean sum = new RunningMean();

            PhaseResult<FitRes> r = lb.server.fit(ins, sum);

            assertThat(r.failures()).isEmpty();
            assertThat(r.results()).extracting(FitRes::clientId).containsExactly("c0", "c1");
            assertThat(r.results().get(0).parameters()).isEmpty();
            assertThat(r.bytesDown()).isPositive();
            assertThat(r.bytesUp()).isPositive();
            // (10 · (x + 1) + 30 · (x − 1)) / 40 = x − 0.5
            float[] mean = sum.mean().get("a.lora_A.weight").toFloats();
            assertThat(mean).containsExactly(0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f);
            var reference = Aggregation.weightedMean(List.of(
                    new FitRes("c0", Map.of("a.lora_A.weight", HostTensor.ofFloats(new float[] {2, 3, 4, 5, 6, 7}, 2, 3)), 10, Map.of()),
                    new FitRes("c1", Map.of("a.lora_A.weight", HostTensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5}, 2, 3)), 30, Map.of())));
            assertThat(mean).containsExactly(reference.get("a.lora_A.weight").toFloats());
        }
    }

    @Test
    void a64MiBUpdateStreamsInOneMiBChunks() {
        int n = 16 << 20; // 16 Mi floats = 64 MiB
        float[] big = new float[n];
        for (int i = 0; i < n; i++) {
            big[i] = (i % 1000) * 1e-3f;
        }
        Map<String, HostTensor> global = Map.of("big.lora_B.weight", HostTensor.ofFloats(big, 4096, 4096));
        try (Loopback lb = new Loopback(Loopback.fast().withRoundTimeout(Duration.ofSeconds(120)))) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("c0", 5, Loopback.plus(2))));
            lb.awaitClients(1);
            RunningMean sum = new RunningMean();

            PhaseResult<FitRes> r = lb.server.fit(Map.of("c0", new FitIns(1, global, Map.of())), sum);

            assertThat(r.failures()).isEmpty();
            assertThat(r.bytesUp()).isGreaterThan(64L << 20);
            float[] got = sum.mean().get("big.lora_B.weight").toFloats();
            assertThat(got[0]).isEqualTo(2f);
            assertThat(got[n - 1]).isEqualTo(big[n - 1] + 2f);
        }
    }

    @Test
    void deflateIsLosslessAndInt8IsWithinHalfAStep() {
        for (Compression c : Compression.values()) {
            try (Loopback lb = new Loopback(Loopback.fast().withCompression(c))) {
                lb.start(Tls.insecureClient(), List.of(Loopback.client("c0", 5, Loopback.plus(0.25f))));
                lb.awaitClients(1);
                RunningMean sum = new RunningMean();

                PhaseResult<FitRes> r = lb.server.fit(Map.of("c0", new FitIns(1, Loopback.global(), Map.of())), sum);

                assertThat(r.failures()).isEmpty();
                float[] got = sum.mean().get("a.lora_A.weight").toFloats();
                float[] want = {1.25f, 2.25f, 3.25f, 4.25f, 5.25f, 6.25f};
                float step = c == Compression.INT8 ? 6.25f / 127 / 2 + 1e-6f : 0f;
                for (int i = 0; i < want.length; i++) {
                    assertThat(Math.abs(got[i] - want[i])).as(c + " element " + i).isLessThanOrEqualTo(step);
                }
            }
        }
    }

    @Test
    void evaluateCollectsMetrics() {
        try (Loopback lb = new Loopback(Loopback.fast())) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("c0", 7, Loopback.plus(0))));
            lb.awaitClients(1);

            var r = lb.server.evaluate(Map.of("c0", new org.fedqlora.fed.EvaluateIns(1, Loopback.global(), Map.of())));

            assertThat(r.failures()).isEmpty();
            assertThat(r.results().get(0).metrics()).containsEntry("accuracy", 0.75);
            assertThat(r.results().get(0).numExamples()).isEqualTo(7);
        }
    }
}
