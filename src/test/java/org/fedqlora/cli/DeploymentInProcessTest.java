package org.fedqlora.cli;

import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.Fields;
import org.fedqlora.model.Models;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.sim.DeployedClient;
import org.fedqlora.sim.Deployment;
import org.fedqlora.sim.Simulation;
import org.fedqlora.sim.config.ConfigWriter;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.testing.Federations;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.transport.grpc.FederationNode;
import org.fedqlora.transport.grpc.GrpcTransport;
import org.fedqlora.transport.grpc.Tls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The coordinator and deployed clients in one JVM (over real loopback gRPC, insecure: TLS is what
 * FederationProcessesTest and MutualTlsTest cover): faults end with the same adapters as simulate.
 */
class DeploymentInProcessTest {
    @TempDir
    Path dir;

    /** Thrown by a round listener to stop the coordinator as a crash would (after round 1's checkpoint). */
    static final class Crash extends RuntimeException {
        Crash() {
            super("simulated crash");
        }
    }

    static GrpcTransport transport(SimConfig c, int port) {
        String hash = Models.open(c.model()).contentHash();
        return GrpcTransport.start(port, Tls.insecureServer(), false, GrpcTransport.Options.defaults(hash)
                .withPollMs(500).withRoundTimeout(Duration.ofSeconds(120)).withConfigYaml(ConfigWriter.toYaml(c)));
    }

    static QuantizedModel base(SimConfig c) {
        return QuantizedModel.load(Models.open(c.model()), new QuantSpec(QuantFormat.FP32, 32, false), QaSpec.none(),
                QuantizedBase.Residency.DEQUANTIZED, c.data().maxLength());
    }

    /** A node for clients {@code indices} of {@code f}, with its own model cache over {@code state}. */
    static FederationNode node(Federations f, int port, Path state, java.util.concurrent.ExecutorService worker,
                               List<DeployedClient.Models> caches, int... indices) {
        SimConfig c = f.config;
        DeployedClient.Models models = new DeployedClient.Models(c.model(), state);
        caches.add(models);
        List<DeployedClient> clients = new ArrayList<>();
        for (int i : indices) {
            clients.add(new DeployedClient("client-" + i, c.clientFormats().get(i),
                    DatasetFiles.load(f.clientData.get(i), Fields.DEFAULT), Optional.of(f.test), Fields.DEFAULT,
                    state, models));
        }
        FederationNode node = new FederationNode(new FederationNode.Options("localhost:" + port, Tls.insecureClient(),
                Duration.ofMillis(50), Duration.ofMillis(500), 1),
                ClientCommand.virtualClients(clients, Models.open(c.model()).contentHash(), state), worker);
        Thread t = new Thread(node::run);
        t.setDaemon(true);
        t.start();
        return node;
    }

    @Test
    void serverKilledAfterRoundOneAndResumedEndsLikeTheSimulation() throws Exception {
        Federations f = new Federations(dir, "methods=[ifedqlora]", "ifedqlora.refine=svd");
        Path simOut = dir.resolve("sim");
        Simulation.run(f.config, simOut, false, new Simulation.Listener() { });
        Path out = dir.resolve("fed");
        java.util.concurrent.ExecutorService worker = java.util.concurrent.Executors.newSingleThreadExecutor();
        List<DeployedClient.Models> caches = new ArrayList<>();
        int port;
        FederationNode node;
        try (QuantizedModel base = base(f.config)) {
            try (GrpcTransport first = transport(f.config, 0)) {
                port = first.port();
                node = node(f, port, dir.resolve("state"), worker, caches, 0, 1, 2);
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> Deployment.serve(f.config, out, false, base,
                        ServerCommand.network(f.config, first), (m, r, n, rec) -> {
                            if (r == 1) {
                                throw new Crash();
                            }
                        })).isInstanceOf(Crash.class);
            }
            try (GrpcTransport second = transport(f.config, port)) {
                Deployment.serve(f.config, out, true, base, ServerCommand.network(f.config, second),
                        (m, r, n, rec) -> { });
                second.finish(Duration.ofSeconds(2));
            } finally {
                node.close();
                worker.shutdownNow();
                caches.forEach(DeployedClient.Models::close);
            }
        }

        double diff = Federations.maxAbsDiff(Federations.finalGlobal(out), Federations.finalGlobal(simOut));
        System.out.printf("resumed deployment vs simulation: max |diff| = %.3g%n", diff);
        assertThat(diff).isLessThanOrEqualTo(1e-6);
        assertThat(node.joins()).isGreaterThanOrEqualTo(6); // every client joined again after the restart
    }

    @Test
    void restartedClientRejoinsWithItsSavedStateAndEndsLikeTheSimulation() throws Exception {
        Federations f = new Federations(dir, "methods=[ifedqlora]", "ifedqlora.refine=svd");
        Path simOut = dir.resolve("sim");
        Simulation.run(f.config, simOut, false, new Simulation.Listener() { });
        Path out = dir.resolve("fed");
        java.util.concurrent.ExecutorService worker = java.util.concurrent.Executors.newSingleThreadExecutor();
        List<DeployedClient.Models> caches = new ArrayList<>();
        List<FederationNode> nodes = new ArrayList<>();
        try (QuantizedModel base = base(f.config); GrpcTransport transport = transport(f.config, 0)) {
            nodes.add(node(f, transport.port(), dir.resolve("state"), worker, caches, 0, 2));
            nodes.add(node(f, transport.port(), dir.resolve("state"), worker, caches, 1));
            Deployment.serve(f.config, out, false, base, ServerCommand.network(f.config, transport), (m, r, n, rec) -> {
                if (r == 1) {
                    nodes.get(1).close(); // client-1's process ends; a new one starts from the same --state-dir
                    FederationNode again = node(f, transport.port(), dir.resolve("state"), worker, caches, 1);
                    nodes.add(again);
                    long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
                    while ((again.joins() == 0 || !transport.availableClients().contains("client-1"))
                            && System.nanoTime() < end) {
                        Thread.onSpinWait();
                    }
                }
            });
            transport.finish(Duration.ofSeconds(2));
        } finally {
            nodes.forEach(FederationNode::close);
            worker.shutdownNow();
            caches.forEach(DeployedClient.Models::close);
        }

        double diff = Federations.maxAbsDiff(Federations.finalGlobal(out), Federations.finalGlobal(simOut));
        System.out.printf("deployment with a restarted client vs simulation: max |diff| = %.3g%n", diff);
        assertThat(diff).isLessThanOrEqualTo(1e-6);
        assertThat(dir.resolve("state").resolve("models")).isDirectory();
    }
}
