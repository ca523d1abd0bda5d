package org.fedqlora.transport.grpc;

import org.fedqlora.testing.Federations;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A deployment of {@link Federations} for the acceptance tests: certificates for every client, a server JVM and one
 * client JVM per client on loopback with mutual TLS, all in the federation's dir: logs in server.log and
 * client-I.log, client state in state-I, the server's output in fed. Closing it kills whatever still runs.
 */
final class TlsDeployment implements AutoCloseable {
    /** How long the server may take to bind and write its port file. */
    private static final long PORT_SECONDS = 60;
    /** How long each client may take to exit once the server has. */
    private static final long CLIENT_EXIT_SECONDS = 30;

    final Path out;
    final Path serverLog;
    private final Federations federation;
    private final Path dir;
    private final Path pki;
    private final Path portFile;
    private final Process server;
    private final List<Process> clients = new ArrayList<>();

    private TlsDeployment(Federations federation) throws IOException {
        this.federation = federation;
        this.dir = federation.dir;
        this.pki = dir.resolve("pki");
        this.out = dir.resolve("fed");
        this.portFile = dir.resolve("port");
        this.serverLog = dir.resolve("server.log");
        Certificates.writeFederation(pki, federation.config.clients(), List.of(), Duration.ofDays(1));
        this.server = Federations.java(serverLog, "server", "--config", federation.configFile.toString(),
                "--port", "0", "--port-file", portFile.toString(), "--out", out.toString(), "--poll-ms", "1000",
                "--tls-cert", pki.resolve("server.crt").toString(), "--tls-key", pki.resolve("server.key").toString(),
                "--client-ca", pki.resolve("ca.crt").toString());
    }

    /** Writes the certificates and starts the server on a free port; the clients start with {@link #startClients}. */
    static TlsDeployment startServer(Federations federation) throws IOException {
        return new TlsDeployment(federation);
    }

    /** Waits for the server's port, then starts every client against it. */
    void startClients() throws IOException, InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(PORT_SECONDS);
        while (!Files.exists(portFile) && server.isAlive() && System.nanoTime() < end) {
            Thread.sleep(100);
        }
        assertThat(Files.exists(portFile)).as("no port file after %d s; the server %s; its log:%n%s", PORT_SECONDS,
                server.isAlive() ? "is still running" : "exited with " + server.exitValue(),
                Federations.tail(serverLog)).isTrue();
        String target = "localhost:" + Files.readString(portFile).trim();
        for (int i = 0; i < federation.config.clients(); i++) {
            String cn = "client-" + i;
            clients.add(Federations.java(clientLog(i), "client", "--server", target,
                    "--model", federation.config.model(), "--format", federation.config.clientFormats().get(i).id(),
                    "--data", federation.clientData.get(i).toString(), "--test", federation.test.toString(),
                    "--state-dir", dir.resolve("state-" + i).toString(),
                    "--tls-ca", pki.resolve("ca.crt").toString(), "--tls-cert", pki.resolve(cn + ".crt").toString(),
                    "--tls-key", pki.resolve(cn + ".key").toString()));
        }
    }

    /** Asserts that the server exits with 0 within {@code serverSeconds}, then every client likewise. */
    void awaitSuccess(long serverSeconds) throws InterruptedException {
        boolean exited = server.waitFor(serverSeconds, TimeUnit.SECONDS);

        assertThat(exited).as(Federations.tail(serverLog)).isTrue();
        assertThat(server.exitValue()).as(Federations.tail(serverLog)).isZero();
        for (int i = 0; i < clients.size(); i++) {
            assertThat(clients.get(i).waitFor(CLIENT_EXIT_SECONDS, TimeUnit.SECONDS))
                    .as(Federations.tail(clientLog(i))).isTrue();
            assertThat(clients.get(i).exitValue()).isZero();
        }
    }

    private Path clientLog(int i) {
        return dir.resolve("client-" + i + ".log");
    }

    @Override
    public void close() {
        server.destroyForcibly();
        clients.forEach(Process::destroyForcibly);
    }
}
