package org.fedqlora.transport.grpc;

import org.fedqlora.fed.PhaseResult;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A protocol built on the transport (e.g. secure aggregation) runs its own named phases with tensor payloads. */
class ExtensionPhaseTest {
    @Test
    void namedPhaseCarriesTensorsBothWaysThroughTheCallersAcceptor() {
        try (Loopback lb = new Loopback(Loopback.fast())) {
            ClientAdapter c = new ClientAdapter("c0", Loopback.caps(Loopback.HASH, 1), t -> {
                throw new AssertionError("no fit or evaluate in this test");
            }, Map.of("secagg.share_keys", task -> new FederationNode.Answer(0, Map.of("round", (double) task.round()),
                    Map.of("pk", HostTensor.ofFloats(new float[] {task.tensors().get("seed").toFloats()[0] * 2}, 1)))));
            lb.start(Tls.insecureClient(), List.of(c, Loopback.client("c1", 1, Loopback.plus(0))));
            lb.awaitClients(2);
            GrpcTransport.Outgoing ask = new GrpcTransport.Outgoing(4, "secagg.share_keys", Map.of("k", "v"),
                    Map.of("seed", HostTensor.ofFloats(new float[] {21}, 1)));

            PhaseResult<GrpcTransport.Incoming> r = lb.server.exchange("secagg.share_keys",
                    Map.of("c0", ask, "c1", ask), (asked, answer) -> answer);

            assertThat(r.results()).singleElement().satisfies(in -> {
                assertThat(in.clientId()).isEqualTo("c0");
                assertThat(in.tensors().get("pk").toFloats()).containsExactly(42f);
                assertThat(in.metrics()).containsEntry("round", 4.0);
            });
            // a client that does not know the phase answers with a failure, not silence
            assertThat(r.failures()).singleElement().satisfies(f -> {
                assertThat(f.clientId()).isEqualTo("c1");
                assertThat(f.reason()).contains("does not know phase 'secagg.share_keys'");
            });
        }
    }
}
