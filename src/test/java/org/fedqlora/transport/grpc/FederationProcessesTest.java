package org.fedqlora.transport.grpc;

import org.fedqlora.sim.Simulation;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.testing.Federations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
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
        Path simOut = dir.resolve("sim");
        TlsDeployment deployment = TlsDeployment.startServer(f);
        Path out = deployment.out;
        Path serverLog = deployment.serverLog;
        ExecutorService background = Executors.newSingleThreadExecutor();
        try (deployment) {
            // the reference, simulated in this JVM while the processes start and train
            Future<?> simulation = background.submit(() -> Simulation.run(f.config, simOut, false,
                    new Simulation.Listener() { }));
            deployment.startClients();

            simulation.get(150, TimeUnit.SECONDS);
            deployment.awaitSuccess(150);
        } finally {
            background.shutdownNow();
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
