package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.sim.DeployedClient;
import org.fedqlora.sim.Deployment;
import org.fedqlora.sim.Simulation;
import org.fedqlora.testing.Federations;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.transport.grpc.FederationNode;
import org.fedqlora.transport.grpc.GrpcTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Local DP in a deployment (coordinator and deployed clients in this JVM over loopback gRPC): each client process
 * clips and noises its own update before it is sent, the server only averages and reports ε. With
 * privacy.noise = seeded the client noise is the simulation's stream, so the deployment must end with the
 * simulation's adapters (within FederationProcessesTest's 1e-6) and the same ε; with the default (auto) a
 * deployment's noise is secure and nobody, not even the config's holder, can reproduce it.
 */
class DeploymentPrivacyTest {
    static final String[] LOCAL_DP = {"methods=[lora]", "privacy.mode=local", "privacy.clip=0.5",
        "privacy.noise_multiplier=0.8", "privacy.delta=1e-5"};

    @TempDir
    Path dir;

    @Test
    void localDpNoisedByTheClientProcessesMatchesTheSimulationAndReportsItsEpsilon() throws Exception {
        Federations f = new Federations(dir, append(LOCAL_DP, "privacy.noise=seeded"));
        Path simOut = dir.resolve("sim");
        JsonNode sim = Simulation.run(f.config, simOut, false, new Simulation.Listener() { });

        JsonNode fed = deploy(f, dir.resolve("fed"));

        double diff = Federations.maxAbsDiff(Federations.finalGlobal(dir.resolve("fed")),
                Federations.finalGlobal(simOut));
        System.out.printf("local DP: deployed vs simulated final adapters: max |diff| = %.3g%n", diff);
        assertThat(diff).isLessThanOrEqualTo(1e-6);
        JsonNode p = fed.get("methods").get("lora").get("privacy");
        assertThat(p.get("mode").asText()).isEqualTo("local");
        assertThat(p.get("epsilon").asDouble()).isPositive()
                .isEqualTo(sim.get("methods").get("lora").get("privacy").get("epsilon").asDouble());
        assertThat(p.get("noise_source").asText()).startsWith("seeded");
    }

    @Test
    void aDeploymentsDefaultNoiseIsSecureAndNotTheSimulationsStream() throws Exception {
        Federations f = new Federations(dir, append(LOCAL_DP, "rounds=1"));
        Path simOut = dir.resolve("sim");
        Simulation.run(f.config, simOut, false, new Simulation.Listener() { });

        JsonNode fed = deploy(f, dir.resolve("fed"));

        assertThat(fed.get("methods").get("lora").get("privacy").get("noise_source").asText()).startsWith("secure");
        double diff = Federations.maxAbsDiff(Federations.finalGlobal(dir.resolve("fed")),
                Federations.finalGlobal(simOut));
        // noise of standard deviation z·S = 0.4 per coordinate, divided by 3 clients: far above 1e-3
        assertThat(diff).isGreaterThan(1e-3);
    }

    /** Runs the coordinator with the three clients of {@code f} in this JVM; returns summary.json. */
    static JsonNode deploy(Federations f, Path out) throws Exception {
        ExecutorService worker = Executors.newSingleThreadExecutor();
        List<DeployedClient.Models> caches = new ArrayList<>();
        FederationNode node = null;
        try (QuantizedModel base = DeploymentInProcessTest.base(f.config);
             GrpcTransport transport = DeploymentInProcessTest.transport(f.config, 0)) {
            node = DeploymentInProcessTest.node(f, transport.port(), f.dir.resolve("state-" + out.getFileName()),
                    worker, caches, 0, 1, 2);
            Deployment.serve(f.config, out, false, base, ServerCommand.network(f.config, transport),
                    (m, r, n, rec) -> { });
            transport.finish(Duration.ofSeconds(2));
        } finally {
            if (node != null) {
                node.close();
            }
            worker.shutdownNow();
            caches.forEach(DeployedClient.Models::close);
        }
        return new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    }

    static String[] append(String[] a, String... more) {
        List<String> out = new ArrayList<>(List.of(a));
        out.addAll(List.of(more));
        return out.toArray(String[]::new);
    }
}
