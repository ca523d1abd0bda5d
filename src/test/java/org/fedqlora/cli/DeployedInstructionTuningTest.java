package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.data.Fields;
import org.fedqlora.data.InstructionFiles;
import org.fedqlora.model.Models;
import org.fedqlora.sim.DeployedClient;
import org.fedqlora.sim.Deployment;
import org.fedqlora.sim.SimData;
import org.fedqlora.sim.Simulation;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.testing.Federations;
import org.fedqlora.testing.TinyDecoder;
import org.fedqlora.testing.TinyInstructions;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.transport.grpc.FederationNode;
import org.fedqlora.transport.grpc.GrpcTransport;
import org.fedqlora.transport.grpc.Tls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Causal-LM instruction tuning over the gRPC deployment (loopback, insecure, one JVM): deployed clients on the
 * tiny decoder train on their own instruction files, the server reports perplexity as simulate does, and the
 * global LoRA ends as simulate's for the same config and seed.
 */
class DeployedInstructionTuningTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;

    @Test
    void instructionTuningOverGrpcLowersPerplexityAndEndsLikeTheSimulation() throws Exception {
        // Prepare: instruction data, the same config for simulate and server, each client's share in its own file
        Path model = TinyDecoder.plain(dir.resolve("tiny-chat"));
        Path train = dir.resolve("train.jsonl");
        Path test = dir.resolve("test.jsonl");
        List<String> rows = TinyInstructions.lines(32, 1);
        Files.write(train, rows);
        TinyInstructions.write(test, 10, 2);
        SimConfig c = ConfigLoader.loadDefaults(List.of(
                "model=" + model, "data.train=" + train, "data.test=" + test, "data.task=causal-lm",
                "data.max_length=32", "clients=2", "formats=[nf2, nf4]", "quant.group_size=32",
                "partition.method=iid", "methods=[lora, fedqlora]", "rounds=2", "local.steps=3",
                "local.batch_size=8", "local.lr=1e-2", "lora.rank=4", "lora.targets=[all-linear]", "qa.rank=4",
                "server.round_timeout_s=120", "server.join_timeout_s=120"));
        SimData data = SimData.load(c);
        List<Path> clientFiles = new ArrayList<>();
        for (int i = 0; i < c.clients(); i++) {
            Path f = dir.resolve("client-" + i + ".jsonl");
            Files.write(f, data.partition().clients().get(i).indices().stream().map(rows::get).toList());
            clientFiles.add(f);
        }
        Path simOut = dir.resolve("sim");
        Simulation.run(c, simOut, false, new Simulation.Listener() { });

        // Execute: the server and two clients (one node) over loopback gRPC
        Path out = dir.resolve("fed");
        ExecutorService worker = Executors.newSingleThreadExecutor();
        DeployedClient.Models models = new DeployedClient.Models(c.model(), dir.resolve("state"));
        String hash = Models.open(c.model()).contentHash();
        List<DeployedClient> clients = new ArrayList<>();
        for (int i = 0; i < c.clients(); i++) {
            clients.add(new DeployedClient("client-" + i, c.clientFormats().get(i),
                    InstructionFiles.asDataset(InstructionFiles.load(clientFiles.get(i))), true, Optional.of(test),
                    Fields.DEFAULT, dir.resolve("state"), models));
        }
        FederationNode node = null;
        try (QuantizedModel base = DeploymentInProcessTest.base(c);
             GrpcTransport transport = DeploymentInProcessTest.transport(c, 0)) {
            node = new FederationNode(new FederationNode.Options("localhost:" + transport.port(),
                    Tls.insecureClient(), Duration.ofMillis(50), Duration.ofMillis(500), 1),
                    ClientCommand.virtualClients(clients, hash, dir.resolve("state")), worker);
            Thread t = new Thread(node::run);
            t.setDaemon(true);
            t.start();
            Deployment.serve(c, out, false, base, ServerCommand.network(c, transport), (m, r, n, rec) -> { });
            transport.finish(Duration.ofSeconds(2));
        } finally {
            if (node != null) {
                node.close();
            }
            worker.shutdownNow();
            models.close();
        }

        // Assert: perplexity falls for both methods, reported per client, format, mean and worst
        JsonNode summary = JSON.readTree(out.resolve("summary.json").toFile());
        assertThat(summary.get("deployment").asBoolean()).isTrue();
        for (String method : List.of("lora", "fedqlora")) {
            JsonNode rounds = summary.get("methods").get(method).get("rounds");
            assertThat(rounds).as(method).hasSize(2);
            double first = rounds.get(0).get("perplexity").asDouble();
            double second = rounds.get(1).get("perplexity").asDouble();
            System.out.printf("deployed %s: perplexity %.4f -> %.4f%n", method, first, second);
            assertThat(second).as(method + " perplexity after round 2 vs 1").isLessThan(first);
            JsonNode fin = summary.get("methods").get(method).get("final");
            assertThat(fin.get("worst_client_perplexity").asDouble()).isGreaterThanOrEqualTo(fin.get("perplexity").asDouble());
            assertThat(fin.get("per_format").fieldNames()).toIterable().containsExactly("nf2", "nf4");
            assertThat(fin.get("per_client")).hasSize(2);
            assertThat(fin.get("per_client").get(0).has("local_perplexity")).isTrue();
            assertThat(fin.has("accuracy")).isFalse();
        }
        long lmLines = Files.readAllLines(out.resolve("metrics.jsonl")).stream().map(DeployedInstructionTuningTest::json)
                .filter(l -> l.get("split").asText().equals("global") && l.has("perplexity") && l.get("tokens").asLong() > 0)
                .count();
        assertThat(lmLines).isEqualTo(2 /* methods */ * 2 /* rounds */ * 2 /* clients */);
        assertThat(Files.readString(out.resolve("report.html"))).contains("Perplexity per round");
        JsonNode federation = JSON.readTree(out.resolve("checkpoints/federation.json").toFile());
        assertThat(federation.get("labels")).isEmpty();
        for (String method : List.of("lora", "fedqlora")) {
            // only LoRA factors travel: no head, no QA adapter in the global state
            Map<String, HostTensor> global = finalGlobal(out, c, method);
            assertThat(global.keySet()).isNotEmpty().allMatch(n -> n.contains(".lora_A.") || n.contains(".lora_B."));
            // the same adapters as simulate
            double diff = Federations.maxAbsDiff(global, finalGlobal(simOut, c, method));
            System.out.printf("%s deployed vs simulated: max |diff| = %.3g%n", method, diff);
            assertThat(diff).as(method).isLessThanOrEqualTo(1e-6);
        }
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).isEqualTo(Files.readString(simOut.resolve("metrics.jsonl")));
    }

    @Test
    void aClientWhoseDataIsForTheOtherTaskIsRefusedAtRegistrationWithWhatToChange() {
        SimConfig lm = ConfigLoader.loadDefaults(List.of("data.task=causal-lm"));
        SimConfig classification = ConfigLoader.loadDefaults(List.of()); // data.task auto, data.train demo

        assertThat(Deployment.taskRefusal(lm, "a", "causal-lm")).isNull();
        assertThat(Deployment.taskRefusal(classification, "a", "classification")).isNull();
        assertThat(Deployment.taskRefusal(classification, "a", "")).as("older clients send no task").isNull();
        assertThat(Deployment.taskRefusal(lm, "a", "")).contains("client 'a' holds classification data",
                "causal-LM instruction tuning (data.task = causal-lm)", "instruction JSONL");
        assertThat(Deployment.taskRefusal(classification, "a", "causal-lm")).contains("trains classification",
                "data.task = auto, and the server holds no instruction file in data.train",
                "set data.task: causal-lm in the server's config");
    }

    @Test
    void aDeployedInstructionClientRefusesAConfigThatTrainsClassification() throws IOException {
        Path f = dir.resolve("chats.jsonl");
        TinyInstructions.write(f, 4, 1);
        DeployedClient client = new DeployedClient("a", org.fedqlora.quant.QuantFormat.NF4,
                InstructionFiles.asDataset(InstructionFiles.load(f)), true, Optional.empty(), Fields.DEFAULT,
                dir.resolve("state"), new DeployedClient.Models("minilm", dir.resolve("state")));

        assertThat(client.labels()).as("registration carries no labels for causal-LM").isEmpty();
        assertThat(client.task()).isEqualTo("causal-lm");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> client.warmUp(ConfigLoader.loadDefaults(
                        List.of("data.task=classification"))))
                .isInstanceOf(org.fedqlora.UserException.class)
                .hasMessageContaining("the server's config trains data.task = classification, but client a holds "
                        + "instruction data");
    }

    @Test
    void clientWithInstructionDataAndAClassificationTestFileIsOneErrorLine() throws IOException {
        Path chats = dir.resolve("chats.jsonl");
        TinyInstructions.write(chats, 4, 1);
        Path plain = dir.resolve("plain.jsonl");
        Files.writeString(plain, "{\"text\": \"hello\", \"label\": \"a\"}\n");

        Cli.Result r = Cli.run("client", "--server", "localhost:1", "--insecure", "--id", "a", "--format", "nf4",
                "--data", chats.toString(), "--test", plain.toString(), "--state-dir", dir.resolve("s").toString());

        Cli.assertUserError(r, chats + " holds instruction rows but " + plain + " does not");
    }

    /** The global tensors after the last round of {@code method}. */
    private static Map<String, HostTensor> finalGlobal(Path out, SimConfig c, String method) {
        Path file = out.resolve("checkpoints").resolve(c.runs().get(0).id()).resolve(method)
                .resolve("global-" + c.rounds() + ".safetensors");
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, HostTensor> tensors = new java.util.LinkedHashMap<>();
        f.names().forEach(n -> tensors.put(n, HostTensor.ofBytes(f.get(n).dtype(), f.get(n).toBytes(), f.get(n).shape())));
        return tensors;
    }

    private static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
