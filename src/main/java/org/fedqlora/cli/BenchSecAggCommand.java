package org.fedqlora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.fed.Aggregation;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitAggregate;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.Parameters;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.fed.secagg.InProcessChannel;
import org.fedqlora.fed.secagg.Message;
import org.fedqlora.fed.secagg.SecAggSettings;
import org.fedqlora.fed.secagg.SecureAggregationStrategy;
import org.fedqlora.fed.secagg.SecureClient;
import org.fedqlora.fed.secagg.Stage;
import org.fedqlora.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code fedqlora bench secagg}: the in-process cost of one secure-aggregation round against plain aggregation, for
 * n clients sending updates of E float32 coordinates. Plain: each client uploads 4E bytes, the server takes the
 * weighted mean. Secure: the four SecAgg+ stages (bytes both ways, client and server compute) and the unmasking.
 * The global model's download is the same in both and not counted.
 */
@Command(name = "secagg", mixinStandardHelpOptions = true,
        description = {"Bytes and time of one round of secure aggregation (SecAgg+) against plain aggregation,",
                "in-process (or over gRPC on loopback with --grpc), for each client count; the median over --rounds",
                "rounds."},
        footer = {"", "Examples:",
                "  fedqlora bench secagg                                   # 10 and 50 clients, MiniLM r=8 q,v + head",
                "  fedqlora bench secagg --clients 10,50,100 --elements 153616 --drop 2 --json",
                "  fedqlora bench secagg --grpc --clients 4 --rounds 5       # over gRPC: plain, DP, secagg + DP",
                "",
                "E = 76808 is all-MiniLM-L6-v2 with LoRA r = 8 on query and value (6 x 2 x 2 x 8 x 384 = 73728)",
                "plus an 8-class head (384 x 8 + 8). JSON: one entry per client count with plain/secure bytes and ms."})
public final class BenchSecAggCommand implements Callable<Integer> {
    @Range(min = 2, max = 100_000) @Option(names = "--clients", defaultValue = "10,50", split = ",", description = "Client counts (default: ${DEFAULT-VALUE}).")
    List<Integer> clients;
    @Range(min = 1, max = 1 << 30) @Option(names = "--elements", defaultValue = "76808", description = "Coordinates per update (default: ${DEFAULT-VALUE}).")
    int elements;
    @Range(min = 1, max = 1000) @Option(names = "--rounds", defaultValue = "3", description = "Rounds per client count; the median is reported.")
    int rounds;
    @Range(min = 16, max = 62) @Option(names = "--bits", defaultValue = "48", description = "Modulus 2^bits (default: ${DEFAULT-VALUE}).") int bits;
    @Range(min = 1, max = 100_000, zero = "automatic") @Option(names = "--neighbours", defaultValue = "0", description = "k (0 = automatic).") int neighbours;
    @Range(min = 1, max = 100_000, zero = "automatic") @Option(names = "--threshold", defaultValue = "0", description = "t (0 = automatic).") int threshold;
    @Range(min = 0, max = 100_000) @Option(names = "--drop", defaultValue = "0", description = "Clients that drop out after sharing keys.") int drop;
    @Option(names = "--json", description = "Print JSON only.") boolean json;
    @Option(names = "--grpc", description = {"Run --rounds rounds (after a warm-up) over gRPC on loopback instead: "
            + "plain FedAvg, central DP and secure aggregation with central DP, per-round wall time and bytes on the "
            + "wire (one client node per client in this process, plaintext)."}) boolean grpc;

    /** A client whose training moves the global by a fixed random update (also used by {@link BenchSecAggGrpc}). */
    record FixedClient(String id, float[] delta, long examples) implements Client {
        @Override
        public FitRes fit(FitIns ins) {
            float[] x = ins.parameters().get("w").toFloats();
            for (int j = 0; j < x.length; j++) {
                x[j] += delta[j];
            }
            return new FitRes(id, Map.of("w", HostTensor.ofFloats(x, x.length)), examples, Map.of());
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            return new EvaluateRes(id, examples, Map.of());
        }
    }

    @Override
    public Integer call() {
        if (elements < 1 || rounds < 1 || clients.stream().anyMatch(n -> n < 2)) {
            throw new UserException("--elements and --rounds must be at least 1 and every --clients value at least 2");
        }
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode out = mapper.createObjectNode();
        out.put("elements", elements);
        out.put("bits", bits);
        out.put("drop", drop);
        out.put("cpu", cpuModel());
        out.put("threads", Runtime.getRuntime().availableProcessors());
        ArrayNode rows = out.putArray("results");
        if (grpc) {
            return overGrpc(mapper, out, rows);
        }
        for (int n : clients) {
            rows.add(measure(n, mapper));
        }
        if (json) {
            System.out.println(out.toPrettyString());
        } else {
            System.out.printf(Locale.ROOT, "secure aggregation, E = %d coordinates, %d bits, %d dropping; %s, %d threads%n",
                    elements, bits, drop, out.get("cpu").asText(), out.get("threads").asInt());
            System.out.printf(Locale.ROOT, "%8s %4s %4s %14s %14s %14s %10s %12s %12s %12s%n", "clients", "k", "t",
                    "plain up/cl", "secure up/cl", "secure dn/cl", "plain ms", "secure ms", "client ms", "server ms");
            for (var r : rows) {
                System.out.printf(Locale.ROOT, "%8d %4d %4d %14d %14d %14d %10.1f %12.1f %12.1f %12.1f%n",
                        r.get("clients").asInt(), r.get("neighbours").asInt(), r.get("threshold").asInt(),
                        r.get("plain_bytes_up_per_client").asLong(), r.get("secure_bytes_up_per_client").asLong(),
                        r.get("secure_bytes_down_per_client").asLong(), r.get("plain_ms").asDouble(),
                        r.get("secure_ms").asDouble(), r.get("secure_client_ms_per_client").asDouble(),
                        r.get("secure_server_ms").asDouble());
            }
        }
        return 0;
    }

    private ObjectNode measure(int n, ObjectMapper mapper) {
        SplittableRandom rng = new SplittableRandom(n);
        Map<String, HostTensor> global = Map.of("w", HostTensor.ofFloats(new float[elements], elements));
        Map<String, Client> plainClients = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            float[] d = new float[elements];
            for (int j = 0; j < elements; j++) {
                d[j] = (float) (0.01 * rng.nextGaussian());
            }
            String id = String.format("c%03d", i);
            plainClients.put(id, new FixedClient(id, d, 100 + i));
        }
        SecAggSettings settings = new SecAggSettings(threshold, neighbours, bits, 1.0, 10_000);
        double[] plainMs = new double[rounds];
        double[] secureMs = new double[rounds];
        double[] clientMs = new double[rounds];
        long plainUp = 0;
        long secureUp = 0;
        long secureDown = 0;
        for (int r = -1; r < rounds; r++) { // r = -1: an untimed warm-up round
            // plain: the uploads (copied, as the in-memory transport does) and the weighted mean
            List<FitRes> trained = new ArrayList<>();
            for (Client c : plainClients.values()) {
                trained.add(c.fit(new FitIns(1, global, Map.of())));
            }
            long t0 = System.nanoTime();
            List<FitRes> received = new ArrayList<>();
            for (FitRes f : trained) {
                received.add(new FitRes(f.clientId(), Parameters.deepCopy(f.parameters()), f.numExamples(), f.metrics()));
            }
            Aggregation.weightedMean(received);
            double plainTime = (System.nanoTime() - t0) / 1e6;
            plainUp = received.stream().mapToLong(f -> Parameters.byteSize(f.parameters())).sum();

            // secure: training outside the clock, then the session
            SecureRandom random = new SecureRandom();
            Map<String, SecureClient> secure = new TreeMap<>();
            plainClients.forEach((id, c) -> secure.put(id, new SecureClient(id, c, random)));
            List<FitRes> metricsOnly = new ArrayList<>();
            secure.values().forEach(c -> metricsOnly.add(c.fit(new FitIns(1, global, Map.of()))));
            long[] clientNanos = new long[1];
            Map<String, InProcessChannel.Participant> timed = new TreeMap<>();
            secure.forEach((id, c) -> timed.put(id, m -> {
                long s = System.nanoTime();
                try {
                    return c.handle(m);
                } finally {
                    clientNanos[0] += System.nanoTime() - s;
                }
            }));
            List<String> dropping = List.copyOf(secure.keySet()).subList(0, Math.min(drop, n));
            InProcessChannel channel = new InProcessChannel(timed, (id, m) -> dropping.contains(id)
                    && m.stage().ordinal() >= Stage.MASKED_INPUT.ordinal(), m -> m);
            FedAvg inner = new FedAvg(FedAvg.Config.defaults(), global, ServerOptimizer.average());
            SecureAggregationStrategy strategy = new SecureAggregationStrategy(inner, channel, settings, random,
                    (Message m) -> { });
            long t1 = System.nanoTime();
            FitAggregate agg = strategy.aggregateFit(1, global, metricsOnly, List.of());
            double secureTime = (System.nanoTime() - t1) / 1e6;
            if (!agg.isAccepted()) {
                throw new UserException("the secure round with " + n + " clients failed: " + agg.rejection().get());
            }
            if (r >= 0) {
                plainMs[r] = plainTime;
                secureMs[r] = secureTime;
                clientMs[r] = clientNanos[0] / 1e6;
            }
            secureUp = channel.bytesUp();
            secureDown = channel.bytesDown();
        }
        ObjectNode row = mapper.createObjectNode();
        row.put("clients", n);
        row.put("neighbours", settings.neighboursFor(n));
        row.put("threshold", settings.thresholdFor(n));
        row.put("plain_bytes_up_per_client", plainUp / n);
        row.put("secure_bytes_up_per_client", secureUp / n);
        row.put("secure_bytes_down_per_client", secureDown / n);
        row.put("plain_ms", median(plainMs));
        row.put("secure_ms", median(secureMs));
        row.put("secure_client_ms_per_client", median(clientMs) / n);
        row.put("secure_server_ms", median(secureMs) - median(clientMs));
        return row;
    }

    private int overGrpc(ObjectMapper mapper, ObjectNode out, ArrayNode rows) {
        if (drop > 0) {
            throw new UserException("--drop applies to the in-process measurement; --grpc measures complete rounds");
        }
        SecAggSettings settings = new SecAggSettings(threshold, neighbours, bits, 1.0, 10_000);
        out.put("transport", "grpc loopback, plaintext");
        out.put("rounds", rounds);
        for (int n : clients) {
            for (String setting : BenchSecAggGrpc.SETTINGS) {
                if (!json) {
                    System.err.printf(Locale.ROOT, "%d clients, %s: %d rounds after a warm-up ...%n", n, setting,
                            rounds);
                }
                rows.add(BenchSecAggGrpc.measure(setting, n, elements, rounds, settings, mapper));
            }
        }
        if (json) {
            System.out.println(out.toPrettyString());
            return 0;
        }
        System.out.printf(Locale.ROOT, "rounds over gRPC (loopback, plaintext), E = %d coordinates, %d bits; median of "
                + "%d rounds; %s, %d threads%n", elements, bits, rounds, out.get("cpu").asText(),
                out.get("threads").asInt());
        System.out.printf(Locale.ROOT, "%8s %-20s %12s %16s %16s %10s %10s%n", "clients", "setting", "round ms",
                "down B/round", "up B/round", "ms ×", "up ×");
        double plainMs = 0;
        long plainUp = 0;
        for (var r : rows) {
            if (r.get("setting").asText().equals("plain")) {
                plainMs = r.get("round_ms").asDouble();
                plainUp = r.get("bytes_up_per_round").asLong();
            }
            System.out.printf(Locale.ROOT, "%8d %-20s %12.1f %16d %16d %10.2f %10.3f%n", r.get("clients").asInt(),
                    r.get("setting").asText(), r.get("round_ms").asDouble(), r.get("bytes_down_per_round").asLong(),
                    r.get("bytes_up_per_round").asLong(), r.get("round_ms").asDouble() / plainMs,
                    r.get("bytes_up_per_round").asLong() / (double) plainUp);
        }
        return 0;
    }

    /** lscpu's "Model name", from /proc/cpuinfo. */
    static String cpuModel() {
        try {
            return java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("model name")).map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst().orElse("unknown");
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
