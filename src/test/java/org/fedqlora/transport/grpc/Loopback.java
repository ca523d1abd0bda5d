package org.fedqlora.transport.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.proto.Capabilities;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/** Test harness: a server on an ephemeral loopback port and client nodes in this JVM. */
final class Loopback implements AutoCloseable {
    static final String HASH = "sha256:test-base";

    final GrpcTransport server;
    final List<FederationNode> nodes = new ArrayList<>();
    final List<Thread> threads = new ArrayList<>();

    Loopback(GrpcTransport.Options options) {
        this(options, Tls.insecureServer(), false);
    }

    Loopback(GrpcTransport.Options options, ServerCredentials credentials, boolean mutualTls) {
        this.server = GrpcTransport.start(0, credentials, mutualTls, options);
    }

    static GrpcTransport.Options fast() {
        return GrpcTransport.Options.defaults(HASH).withRoundTimeout(Duration.ofSeconds(20)).withPollMs(500);
    }

    String target() {
        return "localhost:" + server.port();
    }

    static Capabilities caps(String hash, long examples) {
        return Capabilities.newBuilder().setFormat("nf4").setNumExamples(examples).setBaseModelHash(hash)
                .addLabels("a").addLabels("b").build();
    }

    /** Starts a node hosting {@code clients} on a background thread. */
    FederationNode start(ChannelCredentials credentials, List<FederationNode.VirtualClient> clients) {
        FederationNode n = new FederationNode(new FederationNode.Options(target(), credentials,
                Duration.ofMillis(50), Duration.ofMillis(500), 7), clients);
        Thread t = new Thread(() -> {
            try {
                n.run();
            } catch (RuntimeException e) {
                // the test observes effects on the server
            }
        });
        t.setDaemon(true);
        t.start();
        nodes.add(n);
        threads.add(t);
        return n;
    }

    /** A client that returns every received tensor transformed by {@code update}. */
    static FederationNode.VirtualClient client(String id, long examples, UnaryOperator<float[]> update) {
        Client c = new Client() {
            @Override
            public FitRes fit(FitIns ins) {
                Map<String, HostTensor> out = new TreeMap<>();
                ins.parameters().forEach((n, t) -> out.put(n, HostTensor.ofFloats(update.apply(t.toFloats()), t.shape())));
                return new FitRes(id, out, examples, Map.of("train_loss", 0.5));
            }

            @Override
            public EvaluateRes evaluate(EvaluateIns ins) {
                return new EvaluateRes(id, examples, Map.of("accuracy", 0.75));
            }
        };
        return new ClientAdapter(id, caps(HASH, examples), task -> c, Map.of());
    }

    static UnaryOperator<float[]> plus(float d) {
        return v -> {
            float[] o = v.clone();
            for (int i = 0; i < o.length; i++) {
                o[i] += d;
            }
            return o;
        };
    }

    static Map<String, HostTensor> global() {
        Map<String, HostTensor> g = new LinkedHashMap<>();
        g.put("a.lora_A.weight", HostTensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        g.put("a.lora_B.weight", HostTensor.ofFloats(new float[] {0.5f, -0.5f}, 2, 1));
        return g;
    }

    void awaitClients(int n) {
        int got = server.awaitClients(n, Duration.ofSeconds(20), k -> { });
        if (got < n) {
            throw new AssertionError("only " + got + " of " + n + " clients connected");
        }
    }

    @Override
    public void close() {
        server.finish(Duration.ofSeconds(2));
        nodes.forEach(FederationNode::close);
        server.close();
    }
}
