package org.fedqlora.transport.grpc;

import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.PhaseResult;
import org.fedqlora.fed.RunningMean;
import org.fedqlora.fed.Transport;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.proto.Capabilities;
import org.fedqlora.transport.grpc.proto.JoinReply;
import org.fedqlora.transport.grpc.proto.JoinRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The server side of the deployment: a gRPC server (federation.proto) that is also the {@link Transport} the round
 * loop drives. {@code fit} / {@code evaluate} turn each instruction into a task queued for its client, wait until
 * every asked client answered, failed, disconnected or ran past the round timeout, and return results and
 * {@link Failure}s; nothing a client sends escapes as an exception.
 *
 * <p>Every result is checked before it is used ({@link Sessions#push}): the sender holds a session bound to its
 * certificate, the task was given to it, round and phase match, the phase is still open, every tensor's
 * checksum, size, name, shape, dtype and values are valid. With {@link #fit(Map, RunningMean)} each valid update is
 * folded into the running sum as it arrives and dropped (server memory O(model), not O(clients × model)).
 *
 * <p>Extension protocols (secure aggregation) run their own phases with {@link #exchange}: named tensors and a
 * string config down, named tensors, counts and metrics up, validated by the caller's {@link Acceptor}.
 */
public final class GrpcTransport implements Transport {
    private static final Logger LOG = LoggerFactory.getLogger(GrpcTransport.class);

    /**
     * Server settings.
     *
     * @param chunkBytes          largest data chunk sent and accepted
     * @param compression         the encoding clients must use for uploads
     * @param maxUpdateBytes      largest accepted upload (sum of encoded tensor bytes)
     * @param roundTimeout        how long a phase waits for its clients
     * @param pollMs              how long a PullTask is held open without work
     * @param disconnectGrace     a client with no PullTask open for this long counts as disconnected
     * @param maxConcurrentUploads uploads decoded at the same time (bounds server memory); others wait their turn
     * @param baseModelHash       the hash every client's base model must have
     * @param allowList           certificate common names allowed to join (empty: every certificate of the CA)
     * @param configYaml          sent to clients at Join
     * @param registration        extra checks of a joining client (id, capabilities) → refusal reason, or null
     */
    public record Options(int chunkBytes, Compression compression, long maxUpdateBytes, Duration roundTimeout,
                          int pollMs, Duration disconnectGrace, int maxConcurrentUploads, String baseModelHash,
                          Set<String> allowList, String configYaml,
                          BiFunction<String, Capabilities, String> registration) {
        public Options {
            if (chunkBytes < 1024 || chunkBytes > Protocol.MAX_MESSAGE_BYTES / 2) {
                throw new IllegalArgumentException("transport.chunk_bytes must be in [1024, "
                        + Protocol.MAX_MESSAGE_BYTES / 2 + "], got " + chunkBytes);
            }
            Objects.requireNonNull(compression, "compression");
            Objects.requireNonNull(baseModelHash, "baseModelHash");
            allowList = Set.copyOf(allowList);
            configYaml = configYaml == null ? "" : configYaml;
            registration = registration == null ? (id, caps) -> null : registration;
        }

        /** Defaults for tests and tools: 1 MiB chunks, no compression, 1 GiB limit, 60 s rounds. */
        public static Options defaults(String baseModelHash) {
            return new Options(Protocol.DEFAULT_CHUNK_BYTES, Compression.NONE, Protocol.DEFAULT_MAX_UPDATE_BYTES,
                    Duration.ofSeconds(60), Protocol.DEFAULT_POLL_MS, Duration.ofSeconds(3), 4, baseModelHash,
                    Set.of(), "", null);
        }

        public Options withRoundTimeout(Duration t) {
            return new Options(chunkBytes, compression, maxUpdateBytes, t, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, configYaml, registration);
        }

        public Options withChunkBytes(int c) {
            return new Options(c, compression, maxUpdateBytes, roundTimeout, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, configYaml, registration);
        }

        public Options withCompression(Compression c) {
            return new Options(chunkBytes, c, maxUpdateBytes, roundTimeout, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, configYaml, registration);
        }

        public Options withMaxUpdateBytes(long m) {
            return new Options(chunkBytes, compression, m, roundTimeout, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, configYaml, registration);
        }

        public Options withPollMs(int p) {
            return new Options(chunkBytes, compression, maxUpdateBytes, roundTimeout, p, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, configYaml, registration);
        }

        public Options withAllowList(Set<String> a) {
            return new Options(chunkBytes, compression, maxUpdateBytes, roundTimeout, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, a, configYaml, registration);
        }

        public Options withConfigYaml(String y) {
            return new Options(chunkBytes, compression, maxUpdateBytes, roundTimeout, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, y, registration);
        }

        public Options withRegistration(BiFunction<String, Capabilities, String> r) {
            return new Options(chunkBytes, compression, maxUpdateBytes, roundTimeout, pollMs, disconnectGrace,
                    maxConcurrentUploads, baseModelHash, allowList, configYaml, r);
        }

        public Options withMaxConcurrentUploads(int n) {
            return new Options(chunkBytes, compression, maxUpdateBytes, roundTimeout, pollMs, disconnectGrace, n,
                    baseModelHash, allowList, configYaml, registration);
        }
    }

    /** What the server sends one client in one phase. */
    public record Outgoing(int round, String phase, Map<String, String> config, Map<String, HostTensor> tensors) {
    }

    /** What one client answered (after the {@link Acceptor}: tensors may have been folded away). */
    public record Incoming(String clientId, long numExamples, Map<String, Double> metrics,
                           Map<String, HostTensor> tensors) {
    }

    /**
     * Checks (and may consume) one decoded answer; throws {@link ProtocolException} to reject it. Runs on a
     * network thread, possibly concurrently for different clients; must not keep a rejected answer.
     */
    @FunctionalInterface
    public interface Acceptor {
        Incoming accept(Outgoing asked, Incoming answer);
    }

    private final Options options;
    private final io.grpc.Server server;
    private final Sessions sessions;
    private final ScheduledExecutorService timer;
    private final AtomicLong phases = new AtomicLong();
    private volatile Function<FitIns, Set<String>> expectedUpload = ins -> ins.parameters().keySet();

    private GrpcTransport(Options options, io.grpc.Server server, Sessions sessions, ScheduledExecutorService timer) {
        this.options = options;
        this.server = server;
        this.sessions = sessions;
        this.timer = timer;
    }

    /**
     * Starts a server on {@code port} (0: an ephemeral port, see {@link #port()}).
     *
     * @param credentials {@link Tls#serverCredentials} (mutual TLS) or {@link InsecureServerCredentials}
     * @param mutualTls   whether clients are identified by certificate (false only with --insecure)
     */
    public static GrpcTransport start(int port, ServerCredentials credentials, boolean mutualTls, Options options) {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "federation-timer");
            t.setDaemon(true);
            return t;
        });
        Sessions sessions = new Sessions(options, timer, mutualTls);
        io.grpc.Server server = Grpc.newServerBuilderForPort(port, credentials)
                .addService(ServerInterceptors.intercept(new FederationService(sessions), new PeerIdentity()))
                .maxInboundMessageSize(Protocol.MAX_MESSAGE_BYTES)
                .permitKeepAliveTime(5, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .build();
        try {
            server.start();
        } catch (IOException e) {
            timer.shutdownNow();
            throw new UncheckedIOException("cannot listen on port " + port + " (" + e.getMessage()
                    + "): is another server running there? choose another --port", e);
        }
        return new GrpcTransport(options, server, sessions, timer);
    }

    /** The port the server listens on. */
    public int port() {
        return server.getPort();
    }

    public Options options() {
        return options;
    }

    /** Which tensors a client must return for its FitIns (default: every tensor it was sent). */
    public void setExpectedUpload(Function<FitIns, Set<String>> expected) {
        this.expectedUpload = Objects.requireNonNull(expected, "expected");
    }

    /** The method name put in task headers (clients keep separate state per method). */
    public void setMethod(String method) {
        sessions.method = method;
    }

    /** The run's labels in id order, sent with every task. */
    public void setLabels(List<String> labels) {
        sessions.labels = List.copyOf(labels);
    }

    /** Stable client indices (seeding client-side randomness): id → index, assigned on a client's first task. */
    public Map<String, Integer> roster() {
        return sessions.roster();
    }

    /** Restores indices saved with {@link #roster()} (on --resume). */
    public void restoreRoster(Map<String, Integer> roster) {
        sessions.restoreRoster(roster);
    }

    /** The registered clients' capabilities, by id. */
    public SortedMap<String, Capabilities> capabilities() {
        return sessions.capabilities();
    }

    /** Waits until at least {@code n} clients are connected, or {@code timeout} passed; returns how many are. */
    public int awaitClients(int n, Duration timeout, java.util.function.IntConsumer progress) {
        long end = System.nanoTime() + timeout.toNanos();
        int last = -1;
        while (true) {
            int now = availableClients().size();
            if (now != last) {
                progress.accept(now);
                last = now;
            }
            if (now >= n || System.nanoTime() > end) {
                return now;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return availableClients().size();
            }
        }
    }

    @Override
    public List<String> availableClients() {
        return sessions.connectedIds();
    }

    @Override
    public boolean foldsUpdates() {
        return true;
    }

    @Override
    public PhaseResult<FitRes> fit(Map<String, FitIns> instructions) {
        return fit(instructions, null);
    }

    @Override
    public PhaseResult<FitRes> fit(Map<String, FitIns> instructions, RunningMean sink) {
        Map<String, Outgoing> out = new TreeMap<>();
        Map<String, Set<String>> expected = new TreeMap<>();
        Map<Outgoing, Set<String>> expectedByMessage = new java.util.IdentityHashMap<>();
        Map<FitIns, Outgoing> shared = new java.util.IdentityHashMap<>();
        instructions.forEach((id, ins) -> {
            Outgoing o = shared.computeIfAbsent(ins, i -> new Outgoing(i.round(), Failure.FIT, i.config(),
                    i.parameters()));
            out.put(id, o);
            expectedByMessage.computeIfAbsent(o, k -> Set.copyOf(expectedUpload.apply(ins)));
            expected.put(id, expectedByMessage.get(o));
        });
        PhaseResult<Incoming> r = exchange(Failure.FIT, out, (asked, answer) -> {
            UpdateValidator.check("client '" + answer.clientId() + "'", answer.tensors(), asked.tensors(),
                    expectedByMessage.get(asked));
            if (sink == null) {
                return answer;
            }
            try {
                sink.add(answer.clientId(), answer.tensors(), answer.numExamples());
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(e.getMessage());
            }
            return new Incoming(answer.clientId(), answer.numExamples(), answer.metrics(), Map.of());
        });
        List<FitRes> results = r.results().stream()
                .map(i -> new FitRes(i.clientId(), i.tensors(), i.numExamples(), i.metrics())).toList();
        return new PhaseResult<>(results, r.failures(), r.bytesDown(), r.bytesUp());
    }

    @Override
    public PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions) {
        Map<String, Outgoing> out = new TreeMap<>();
        Map<EvaluateIns, Outgoing> shared = new java.util.IdentityHashMap<>();
        instructions.forEach((id, ins) -> out.put(id, shared.computeIfAbsent(ins,
                i -> new Outgoing(i.round(), Failure.EVALUATE, i.config(), i.parameters()))));
        PhaseResult<Incoming> r = exchange(Failure.EVALUATE, out, (asked, answer) -> {
            if (!answer.tensors().isEmpty()) {
                throw new ProtocolException("client '" + answer.clientId() + "' sent " + answer.tensors().size()
                        + " tensors with an evaluation result; evaluation answers carry metrics only");
            }
            for (Map.Entry<String, Double> m : answer.metrics().entrySet()) {
                if (!Double.isFinite(m.getValue()) && !m.getKey().contains("loss")) {
                    throw new ProtocolException("client '" + answer.clientId() + "' reports metric '" + m.getKey()
                            + "' = " + m.getValue() + "; metrics must be finite");
                }
            }
            return answer;
        });
        List<EvaluateRes> results = r.results().stream()
                .map(i -> new EvaluateRes(i.clientId(), i.numExamples(), i.metrics())).toList();
        return new PhaseResult<>(results, r.failures(), r.bytesDown(), r.bytesUp());
    }

    /**
     * One phase with any name: sends each client its {@link Outgoing} (instructions sharing one Outgoing object
     * share one encoding), waits for answers until all arrived or the round timeout passed, and returns the
     * accepted answers and the failures (not connected, disconnected, timed out, rejected, client-reported), both
     * in ascending client id order. Bytes are counted on the wire (serialized messages).
     *
     * @param phase a name such as "fit", "evaluate" or "secagg.share_keys"; failures of phases other than fit
     *              are reported under {@link Failure#EVALUATE}'s record type with the phase in the reason
     */
    public PhaseResult<Incoming> exchange(String phase, Map<String, Outgoing> instructions, Acceptor acceptor) {
        String failPhase = Failure.FIT.equals(phase) ? Failure.FIT : Failure.EVALUATE;
        Sessions.Phase p = sessions.openPhase(phase + "-" + phases.incrementAndGet(), failPhase, acceptor,
                options.roundTimeout());
        Map<Outgoing, Sessions.EncodedMessage> encoded = new java.util.IdentityHashMap<>();
        for (Map.Entry<String, Outgoing> e : new TreeMap<>(instructions).entrySet()) {
            Sessions.EncodedMessage m = encoded.computeIfAbsent(e.getValue(), Sessions::encode);
            sessions.assign(p, e.getKey(), e.getValue(), m);
        }
        p.await(options.disconnectGrace());
        sessions.closePhase(p);
        List<Incoming> results = new ArrayList<>(p.results().values());
        results.sort(Comparator.comparing(Incoming::clientId));
        List<Failure> failures = new ArrayList<>(p.failures().values());
        failures.sort(Comparator.comparing(Failure::clientId));
        return new PhaseResult<>(results, failures, p.bytesDown(), p.bytesUp());
    }

    /** Tells every client the run is over (their next pull answers DONE) and waits up to {@code grace}. */
    public void finish(Duration grace) {
        sessions.finish();
        long end = System.nanoTime() + grace.toNanos();
        while (System.nanoTime() < end && sessions.anyUnfinished()) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** CPU time the server spent handling uploads (decode, checksums, validation, folding), in ns. */
    public long handlerCpuNanos() {
        return sessions.handlerCpuNanos();
    }

    /** The most update bytes the server held at once (in-flight uploads) since {@link #resetPeakBufferedBytes}. */
    public long peakBufferedBytes() {
        return sessions.peakBufferedBytes();
    }

    public void resetPeakBufferedBytes() {
        sessions.resetPeak();
    }

    /** Per-client counters for reports: id → {connected (0/1), tasks answered, tasks failed}. */
    public Map<String, long[]> clientCounters() {
        return sessions.counters();
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timer.shutdownNow();
    }

    /** For log lines: a short random id. */
    static String newToken() {
        return UUID.randomUUID().toString();
    }

    static Map<String, String> sortedStrings(Map<String, String> m) {
        return new LinkedHashMap<>(new TreeMap<>(m));
    }

    static Set<String> sortedSet(Set<String> s) {
        return new TreeSet<>(s);
    }

    static JoinReply refuse(String reason) {
        LOG.warn("join refused: {}", reason);
        return JoinReply.newBuilder().setAccepted(false).setReason(reason).setProtocolVersion(Protocol.VERSION).build();
    }

    static boolean validJoin(JoinRequest r) {
        return !r.getClientId().isBlank();
    }
}
