package org.fedqlora.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.RoundReport;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.Strategy;
import org.fedqlora.fed.privacy.DpAggregator;
import org.fedqlora.fed.privacy.DpClient;
import org.fedqlora.fed.privacy.DpSettings;
import org.fedqlora.fed.privacy.NoiseSource;
import org.fedqlora.fed.secagg.SecAggSettings;
import org.fedqlora.fed.secagg.SecureAggregationStrategy;
import org.fedqlora.fed.secagg.SecureClient;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.ClientAdapter;
import org.fedqlora.transport.grpc.FederationNode;
import org.fedqlora.transport.grpc.GrpcTransport;
import org.fedqlora.transport.grpc.Protocol;
import org.fedqlora.transport.grpc.SecAggPhases;
import org.fedqlora.transport.grpc.Tls;
import org.fedqlora.transport.grpc.proto.Capabilities;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code bench secagg --grpc}: rounds over real gRPC on loopback (plaintext; a server and one client node per client
 * in this process, each node with its own threads as a separate process would have), for three settings of the same
 * clients: plain streaming FedAvg, central DP (the server clips each update and adds the noise), and secure
 * aggregation with central DP (clients clip and mask, the server unmasks the sum and adds the noise). A client's
 * "training" adds a fixed random update of E coordinates, so a round's time is the protocol's: the fit phase
 * (download of the global, upload) and, with secure aggregation, its four stages. Bytes are serialized gRPC messages
 * (tasks down, results up), as the server counts them.
 */
final class BenchSecAggGrpc {
    static final String HASH = "sha256:bench";
    static final List<String> SETTINGS = List.of("plain", "central-dp", "secagg+central-dp");

    private BenchSecAggGrpc() {
    }

    /** One setting's rounds: per-round wall ms, bytes down and up (all clients), after one untimed warm-up round. */
    static ObjectNode measure(String setting, int n, int elements, int rounds, SecAggSettings secagg,
                              ObjectMapper mapper) {
        boolean secure = setting.startsWith("secagg");
        boolean dp = setting.contains("central-dp");
        Map<String, HostTensor> global = Map.of("w", HostTensor.ofFloats(new float[elements], elements));
        GrpcTransport server = GrpcTransport.start(0, Tls.insecureServer(), false, GrpcTransport.Options
                .defaults(HASH).withPollMs(500).withRoundTimeout(Duration.ofSeconds(300)));
        List<FederationNode> nodes = new ArrayList<>();
        try {
            server.setExpectedUpload(ins -> secure ? Set.of() : Set.of("w"));
            SplittableRandom rng = new SplittableRandom(n);
            for (int i = 0; i < n; i++) {
                float[] d = new float[elements];
                for (int j = 0; j < elements; j++) {
                    d[j] = (float) (0.01 * rng.nextGaussian());
                }
                String id = String.format("c%03d", i);
                FederationNode node = new FederationNode(new FederationNode.Options("localhost:" + server.port(),
                        Tls.insecureClient(), Duration.ofMillis(50), Duration.ofSeconds(2), i),
                        List.of(client(id, d, 100 + i, secure, dp)));
                Thread t = new Thread(node::run, "bench-node-" + id);
                t.setDaemon(true);
                t.start();
                nodes.add(node);
            }
            if (server.awaitClients(n, Duration.ofSeconds(60), k -> { }) < n) {
                throw new UserException("only some of the " + n + " bench clients connected to the loopback server");
            }
            FedAvg.Config fc = FedAvg.Config.defaults().withFailurePolicy(new FailurePolicy(n, 1.0));
            FedAvg fedAvg = dp ? new FedAvg(fc, global, ServerOptimizer.average(), new DpAggregator(new DpSettings(
                    DpSettings.Mode.CENTRAL, 1.0, false, 0.5, 0.2, 0, 1.0, 1e-5, 0, 1.0, n), NoiseSource.secure()))
                    : new FedAvg(fc, global, ServerOptimizer.average());
            SecAggPhases.Channel channel = new SecAggPhases.Channel(server);
            Strategy strategy = secure ? new SecureAggregationStrategy(fedAvg, channel, secagg, new SecureRandom(),
                    m -> { }) : fedAvg;
            double[] ms = new double[rounds];
            long[] down = new long[rounds];
            long[] up = new long[rounds];
            long[] seen = {0, 0};
            int[] index = {-1};
            new Server(strategy, server, new Server.Config(rounds + 1, 0, 1)).run((RoundReport r) -> {
                if (r.rejection().isPresent()) {
                    throw new UserException("bench round " + r.round() + " (" + setting + ") did not count: "
                            + r.rejection().get());
                }
                long d = r.bytesDown() + channel.bytesDown() - seen[0];
                long u = r.bytesUp() + channel.bytesUp() - seen[1];
                seen[0] = channel.bytesDown();
                seen[1] = channel.bytesUp();
                if (index[0] >= 0) {
                    ms[index[0]] = r.seconds() * 1000;
                    down[index[0]] = d;
                    up[index[0]] = u;
                }
                index[0]++;
            });
            ObjectNode row = mapper.createObjectNode();
            row.put("setting", setting);
            row.put("clients", n);
            row.put("round_ms", median(ms));
            row.put("bytes_down_per_round", (long) median(Arrays.stream(down).asDoubleStream().toArray()));
            row.put("bytes_up_per_round", (long) median(Arrays.stream(up).asDoubleStream().toArray()));
            var all = row.putArray("round_ms_all");
            Arrays.stream(ms).forEach(all::add);
            return row;
        } finally {
            server.finish(Duration.ofSeconds(2));
            nodes.forEach(FederationNode::close);
            server.close();
        }
    }

    /** A client whose training adds {@code delta}; wrapped for DP and secure aggregation as a deployed client is. */
    private static FederationNode.VirtualClient client(String id, float[] delta, long examples, boolean secure,
                                                       boolean dp) {
        Client fixed = new BenchSecAggCommand.FixedClient(id, delta, examples);
        SecureRandom random = new SecureRandom();
        AtomicReference<SecureClient> current = new AtomicReference<>();
        Capabilities caps = Capabilities.newBuilder().setFormat("fp32").setNumExamples(examples).setBaseModelHash(HASH)
                .setSoftware(Protocol.SOFTWARE).build();
        return new ClientAdapter(id, caps, task -> {
            if (!secure) {
                return fixed;
            }
            current.set(new SecureClient(id, dp ? DpClient.clipping(fixed, id) : fixed, random));
            return current.get();
        }, SecAggPhases.handlers(task -> current.get()));
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
