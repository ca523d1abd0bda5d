package org.fedqlora.transport.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * TLS credentials from PEM files (as written by {@code fedqlora certs}). The server requires a client
 * certificate signed by the federation CA (mutual TLS), so a client without one is refused during the handshake,
 * before any application data; plaintext exists only for {@code --insecure}.
 */
public final class Tls {
    private Tls() {
    }

    /** Server side: its certificate and key, and the CA that client certificates must chain to. */
    public static ServerCredentials serverCredentials(Path cert, Path key, Path clientCa) {
        try {
            return TlsServerCredentials.newBuilder()
                    .keyManager(readable(cert, "--tls-cert").toFile(), readable(key, "--tls-key").toFile())
                    .trustManager(readable(clientCa, "--client-ca").toFile())
                    .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
                    .build();
        } catch (IOException | IllegalArgumentException e) {
            throw new UserException("cannot load the server's TLS files (" + e.getMessage() + "): pass PEM files "
                    + "as written by 'fedqlora certs' (server.crt, server.key, ca.crt)");
        }
    }

    /** Client side: the CA that signed the server's certificate, and this client's certificate and key. */
    public static ChannelCredentials clientCredentials(Path ca, Path cert, Path key) {
        try {
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder()
                    .trustManager(readable(ca, "--tls-ca").toFile());
            if (cert != null || key != null) {
                b.keyManager(readable(cert, "--tls-cert").toFile(), readable(key, "--tls-key").toFile());
            }
            return b.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new UserException("cannot load the client's TLS files (" + e.getMessage() + "): pass PEM files "
                    + "as written by 'fedqlora certs' (ca.crt, client-N.crt, client-N.key)");
        }
    }

    /** The common name of the certificate in a PEM file (a client's identity in the federation). */
    public static String commonName(Path certPem) {
        try (var in = Files.newInputStream(readable(certPem, "--tls-cert"))) {
            var cert = (java.security.cert.X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(in);
            return PeerIdentity.commonName(cert);
        } catch (IOException | java.security.cert.CertificateException e) {
            throw new UserException(certPem + " is not a PEM certificate (" + e.getMessage() + ")");
        }
    }

    public static ServerCredentials insecureServer() {
        return InsecureServerCredentials.create();
    }

    public static ChannelCredentials insecureClient() {
        return InsecureChannelCredentials.create();
    }

    private static Path readable(Path p, String option) {
        if (p == null) {
            throw new UserException(option + " is required with TLS (or pass --insecure on both sides for plaintext)");
        }
        if (!Files.isRegularFile(p)) {
            throw new UserException(option + " " + p + " does not exist; make the files with 'fedqlora certs'");
        }
        return p;
    }
}
