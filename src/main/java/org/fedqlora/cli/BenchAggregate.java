package org.fedqlora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.RoundReport;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.model.ModelFolder;
import org.fedqlora.model.Models;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.ClientAdapter;
import org.fedqlora.transport.grpc.FederationNode;
import org.fedqlora.transport.grpc.GrpcTransport;
import org.fedqlora.transport.grpc.Tls;
import org.fedqlora.transport.grpc.proto.Capabilities;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** {@code fedqlora bench aggregate}: a real server over loopback driven by lightweight in-process clients. */
@Command(name = "aggregate", mixinStandardHelpOptions = true,
        description = {"Drives a real federation server (gRPC on loopback, streaming aggregation) with N lightweight",
                "in-process clients that answer every fit at once with a LoRA-sized update, and reports updates/s,",
                "bytes per round, the server's CPU for receiving, checking and folding the updates, and the most",
                "update bytes the server held at once."},
        footer = {"", "Examples:",
                "  fedqlora bench aggregate --clients 10,100,1000 --model minilm --lora-rank 8 --targets query,value",
                "  fedqlora bench aggregate --clients 100 --compression deflate --json"})
public final class BenchAggregate implements java.util.concurrent.Callable<Integer> {
    @Range(min = 1, max = 100_000) @Option(names = "--clients", split = ",", defaultValue = "10,100,1000", description = "Client counts to run.")
    List<Integer> clients;
    @Option(names = "--model", defaultValue = "minilm", description = "Model whose LoRA shapes the updates have.")
    String model;
    @Range(min = 1, max = 4096) @Option(names = "--lora-rank", defaultValue = "8") int rank;
    @Option(names = "--targets", split = ",", defaultValue = "query,value") List<String> targets;
    @Range(min = 1, max = 1000) @Option(names = "--rounds", defaultValue = "2", description = "Rounds per client count (the last is reported).")
    int rounds;
    @Option(names = "--compression", defaultValue = "none") String compression;
    @Range(min = 1, max = 256) @Option(names = "--senders", defaultValue = "4", description = "Client threads uploading at once.")
    int senders;
    @Option(names = "--json", description = "Print JSON instead of a table.") boolean json;

    @Override
    public Integer call() throws Exception {
        Map<String, HostTensor> global = loraShapes(Models.open(model), rank, targets);
        long params = global.values().stream().mapToLong(HostTensor::numel).sum();
        ArrayNode rows = new ObjectMapper().createArrayNode();
        for (int n : clients) {
            rows.add(run(n, global));
        }
        ObjectNode outJson = new ObjectMapper().createObjectNode();
        outJson.put("model", model).put("lora_rank", rank).put("targets", String.join(",", targets))
                .put("update_parameters", params).put("update_bytes", params * 4).put("compression", compression)
                .put("cpu", cpuName()).put("available_processors", Runtime.getRuntime().availableProcessors());
        outJson.set("runs", rows);
        if (json) {
            System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(outJson));
            return 0;
        }
        System.out.printf(Locale.ROOT, "%s LoRA r=%d on %s: %,d parameters (%.2f MB) per update; %s; %s%n", model,
                rank, String.join(",", targets), params, params * 4 / 1e6, compression, cpuName());
        System.out.printf(Locale.ROOT, "%8s %10s %12s %12s %14s %16s %14s%n", "clients", "round_s", "updates/s",
                "MB up/round", "server CPU s", "peak held MB", "heap after MB");
        for (var r : rows) {
            System.out.printf(Locale.ROOT, "%8d %10.2f %12.0f %12.1f %14.3f %16.1f %14.1f%n", r.get("clients").asInt(),
                    r.get("round_seconds").asDouble(), r.get("updates_per_s").asDouble(),
                    r.get("bytes_up_per_round").asDouble() / 1e6, r.get("server_cpu_seconds").asDouble(),
                    r.get("peak_update_bytes_held").asDouble() / 1e6, r.get("heap_after_round_bytes").asDouble() / 1e6);
        }
        return 0;
    }

    private ObjectNode run(int n, Map<String, HostTensor> global) {
        GrpcTransport.Options options = GrpcTransport.Options.defaults("sha256:bench").withPollMs(2000)
                .withRoundTimeout(Duration.ofSeconds(600))
                .withCompression(org.fedqlora.transport.grpc.Compression.parse(compression));
        ExecutorService worker = Executors.newFixedThreadPool(senders);
        try (GrpcTransport server = GrpcTransport.start(0, Tls.insecureServer(), false, options)) {
            Map<String, HostTensor> update = perturbed(global);
            List<FederationNode.VirtualClient> fakes = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String id = String.format(Locale.ROOT, "bench-%04d", i);
                Client c = new Client() {
                    @Override
                    public FitRes fit(FitIns ins) {
                        return new FitRes(id, update, 10, Map.of());
                    }

                    @Override
                    public EvaluateRes evaluate(EvaluateIns ins) {
                        return new EvaluateRes(id, 1, Map.of());
                    }
                };
                fakes.add(new ClientAdapter(id, Capabilities.newBuilder().setFormat("nf4").setNumExamples(10)
                        .setBaseModelHash("sha256:bench").build(), t -> c, Map.of()));
            }
            FederationNode node = new FederationNode(new FederationNode.Options("localhost:" + server.port(),
                    Tls.insecureClient(), Duration.ofMillis(100), Duration.ofSeconds(2), 1), fakes, worker);
            Thread t = new Thread(node::run);
            t.setDaemon(true);
            t.start();
            server.awaitClients(n, Duration.ofSeconds(300), k -> { });
            FedAvg strategy = new FedAvg(FedAvg.Config.defaults().withFailurePolicy(FailurePolicy.ALL_SUCCEED), global,
                    ServerOptimizer.average());
            Server loop = new Server(strategy, server, new Server.Config(rounds, 0, 1));
            long[] cpu = new long[2];
            double[] seconds = new double[1];
            long[] bytes = new long[2];
            long[] heap = new long[1];
            cpu[0] = server.handlerCpuNanos();
            loop.run(report -> {
                if (report.round() == rounds - 1 || rounds == 1) {
                    cpu[0] = server.handlerCpuNanos();
                    server.resetPeakBufferedBytes();
                }
                if (report.round() == rounds) {
                    check(report, n);
                    cpu[1] = server.handlerCpuNanos();
                    seconds[0] = report.seconds();
                    bytes[0] = report.bytesUp();
                    bytes[1] = report.bytesDown();
                    System.gc();
                    heap[0] = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
                }
            });
            long peak = server.peakBufferedBytes();
            server.finish(Duration.ofSeconds(3));
            node.close();
            ObjectNode row = new ObjectMapper().createObjectNode();
            row.put("clients", n).put("round_seconds", seconds[0]).put("updates_per_s", n / seconds[0])
                    .put("bytes_up_per_round", bytes[0]).put("bytes_down_per_round", bytes[1])
                    .put("server_cpu_seconds", (cpu[1] - cpu[0]) / 1e9).put("peak_update_bytes_held", peak)
                    .put("heap_after_round_bytes", heap[0]);
            System.err.printf(Locale.ROOT, "%d clients: round %.2f s%n", n, seconds[0]);
            return row;
        } finally {
            worker.shutdownNow();
        }
    }

    private static void check(RoundReport r, int n) {
        if (r.successes().size() != n) {
            throw new IllegalStateException("only " + r.successes().size() + " of " + n + " updates arrived: "
                    + r.failures().stream().limit(3).toList());
        }
    }

    /** LoRA A (r, in) and B (out, r) for the target linears of every layer of the model. */
    static Map<String, HostTensor> loraShapes(ModelFolder folder, int rank, List<String> targets) {
        int hidden = folder.config().path("hidden_size").asInt(folder.config().path("dim").asInt());
        int layers = folder.config().path("num_hidden_layers").asInt(folder.config().path("n_layers").asInt());
        Map<String, HostTensor> g = new TreeMap<>();
        SplittableRandom rnd = new SplittableRandom(1);
        for (int l = 0; l < layers; l++) {
            for (String t : targets) {
                String base = "encoder.layer." + l + ".attention.self." + t;
                g.put(base + ".lora_A.weight", random(rnd, rank * hidden, rank, hidden));
                g.put(base + ".lora_B.weight", random(rnd, hidden * rank, hidden, rank));
            }
        }
        return g;
    }

    private static HostTensor random(SplittableRandom rnd, int n, long... shape) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        return HostTensor.ofFloats(v, shape);
    }

    private static Map<String, HostTensor> perturbed(Map<String, HostTensor> global) {
        Map<String, HostTensor> out = new TreeMap<>();
        global.forEach((k, t) -> {
            float[] v = t.toFloats();
            for (int i = 0; i < v.length; i++) {
                v[i] += 1e-3f;
            }
            out.put(k, HostTensor.ofFloats(v, t.shape()));
        });
        return out;
    }

    static String cpuName() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (java.io.IOException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }
}
