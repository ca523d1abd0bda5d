package org.fedqlora.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.UserException;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.PhaseResult;
import org.fedqlora.fed.RunningMean;
import org.fedqlora.fed.Transport;
import org.fedqlora.fed.secagg.Message;
import org.fedqlora.fed.secagg.SecAggServer;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.quant.QaSpec;
import org.fedqlora.quant.QuantFormat;
import org.fedqlora.quant.QuantSpec;
import org.fedqlora.quant.QuantizedBase;
import org.fedqlora.report.SummaryTable;
import org.fedqlora.sim.Deployment;
import org.fedqlora.sim.Method;
import org.fedqlora.sim.RoundRecord;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.ConfigWriter;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.train.QuantizedModel;
import org.fedqlora.transport.grpc.Compression;
import org.fedqlora.transport.grpc.GrpcTransport;
import org.fedqlora.transport.grpc.SecAggPhases;
import org.fedqlora.transport.grpc.Tls;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/** {@code fedqlora server}: the coordinator of a real federation over gRPC with mutual TLS. */
@Command(name = "server", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Coordinate a real federation: clients on other machines connect with 'fedqlora client';",
                "the server runs the config's rounds and writes what 'simulate' writes."},
        footer = {"", "Examples:",
                "  fedqlora server --config fed.yaml --port 9443 --out runs/fed \\",
                "      --tls-cert pki/server.crt --tls-key pki/server.key --client-ca pki/ca.crt",
                "  fedqlora server --config fed.yaml --port 9443 --out runs/fed ... --resume   # after a crash",
                "",
                "Outputs in --out: config.yaml, metrics.jsonl, summary.json, report.html, checkpoints/ (after every",
                "round). Clients must load the config's model (checked by hash) and hold certificates of the CA."})
public final class ServerCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE.yaml", description = "The federation's config (as for simulate).")
    Path config;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key (repeatable).")
    List<String> sets = new ArrayList<>();
    @Range(min = 1, max = 65_535, zero = "any free port") @Option(names = "--port", defaultValue = "9443", description = "TCP port to listen on (default 9443; 0 = any).")
    int port;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (new or empty, unless --resume).")
    Path out;
    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Server certificate (PEM).") Path tlsCert;
    @Option(names = "--tls-key", paramLabel = "FILE", description = "Server private key (PEM, PKCS#8).") Path tlsKey;
    @Option(names = "--client-ca", paramLabel = "FILE", description = "CA that signs client certificates (PEM).")
    Path clientCa;
    @Option(names = "--allow", split = ",", paramLabel = "CN,...", description = "Only these certificate names may join.")
    List<String> allow = new ArrayList<>();
    @Option(names = "--resume", description = "Continue the run in --out from its last completed round.") boolean resume;
    @Option(names = "--insecure", description = "Plaintext without TLS (testing on a trusted network only).")
    boolean insecure;
    @Range(min = 10, max = 600_000) @Option(names = "--poll-ms", defaultValue = "10000", description = "Long-poll duration in ms (default 10000).")
    int pollMs;
    @Option(names = "--port-file", paramLabel = "FILE", description = "Write the port listened on here (for scripts).")
    Path portFile;

    @Override
    public Integer call() {
        SimConfig c = config != null ? ConfigLoader.load(config, sets) : ConfigLoader.loadDefaults(sets);
        Deployment.checkDeployable(c);
        var credentials = credentials();
        ModelFolder folder = Models.open(c.model());
        Deployment.checkModel(c, folder);
        String hash = folder.contentHash();
        long t0 = System.nanoTime();
        try (QuantizedModel base = QuantizedModel.load(folder, new QuantSpec(QuantFormat.FP32, c.quant().groupSize(),
                false), QaSpec.none(), QuantizedBase.Residency.DEQUANTIZED, c.data().maxLength())) {
            GrpcTransport.Options options = GrpcTransport.Options.defaults(hash)
                    .withChunkBytes(c.transport().chunkBytes())
                    .withCompression(Compression.parse(c.transport().compression()))
                    .withMaxUpdateBytes(c.transport().maxUpdateBytes())
                    .withRoundTimeout(Duration.ofMillis((long) (c.server().roundTimeoutS() * 1000)))
                    .withPollMs(pollMs)
                    .withAllowList(Set.copyOf(allow))
                    .withConfigYaml(ConfigWriter.toYaml(c))
                    .withRegistration((id, caps) -> {
                        try {
                            QuantFormat.parse(caps.getFormat());
                        } catch (RuntimeException e) {
                            return "client '" + id + "' runs format '" + caps.getFormat() + "', which this server "
                                    + "does not know (" + e.getMessage() + ")";
                        }
                        return Deployment.taskRefusal(c, id, caps.getTask());
                    });
            try (GrpcTransport transport = GrpcTransport.start(port, credentials, !insecure, options)) {
                System.err.printf(Locale.ROOT, "fedqlora server listening on port %d (%s), base model %s (%s)%n",
                        transport.port(), insecure ? "PLAINTEXT" : "mutual TLS", c.model(), hash.substring(0, 19));
                if (portFile != null) {
                    Outputs.writeAtomically(portFile, Integer.toString(transport.port()).getBytes());
                }
                JsonNode summary = Deployment.serve(c, out, resume, base, network(c, transport),
                        new Deployment.Listener() {
                            private String privacy = "";

                            @Override
                            public void privacy(Method method, int round, double epsilon, double delta) {
                                privacy = String.format(Locale.ROOT, ", ε = %.3f (δ = %.1g)", epsilon, delta);
                            }

                            @Override
                            public void round(Method method, int round, int rounds, RoundRecord rec) {
                                if (rec != null) {
                                    System.err.printf(Locale.ROOT, "%s round %d/%d: %s %.4f (worst %.4f)%s%n",
                                            method.id, round, rounds, rec.task().causalLm() ? "perplexity"
                                                    : "accuracy", rec.accuracy(), rec.worstAccuracy(), privacy);
                                } else if (!privacy.isEmpty()) {
                                    System.err.printf(Locale.ROOT, "%s round %d/%d%s%n", method.id, round, rounds,
                                            privacy);
                                }
                                privacy = "";
                            }
                        });
                transport.finish(Duration.ofSeconds(5));
                System.out.println();
                System.out.print(SummaryTable.format(summary));
                System.out.printf(Locale.ROOT, "%ndone in %.1f s; open %s%n", (System.nanoTime() - t0) / 1e9,
                        out.resolve("report.html"));
            }
        }
        return 0;
    }

    private io.grpc.ServerCredentials credentials() {
        if (insecure) {
            if (tlsCert != null || tlsKey != null || clientCa != null) {
                throw new UserException("--insecure and --tls-cert/--tls-key/--client-ca exclude each other");
            }
            System.err.println("WARNING: --insecure: plaintext, no client authentication; anyone who can reach this "
                    + "port can join and read the global adapters. Use only on a trusted test network.");
            return Tls.insecureServer();
        }
        if (tlsCert == null || tlsKey == null || clientCa == null) {
            throw new UserException("mutual TLS needs --tls-cert, --tls-key and --client-ca (make them with "
                    + "'fedqlora certs --out pki --clients N'), or --insecure on both sides for plaintext");
        }
        return Tls.serverCredentials(tlsCert, tlsKey, clientCa);
    }

    /** The gRPC transport as the coordinator's {@link Deployment.Network}, with a progress line per phase. */
    static Deployment.Network network(SimConfig c, GrpcTransport transport) {
        SecAggPhases.Channel secure = new SecAggPhases.Channel(transport);
        String[] current = {""};
        return new Deployment.Network() {
            @Override
            public Transport transport(String method) {
                Method m = Method.parse(method);
                current[0] = method;
                transport.setMethod(method);
                // under secure aggregation the fit answer carries metrics only: the update follows masked
                boolean masked = c.secagg().enabled() && m.aggregates();
                transport.setExpectedUpload(ins -> masked ? Set.of() : expectedUpload(m, ins));
                return new Progressing(transport, method, c.rounds());
            }

            @Override
            public SecAggServer.Channel secureChannel() {
                return new SecAggServer.Channel() {
                    @Override
                    public SecAggServer.Replies exchange(Map<String, Message> requests) {
                        SortedMap<String, Message> replies = new TreeMap<>();
                        Map<String, String> failures = exchange(requests, replies::put);
                        return new SecAggServer.Replies(replies, failures);
                    }

                    /** The gRPC channel's stream (each reply passed on as it arrives, none kept), with a line. */
                    @Override
                    public Map<String, String> exchange(Map<String, Message> requests,
                                                        BiConsumer<String, Message> onReply) {
                        long down = secure.bytesDown();
                        long up = secure.bytesUp();
                        AtomicInteger answered = new AtomicInteger();
                        Map<String, String> failures = secure.exchange(requests, (id, m) -> {
                            answered.incrementAndGet();
                            onReply.accept(id, m);
                        });
                        String stage = requests.isEmpty() ? "secagg"
                                : SecAggPhases.phase(requests.values().iterator().next().stage());
                        System.err.printf(Locale.ROOT, "%s round %d/%d %s: %d answered, %d failed, %s down, %s up%n",
                                current[0], secure.round(), c.rounds(), stage, answered.get(),
                                failures.size(), Progressing.mb(secure.bytesDown() - down),
                                Progressing.mb(secure.bytesUp() - up));
                        failures.forEach((id, why) -> System.err.println("  failed: " + id + ": " + why));
                        return failures;
                    }

                    @Override
                    public long bytesDown() {
                        return secure.bytesDown();
                    }

                    @Override
                    public long bytesUp() {
                        return secure.bytesUp();
                    }
                };
            }

            @Override
            public Map<String, Deployment.RemoteClient> clients() {
                Map<String, Deployment.RemoteClient> out = new TreeMap<>();
                transport.capabilities().forEach((id, caps) -> out.put(id, new Deployment.RemoteClient(id,
                        QuantFormat.parse(caps.getFormat()), caps.getNumExamples(), caps.getLabelsList())));
                return out;
            }

            @Override
            public int awaitClients(int n, Duration timeout) {
                return transport.awaitClients(n, timeout, k -> System.err.printf(Locale.ROOT,
                        "waiting for clients: %d of %d connected%n", k, n));
            }

            @Override
            public void setLabels(List<String> labels) {
                transport.setLabels(labels);
            }

            @Override
            public Map<String, Integer> roster() {
                return transport.roster();
            }

            @Override
            public void restoreRoster(Map<String, Integer> roster) {
                transport.restoreRoster(roster);
            }
        };
    }

    /** What a client of method {@code m} must send back: the shared tensors it trains. */
    static Set<String> expectedUpload(Method m, FitIns ins) {
        Set<String> names = new TreeSet<>();
        if (!m.aggregates()) {
            return names;
        }
        for (String n : ins.parameters().keySet()) {
            if (!(m.freezesA() && n.endsWith(".lora_A.weight"))) {
                names.add(n);
            }
        }
        return names;
    }

    /** Prints connected / answered / failed / bytes after every phase; closing it leaves the server running. */
    private record Progressing(GrpcTransport inner, String method, int rounds) implements Transport {
        @Override
        public List<String> availableClients() {
            return inner.availableClients();
        }

        @Override
        public boolean foldsUpdates() {
            return true;
        }

        @Override
        public PhaseResult<FitRes> fit(Map<String, FitIns> instructions) {
            return report("fit", instructions.values().stream().findFirst().map(FitIns::round).orElse(0),
                    inner.fit(instructions));
        }

        @Override
        public PhaseResult<FitRes> fit(Map<String, FitIns> instructions, RunningMean sink) {
            return report("fit", instructions.values().stream().findFirst().map(FitIns::round).orElse(0),
                    inner.fit(instructions, sink));
        }

        @Override
        public PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions) {
            return report("evaluate", instructions.values().stream().findFirst().map(EvaluateIns::round).orElse(0),
                    inner.evaluate(instructions));
        }

        private <R> PhaseResult<R> report(String phase, int round, PhaseResult<R> r) {
            System.err.printf(Locale.ROOT, "%s round %d/%d %s: %d connected, %d answered, %d failed, "
                            + "%s down, %s up%n", method, round, rounds, phase, inner.availableClients().size(),
                    r.results().size(), r.failures().size(), mb(r.bytesDown()), mb(r.bytesUp()));
            r.failures().forEach(f -> System.err.println("  failed: " + f));
            return r;
        }

        private static String mb(long bytes) {
            return String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
        }

        @Override
        public void close() {
        }
    }
}
