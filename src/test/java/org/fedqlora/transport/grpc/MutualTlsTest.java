package org.fedqlora.transport.grpc;

import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import org.fedqlora.transport.grpc.proto.FederationGrpc;
import org.fedqlora.transport.grpc.proto.JoinReply;
import org.fedqlora.transport.grpc.proto.JoinRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Mutual TLS: only certificates of the federation CA get through the handshake; identity is the certificate. */
class MutualTlsTest {
    @TempDir
    static Path dir;

    private static Loopback server(Path pki) {
        return new Loopback(Loopback.fast(), Tls.serverCredentials(pki.resolve("server.crt"), pki.resolve("server.key"),
                pki.resolve("ca.crt")), true);
    }

    private static JoinReply join(Loopback lb, io.grpc.ChannelCredentials creds, String id) throws InterruptedException {
        ManagedChannel ch = Grpc.newChannelBuilder(lb.target(), creds).build();
        try {
            return FederationGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).join(JoinRequest
                    .newBuilder().setProtocolVersion(Protocol.VERSION).setClientId(id)
                    .setCapabilities(Loopback.caps(Loopback.HASH, 1)).build());
        } finally {
            ch.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        }
    }

    private static Path pki(String name) {
        Path p = dir.resolve(name);
        if (!Files.exists(p)) {
            Certificates.writeFederation(p, 2, List.of(), Duration.ofDays(1));
        }
        return p;
    }

    @Test
    void certsWritesKeysWithMode0600() throws Exception {
        Path p = pki("a");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p.resolve("client-0.key"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p.resolve("ca.key"))))
                .isEqualTo("rw-------");
        assertThat(Tls.commonName(p.resolve("client-1.crt"))).isEqualTo("client-1");
    }

    @Test
    void clientWithTheFederationsCertificateJoinsUnderItsCommonName() throws Exception {
        Path p = pki("a");
        try (Loopback lb = server(p)) {
            JoinReply r = join(lb, Tls.clientCredentials(p.resolve("ca.crt"), p.resolve("client-0.crt"),
                    p.resolve("client-0.key")), "client-0");

            assertThat(r.getAccepted()).as(r.getReason()).isTrue();
            assertThat(r.getClientId()).isEqualTo("client-0");
        }
    }

    @Test
    void clientClaimingAnotherIdThanItsCertificateIsRefused() throws Exception {
        Path p = pki("a");
        try (Loopback lb = server(p)) {
            JoinReply r = join(lb, Tls.clientCredentials(p.resolve("ca.crt"), p.resolve("client-0.crt"),
                    p.resolve("client-0.key")), "client-1");

            assertThat(r.getAccepted()).isFalse();
            assertThat(r.getReason()).contains("does not belong to certificate 'client-0'");
        }
    }

    @Test
    void clientWithoutCertificateIsRefusedInTheHandshake() throws Exception {
        Path p = pki("a");
        try (Loopback lb = server(p)) {
            var noCert = TlsChannelCredentials.newBuilder().trustManager(p.resolve("ca.crt").toFile()).build();

            assertThatThrownBy(() -> join(lb, noCert, "client-0")).isInstanceOf(StatusRuntimeException.class)
                    .hasMessageContaining("UNAVAILABLE");
            assertThat(lb.server.capabilities()).isEmpty();
        }
    }

    @Test
    void certificateFromAnotherCaIsRefusedInTheHandshake() throws Exception {
        Path p = pki("a");
        Path other = pki("b");
        try (Loopback lb = server(p)) {
            var foreign = Tls.clientCredentials(p.resolve("ca.crt"), other.resolve("client-0.crt"),
                    other.resolve("client-0.key"));

            assertThatThrownBy(() -> join(lb, foreign, "client-0")).isInstanceOf(StatusRuntimeException.class)
                    .hasMessageContaining("UNAVAILABLE");
            assertThat(lb.server.capabilities()).isEmpty();
        }
    }

    @Test
    void allowListRestrictsWhoMayJoin() throws Exception {
        Path p = pki("a");
        try (Loopback lb = new Loopback(Loopback.fast().withAllowList(java.util.Set.of("client-1")),
                Tls.serverCredentials(p.resolve("server.crt"), p.resolve("server.key"), p.resolve("ca.crt")), true)) {
            JoinReply r = join(lb, Tls.clientCredentials(p.resolve("ca.crt"), p.resolve("client-0.crt"),
                    p.resolve("client-0.key")), "client-0");

            assertThat(r.getAccepted()).isFalse();
            assertThat(r.getReason()).contains("allow-list");
        }
    }
}
