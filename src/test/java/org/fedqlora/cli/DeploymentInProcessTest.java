package org.fedqlora.cli;

import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.Fields;
import org.fedqlora.model.ModelHash;
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

/** The coordinator and deployed clients in one JVM (over real loopback gRPC): same adapters as simulate. */
class DeploymentInProcessTest {
    @TempDir
    Path dir;

    /** Runs the deployment of {@code f} with clients in one node of this JVM; returns the server's output dir. */
    static Path deploy(Federations f, Path dir) throws Exception {
        SimConfig c = f.config;
        String hash = ModelHash.of(Models.open(c.model()));
        GrpcTransport.Options options = GrpcTransport.Options.defaults(hash).withPollMs(500)
                .withRoundTimeout(Duration.ofSeconds(120)).withConfigYaml(ConfigWriter.toYaml(c));
        Path out = dir.resolve("fed");
        try (GrpcTransport transport = GrpcTransport.start(0, Tls.insecureServer(), false, options);
             QuantizedModel base = QuantizedModel.load(Models.open(c.model()), new QuantSpec(QuantFormat.FP32, 32,
                     false), QaSpec.none(), QuantizedBase.Residency.DEQUANTIZED, c.data().maxLength())) {
            Path state = dir.resolve("state");
            DeployedClient.Models models = new DeployedClient.Models(c.model(), state);
            List<DeployedClient> clients = new ArrayList<>();
            for (int i = 0; i < c.clients(); i++) {
                clients.add(new DeployedClient("client-" + i, c.clientFormats().get(i),
                        DatasetFiles.load(f.clientData.get(i), Fields.DEFAULT), Optional.of(f.test), Fields.DEFAULT,
                        state, models));
            }
            FederationNode node = new FederationNode(new FederationNode.Options("localhost:" + transport.port(),
                    Tls.insecureClient(), Duration.ofMillis(50), Duration.ofMillis(500), 1),
                    ClientCommand.virtualClients(clients, hash, state));
            Thread t = new Thread(node::run);
            t.setDaemon(true);
            t.start();
            try {
                Deployment.serve(c, out, false, base, ServerCommand.network(c, transport), (m, r, n, rec) -> { });
                transport.finish(Duration.ofSeconds(2));
            } finally {
                node.close();
                models.close();
            }
        }
        return out;
    }

    @Test
    void deployedRunMatchesTheSimulation() throws Exception {
        Federations f = new Federations(dir);
        Path simOut = dir.resolve("sim");
        Simulation.run(f.config, simOut, false, new Simulation.Listener() { });

        Path out = deploy(f, dir);

        Map<String, HostTensor> simulated = Federations.finalGlobal(simOut);
        Map<String, HostTensor> deployed = Federations.finalGlobal(out);
        double diff = Federations.maxAbsDiff(deployed, simulated);
        System.out.printf("in-process deployment vs simulation: max |diff| = %.3g%n", diff);
        assertThat(diff).isLessThanOrEqualTo(1e-6);
    }
}
