package org.fedqlora.transport.grpc;

import org.fedqlora.sim.Simulation;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.testing.Federations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The acceptance run: a server and three clients as separate JVMs on loopback with mutual TLS, two rounds of
 * fedqlora on tiny data, and the same final adapters (within 1e-6) as the in-memory simulation with the same seed.
 */
class FederationProcessesTest {
    /** Largest difference allowed between deployed and simulated final adapters (the bound). */
    static final double MAX_DIFF = 1e-6;

    @TempDir
    Path dir;

    @Test
    void serverAndThreeClientProcessesOverTlsMatchTheSimulation() throws Exception {
        Federations f = new Federations(dir);
        Path pki = dir.resolve("pki");
        Certificates.writeFederation(pki, 3, List.of(), Duration.ofDays(1));
        Path simOut = dir.resolve("sim");
        Path out = dir.resolve("fed");
        Path portFile = dir.resolve("port");
        Path serverLog = dir.resolve("server.log");
        Process server = Federations.java(serverLog, "server", "--config", f.configFile.toString(), "--port", "0",
                "--port-file", portFile.toString(), "--out", out.toString(), "--poll-ms", "1000",
                "--tls-cert", pki.resolve("server.crt").toString(), "--tls-key", pki.resolve("server.key").toString(),
                "--client-ca", pki.resolve("ca.crt").toString());
        List<Process> clients = new ArrayList<>();
        ExecutorService background = Executors.newSingleThreadExecutor();
        try {
            // the reference, simulated in this JVM while the processes start and train
            Future<?> simulation = background.submit(() -> Simulation.run(f.config, simOut, false,
                    new Simulation.Listener() { }));
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(portFile) && server.isAlive() && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            assertThat(Files.exists(portFile)).as(Federations.tail(serverLog)).isTrue();
            String target = "localhost:" + Files.readString(portFile).trim();
            for (int i = 0; i < 3; i++) {
                String cn = "client-" + i;
                clients.add(Federations.java(dir.resolve(cn + ".log"), "client", "--server", target,
                        "--model", f.config.model(), "--format", f.config.clientFormats().get(i).id(),
                        "--data", f.clientData.get(i).toString(), "--test", f.test.toString(),
                        "--state-dir", dir.resolve("state-" + i).toString(),
                        "--tls-ca", pki.resolve("ca.crt").toString(), "--tls-cert", pki.resolve(cn + ".crt").toString(),
                        "--tls-key", pki.resolve(cn + ".key").toString()));
            }

            simulation.get(150, TimeUnit.SECONDS);
            boolean exited = server.waitFor(150, TimeUnit.SECONDS);

            assertThat(exited).as(Federations.tail(serverLog)).isTrue();
            assertThat(server.exitValue()).as(Federations.tail(serverLog)).isZero();
            for (int i = 0; i < 3; i++) {
                assertThat(clients.get(i).waitFor(30, TimeUnit.SECONDS))
                        .as(Federations.tail(dir.resolve("client-" + i + ".log"))).isTrue();
                assertThat(clients.get(i).exitValue()).isZero();
            }
        } finally {
            background.shutdownNow();
            server.destroyForcibly();
            clients.forEach(Process::destroyForcibly);
        }
        for (String file : List.of("config.yaml", "metrics.jsonl", "summary.json", "report.html")) {
            assertThat(out.resolve(file)).exists();
        }
        if (System.getProperty("fedqlora.keep") != null) {
            try (var w = Files.walk(dir)) {
                for (Path p : w.toList()) {
                    Path dst = Path.of(System.getProperty("fedqlora.keep")).resolve(dir.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(dst);
                    } else {
                        Files.copy(p, dst);
                    }
                }
            }
        }
        Map<String, HostTensor> deployed = Federations.finalGlobal(out);
        double diff = Federations.maxAbsDiff(deployed, Federations.finalGlobal(simOut));
        System.out.printf("deployed vs simulated final adapters: max |diff| = %.3g over %d tensors%n", diff,
                deployed.size());
        assertThat(diff).as(Federations.tail(serverLog)).isLessThanOrEqualTo(MAX_DIFF);
        // the private QA adapters never left the clients: the server only ever held shared tensors
        assertThat(deployed.keySet()).noneMatch(n -> n.contains("qa_"));
        assertThat(dir.resolve("state-0").resolve("client-0").resolve("fedqlora")).isDirectory();
    }
}
