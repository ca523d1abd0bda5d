package org.fedqlora.cli;

import org.fedqlora.UserException;
import org.fedqlora.data.Dataset;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.Fields;
import org.fedqlora.data.InstructionFiles;
import org.fedqlora.data.Partition;
import org.fedqlora.data.Partitioner;
import org.fedqlora.fed.Client;
import org.fedqlora.model.Models;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.sim.DeployedClient;
import org.fedqlora.sim.DeployedPrivacy;
import org.fedqlora.sim.Method;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.transport.grpc.ClientAdapter;
import org.fedqlora.transport.grpc.FederationNode;
import org.fedqlora.transport.grpc.Protocol;
import org.fedqlora.transport.grpc.SecAggPhases;
import org.fedqlora.transport.grpc.Tls;
import org.fedqlora.transport.grpc.proto.Capabilities;
import org.fedqlora.transport.grpc.proto.JoinReply;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/** {@code fedqlora client}: one machine's client(s) of a real federation; only dials out. */
@Command(name = "client", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Take part in a federation run by 'fedqlora server': load the quantized base, build the",
                "private QA adapter once (kept in --state-dir), train on local data when asked. The data and the",
                "QA adapter never leave this process; only the shared LoRA (and a classifier's head) is sent.",
                "Instruction JSONL (Alpaca or chat rows) makes this a causal-LM client for a data.task causal-lm run."},
        footer = {"", "Examples:",
                "  fedqlora client --server coordinator.example.org:9443 --model minilm --format nf2 \\",
                "      --data hospital-a.jsonl --state-dir state --tls-ca pki/ca.crt \\",
                "      --tls-cert pki/client-0.crt --tls-key pki/client-0.key",
                "  fedqlora client ... --data all.jsonl --virtual 10      # 10 virtual clients, data split iid",
                "  fedqlora client ... --model ./SmolLM2-135M-Instruct --data clinic-a-chats.jsonl   # causal-LM",
                "",
                "The client id is the certificate's common name (NAME-v0.. with --virtual). It reconnects with",
                "backoff when the server is unreachable and exits when the server says the run is finished."})
public final class ClientCommand implements Callable<Integer> {
    @Option(names = "--server", required = true, paramLabel = "HOST:PORT", description = "The coordinator.")
    String server;
    @Option(names = "--model", defaultValue = "minilm", description = "minilm or a local model folder (the same base "
            + "as the server's config).") String model;
    @Option(names = "--format", required = true, description = "Base-weight format this machine runs: nf2, nf3, nf4, "
            + "int2..int8, fp32.") String format;
    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Local data (CSV, JSONL, Parquet; "
            + "instruction JSONL for a causal-LM run); one per virtual client, or one split over all of them.")
    List<Path> data;
    @Option(names = "--test", paramLabel = "FILE", description = "A shared test set for global metrics (default: the "
            + "local test split).") Path test;
    @Option(names = "--state-dir", required = true, paramLabel = "DIR", description = "Quantized model, QA adapter "
            + "and client state (reused on restart).") Path stateDir;
    @Option(names = "--tls-ca", paramLabel = "FILE", description = "CA that signed the server certificate (PEM).") Path tlsCa;
    @Option(names = "--tls-cert", paramLabel = "FILE", description = "This client's certificate (PEM).") Path tlsCert;
    @Option(names = "--tls-key", paramLabel = "FILE", description = "This client's private key (PEM).") Path tlsKey;
    @Option(names = "--id", description = "Client id (default: the certificate's common name; required with --insecure).")
    String id;
    @Range(min = 1, max = 100_000) @Option(names = "--virtual", defaultValue = "1", paramLabel = "K", description = "Virtual clients in this process.")
    int virtual;
    @Option(names = "--text-field", defaultValue = "text") String textField;
    @Option(names = "--label-field", defaultValue = "label") String labelField;
    @Option(names = "--insecure", description = "Plaintext without TLS (the server must also run --insecure).")
    boolean insecure;

    @Override
    public Integer call() {
        QuantFormat fmt = QuantFormat.parse(format);
        var credentials = credentials();
        String name = id != null ? id : Tls.commonName(tlsCert);
        if (virtual < 1) {
            throw new UserException("--virtual must be at least 1, got " + virtual);
        }
        Fields fields = new Fields(textField, labelField);
        boolean instructions = instructions();
        List<Dataset> parts = datasets(fields, instructions);
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create --state-dir " + stateDir, e);
        }
        String hash = Models.open(model).contentHash();
        // load the engine here: torch's grad mode is per thread, and the worker thread must see the same mode as
        // simulate's training thread
        org.fedqlora.engine.Engines.get();
        DeployedClient.Models models = new DeployedClient.Models(model, stateDir);
        List<DeployedClient> deployed = new ArrayList<>();
        for (int k = 0; k < virtual; k++) {
            String vid = virtual == 1 ? name : name + "-v" + k;
            deployed.add(new DeployedClient(vid, fmt, parts.get(k), instructions, Optional.ofNullable(test), fields,
                    stateDir, models));
        }
        List<FederationNode.VirtualClient> clients = virtualClients(deployed, hash, stateDir);
        System.err.printf(Locale.ROOT, "fedqlora client: %d virtual client(s) (%s%s), format %s, server %s (%s)%n",
                virtual, clients.get(0).id(), virtual > 1 ? " ..." : "", fmt.id(), server,
                insecure ? "PLAINTEXT" : "mutual TLS");
        try (FederationNode node = new FederationNode(FederationNode.Options.of(server, credentials), clients)) {
            node.run();
            System.err.printf(Locale.ROOT, "run finished: %d task(s) answered, %.2f MB down, %.2f MB up%n",
                    node.tasksDone(), node.bytesDown() / 1e6, node.bytesUp() / 1e6);
        } finally {
            models.close();
        }
        return 0;
    }

    /** The virtual clients of a node: each a DeployedClient behind the protocol, configured by the server. */
    static List<FederationNode.VirtualClient> virtualClients(List<DeployedClient> deployed, String hash, Path stateDir) {
        AtomicReference<SimConfig> config = new AtomicReference<>();
        List<FederationNode.VirtualClient> clients = new ArrayList<>();
        for (DeployedClient dc : deployed) {
            String vid = dc.id();
            Capabilities caps = Capabilities.newBuilder().setFormat(dc.format().id()).setNumExamples(dc.examples())
                    .setBaseModelHash(hash).setTask(dc.task()).addAllLabels(dc.labels()).addCompressions("none")
                    .addCompressions("deflate").addCompressions("int8").setSoftware(Protocol.SOFTWARE).build();
            DeployedPrivacy privacy = new DeployedPrivacy(vid);
            ClientAdapter adapter = new ClientAdapter(vid, caps, task -> privacy.wrap(config.get(), task.method(),
                    task.phase(), client(dc, config.get(), task)),
                    SecAggPhases.handlers(task -> privacy.participant(task.method())));
            clients.add(new FederationNode.VirtualClient() {
                @Override
                public String id() {
                    return vid;
                }

                @Override
                public Capabilities capabilities() {
                    return caps;
                }

                @Override
                public void joined(JoinReply reply) {
                    SimConfig c = serverConfig(stateDir, reply.getConfigYaml());
                    config.set(c);
                    dc.warmUp(c);
                }

                @Override
                public FederationNode.Answer handle(FederationNode.Task task) throws Exception {
                    return adapter.handle(task);
                }
            });
        }
        return clients;
    }

    private static Client client(DeployedClient dc, SimConfig c, FederationNode.Task task) {
        if (c == null) {
            throw new IllegalStateException("a task arrived before the server's config");
        }
        return dc.forTask(c, task.method(), task.clientIndex(), task.labels(), task.phase(), task.round());
    }

    /** The config the server sent, kept in the state folder and parsed like a --config file. */
    private static synchronized SimConfig serverConfig(Path stateDir, String yaml) {
        Path file = stateDir.resolve("server-config.yaml");
        Outputs.writeAtomically(file, yaml.getBytes(StandardCharsets.UTF_8));
        SimConfig c = ConfigLoader.load(file, List.of());
        for (String m : c.methods()) {
            Method.parse(m);
        }
        return c;
    }

    /**
     * Whether the --data files (and --test) are instruction data (causal-LM tuning) rather than text/label rows;
     * every file must be the same kind.
     */
    private boolean instructions() {
        List<Path> files = new ArrayList<>(data);
        if (test != null) {
            files.add(test);
        }
        List<Path> lm = files.stream().filter(InstructionFiles::looksLikeInstructions).toList();
        if (!lm.isEmpty() && lm.size() != files.size()) {
            List<Path> other = files.stream().filter(f -> !lm.contains(f)).toList();
            throw new UserException(lm.get(0) + " holds instruction rows but " + other.get(0) + " does not: the "
                    + "--data and --test files of one client are all instruction JSONL (causal-LM) or all text/label "
                    + "data (classification)");
        }
        return !lm.isEmpty();
    }

    private static Dataset load(Path file, Fields fields, boolean instructions) {
        return instructions ? InstructionFiles.asDataset(InstructionFiles.load(file)) : DatasetFiles.load(file, fields);
    }

    private List<Dataset> datasets(Fields fields, boolean instructions) {
        if (instructions && test != null) {
            InstructionFiles.load(test); // a malformed test set is an error now, not at the first evaluation
        }
        if (data.size() == virtual) {
            return data.stream().map(f -> load(f, fields, instructions)).toList();
        }
        if (data.size() != 1) {
            throw new UserException(data.size() + " --data files for " + virtual + " virtual clients: give one file "
                    + "per virtual client, or one file to split over them");
        }
        Dataset all = load(data.get(0), fields, instructions);
        if (virtual == 1) {
            return List.of(all);
        }
        Partition p = Partitioner.iid().partition(all, virtual, 1L);
        List<Dataset> parts = new ArrayList<>();
        for (Partition.Client c : p.clients()) {
            parts.add(all.subset(c.indices(), all.source() + " (part " + c.client() + " of " + virtual + ")"));
        }
        return parts;
    }

    private io.grpc.ChannelCredentials credentials() {
        if (insecure) {
            if (tlsCa != null || tlsCert != null || tlsKey != null) {
                throw new UserException("--insecure and --tls-ca/--tls-cert/--tls-key exclude each other");
            }
            if (id == null) {
                throw new UserException("--insecure needs --id NAME (without a certificate there is no identity)");
            }
            System.err.println("WARNING: --insecure: plaintext; the server is not authenticated and the adapters "
                    + "travel unencrypted. Use only on a trusted test network.");
            return Tls.insecureClient();
        }
        if (tlsCa == null || tlsCert == null || tlsKey == null) {
            throw new UserException("mutual TLS needs --tls-ca, --tls-cert and --tls-key (from 'fedqlora certs'), or "
                    + "--insecure on both sides for plaintext");
        }
        return Tls.clientCredentials(tlsCa, tlsCert, tlsKey);
    }
}
