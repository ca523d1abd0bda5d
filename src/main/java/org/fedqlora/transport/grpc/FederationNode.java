package org.fedqlora.transport.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import org.fedqlora.UserException;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.proto.Capabilities;
import org.fedqlora.transport.grpc.proto.End;
import org.fedqlora.transport.grpc.proto.FederationGrpc;
import org.fedqlora.transport.grpc.proto.JoinReply;
import org.fedqlora.transport.grpc.proto.JoinRequest;
import org.fedqlora.transport.grpc.proto.LeaveRequest;
import org.fedqlora.transport.grpc.proto.PullRequest;
import org.fedqlora.transport.grpc.proto.PushReply;
import org.fedqlora.transport.grpc.proto.ResultChunk;
import org.fedqlora.transport.grpc.proto.ResultHeader;
import org.fedqlora.transport.grpc.proto.TaskChunk;
import org.fedqlora.transport.grpc.proto.TaskHeader;
import org.fedqlora.transport.grpc.proto.TaskKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The client side of the deployment: dials the server (it never listens, so it may sit behind NAT), joins one or
 * more virtual clients, keeps a long-poll open per virtual client (its heartbeat, also while it works), runs each
 * task on one worker thread (virtual clients of a process share its base model, so they take turns) and streams
 * the answer back in chunks. When the server is unreachable or restarts it reconnects with exponential backoff,
 * jitter and a cap, and joins again; a refusal at Join (another base model, protocol version, certificate) is
 * final and ends {@link #run()} with that message.
 */
public final class FederationNode implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FederationNode.class);

    /** One task as a virtual client sees it. */
    public record Task(String clientId, String taskId, int round, String phase, String method,
                       Map<String, String> config, int clientIndex, List<String> labels,
                       SortedMap<String, HostTensor> tensors) {
    }

    /** A virtual client's answer. */
    public record Answer(long numExamples, Map<String, Double> metrics, Map<String, HostTensor> tensors) {
    }

    /** What runs behind one client id: its capabilities and its work. */
    public interface VirtualClient {
        String id();

        Capabilities capabilities();

        /** Called after every successful Join (the reply carries the run's config). */
        default void joined(JoinReply reply) {
        }

        /** Does one task; an exception is sent to the server as this task's failure. */
        Answer handle(Task task) throws Exception;
    }

    /**
     * @param target      host:port of the server
     * @param credentials {@link Tls#clientCredentials} or {@link Tls#insecureClient}
     * @param backoffBase first reconnection delay ceiling
     * @param backoffCap  largest reconnection delay
     * @param seed        seeds the jitter
     */
    public record Options(String target, ChannelCredentials credentials, Duration backoffBase, Duration backoffCap,
                          long seed) {
        public Options {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(credentials, "credentials");
        }

        public static Options of(String target, ChannelCredentials credentials) {
            return new Options(target, credentials, Duration.ofMillis(250), Duration.ofSeconds(15), System.nanoTime());
        }
    }

    private final Options options;
    private final List<VirtualClient> clients;
    private final ManagedChannel channel;
    private final ExecutorService worker;
    private final boolean ownWorker;
    private final AtomicLong joins = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicReference<String> fatal = new AtomicReference<>();
    private final AtomicLong bytesUp = new AtomicLong();
    private final AtomicLong bytesDown = new AtomicLong();
    private final AtomicLong tasksDone = new AtomicLong();

    public FederationNode(Options options, List<? extends VirtualClient> clients) {
        this(options, clients, null);
    }

    /**
     * @param worker runs the tasks; nodes in one process that share a base model or the engine's single gradient
     *               tape must share it (null: a worker thread of its own)
     */
    public FederationNode(Options options, List<? extends VirtualClient> clients, ExecutorService worker) {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("a node needs at least one virtual client");
        }
        this.options = options;
        this.clients = List.copyOf(clients);
        this.channel = Grpc.newChannelBuilder(options.target(), options.credentials())
                .maxInboundMessageSize(Protocol.MAX_MESSAGE_BYTES)
                .keepAliveTime(30, TimeUnit.SECONDS)
                .build();
        this.ownWorker = worker == null;
        this.worker = worker != null ? worker : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "federation-worker");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs every virtual client until the server says the run is done, {@link #close()} is called, or a Join is
     * refused.
     *
     * @throws UserException with the server's reason if a Join was refused
     */
    public void run() {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < clients.size(); i++) {
            VirtualClient c = clients.get(i);
            Backoff backoff = new Backoff(options.backoffBase(), options.backoffCap(), options.seed() * 31 + i);
            Thread t = new Thread(() -> loop(c, backoff), "federation-" + c.id());
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                break;
            }
        }
        if (fatal.get() != null) {
            throw new UserException(fatal.get());
        }
    }

    public long bytesUp() {
        return bytesUp.get();
    }

    public long bytesDown() {
        return bytesDown.get();
    }

    /** Successful Joins so far (a rejoin after a server restart counts again). */
    public long joins() {
        return joins.get();
    }

    public long tasksDone() {
        return tasksDone.get();
    }

    private void loop(VirtualClient c, Backoff backoff) {
        FederationGrpc.FederationBlockingStub stub = FederationGrpc.newBlockingStub(channel);
        JoinReply session = null;
        boolean warned = false;
        while (!closed.get() && fatal.get() == null) {
            try {
                if (session == null) {
                    JoinReply r = stub.withDeadlineAfter(30, TimeUnit.SECONDS).join(JoinRequest.newBuilder()
                            .setProtocolVersion(Protocol.VERSION).setClientId(c.id())
                            .setCapabilities(c.capabilities()).build());
                    if (!r.getAccepted()) {
                        fatal.compareAndSet(null, "the server refused client '" + c.id() + "': " + r.getReason());
                        return;
                    }
                    try {
                        c.joined(r);
                    } catch (UserException e) {
                        // this client cannot take part in the run the server describes (e.g. its data is for
                        // another task): fatal, as a refused Join is
                        fatal.compareAndSet(null, e.getMessage());
                        return;
                    }
                    session = r;
                    joins.incrementAndGet();
                    LOG.info("{} joined {} (protocol v{})", c.id(), options.target(), r.getProtocolVersion());
                }
                Iterator<TaskChunk> it = stub.withDeadlineAfter(session.getPollMs() + 60_000L, TimeUnit.MILLISECONDS)
                        .pullTask(PullRequest.newBuilder().setSession(session.getSession())
                                .setWaitMs(session.getPollMs()).build());
                TaskChunk first = it.next();
                bytesDown.addAndGet(first.getSerializedSize());
                if (first.getPartCase() != TaskChunk.PartCase.HEADER) {
                    throw new ProtocolException("a task stream must start with its header");
                }
                TaskHeader h = first.getHeader();
                backoff.reset();
                warned = false;
                if (h.getKind() == TaskKind.DONE) {
                    LOG.info("{}: the server says the run is finished", c.id());
                    return;
                }
                if (h.getKind() == TaskKind.REJOIN) {
                    LOG.info("{}: {}", c.id(), h.getNote());
                    session = null;
                    continue;
                }
                if (h.getKind() != TaskKind.TASK) {
                    continue;
                }
                Task task = receive(c.id(), h, it, session);
                JoinReply s = session;
                worker.execute(() -> {
                    if (!closed.get()) {
                        work(c, task, s);
                    }
                });
            } catch (StatusRuntimeException e) {
                if (closed.get()) {
                    return;
                }
                long delay = backoff.nextDelayMs();
                if (!warned) {
                    LOG.warn("{}: server {} unreachable ({}); retrying with backoff (next in {} ms, at most {} s)",
                            c.id(), options.target(), describe(e), delay, options.backoffCap().toSeconds());
                    warned = true;
                }
                sleep(delay);
            } catch (ProtocolException e) {
                LOG.warn("{}: bad task from the server: {}", c.id(), e.getMessage());
                sleep(backoff.nextDelayMs());
            }
        }
    }

    private static String describe(StatusRuntimeException e) {
        Status s = e.getStatus();
        return s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
    }

    private Task receive(String id, TaskHeader h, Iterator<TaskChunk> it, JoinReply session) {
        TensorAssembler asm = new TensorAssembler("the server", h.getTensorCount(), Long.MAX_VALUE,
                Math.max(session.getChunkBytes(), Protocol.DEFAULT_CHUNK_BYTES));
        boolean ended = false;
        while (it.hasNext()) {
            TaskChunk c = it.next();
            bytesDown.addAndGet(c.getSerializedSize());
            switch (c.getPartCase()) {
                case TENSOR -> asm.header(c.getTensor());
                case DATA -> asm.data(c.getData());
                case END -> ended = true;
                default -> throw new ProtocolException("unexpected part " + c.getPartCase() + " in a task stream");
            }
        }
        if (!ended) {
            throw new ProtocolException("task " + h.getTaskId() + " ended without its End part");
        }
        return new Task(id, h.getTaskId(), h.getRound(), h.getPhase(), h.getMethod(), new TreeMap<>(h.getConfigMap()),
                h.getClientIndex(), List.copyOf(h.getLabelsList()), asm.finish());
    }

    private void work(VirtualClient c, Task task, JoinReply session) {
        ResultHeader.Builder h = ResultHeader.newBuilder().setSession(session.getSession())
                .setTaskId(task.taskId()).setRound(task.round()).setPhase(task.phase());
        Map<String, HostTensor> tensors = Map.of();
        try {
            Answer a = c.handle(task);
            h.setNumExamples(a.numExamples()).putAllMetrics(a.metrics()).setTensorCount(a.tensors().size());
            tensors = a.tensors();
        } catch (Exception | Error e) {
            LOG.warn("{}: {} of round {} failed: {}", c.id(), task.phase(), task.round(), e.toString());
            h.setFailure(e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        try {
            PushReply r = push(h.build(), tensors, Compression.parse(session.getUploadCompression()),
                    session.getChunkBytes(), Duration.ofMillis(Math.max(30_000, task.round() >= 0 ? 120_000 : 0)));
            tasksDone.incrementAndGet();
            if (!r.getAccepted()) {
                LOG.warn("{}: the server rejected the {} result of round {}: {}", c.id(), task.phase(), task.round(),
                        r.getReason());
            }
        } catch (RuntimeException e) {
            LOG.warn("{}: could not send the {} result of round {} ({}); the server will count it as failed",
                    c.id(), task.phase(), task.round(), e.toString());
        }
    }

    /** Streams one result (header, tensors in chunks, end) with flow control and waits for the verdict. */
    PushReply push(ResultHeader header, Map<String, HostTensor> tensors, Compression compression, int chunkBytes,
                   Duration timeout) {
        return push(channel, header, tensors, compression, chunkBytes, timeout, bytesUp);
    }

    /** As {@link #push(ResultHeader, Map, Compression, int, Duration)} on any channel (tests, benchmarks). */
    static PushReply push(io.grpc.Channel channel, ResultHeader header, Map<String, HostTensor> tensors,
                          Compression compression, int chunkBytes, Duration timeout, AtomicLong counter) {
        List<ResultChunk> parts = new ArrayList<>();
        parts.add(ResultChunk.newBuilder().setHeader(header).build());
        new TreeMap<>(tensors).forEach((name, t) -> {
            TensorCodec.Encoded e = TensorCodec.encode(name, t, compression);
            parts.add(ResultChunk.newBuilder().setTensor(e.header()).build());
            TensorCodec.chunks(e.bytes(), chunkBytes, d -> parts.add(ResultChunk.newBuilder().setData(d).build()));
        });
        parts.add(ResultChunk.newBuilder().setEnd(End.getDefaultInstance()).build());
        return pushParts(channel, parts, timeout, counter);
    }

    /** Sends prepared parts as one PushResult call (tests use it to send hostile streams). */
    static PushReply pushParts(io.grpc.Channel channel, List<ResultChunk> parts, Duration timeout, AtomicLong counter) {
        CompletableFuture<PushReply> reply = new CompletableFuture<>();
        Object ready = new Object();
        AtomicReference<ClientCallStreamObserver<ResultChunk>> call = new AtomicReference<>();
        ClientResponseObserver<ResultChunk, PushReply> observer = new ClientResponseObserver<>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<ResultChunk> requestStream) {
                call.set(requestStream);
                requestStream.setOnReadyHandler(() -> {
                    synchronized (ready) {
                        ready.notifyAll();
                    }
                });
            }

            @Override
            public void onNext(PushReply value) {
                reply.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                reply.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                reply.completeExceptionally(new IllegalStateException("the server closed the push without a reply"));
            }
        };
        FederationGrpc.newStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .pushResult(observer);
        ClientCallStreamObserver<ResultChunk> out = call.get();
        for (ResultChunk p : parts) {
            if (reply.isDone()) {
                break; // the server already answered (a rejection): stop sending
            }
            synchronized (ready) {
                while (!out.isReady() && !reply.isDone()) {
                    try {
                        ready.wait(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        out.cancel("interrupted", e);
                        throw new IllegalStateException("interrupted while sending a result", e);
                    }
                }
            }
            if (reply.isDone()) {
                break;
            }
            counter.addAndGet(p.getSerializedSize());
            out.onNext(p);
        }
        if (!reply.isDone()) {
            out.onCompleted();
        }
        try {
            return reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
        } catch (TimeoutException e) {
            throw new IllegalStateException("no reply to a result within " + timeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the server's reply", e);
        }
    }

    private void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed.set(true);
        }
    }

    /** Stops the node: tells the server (best effort) and closes the connection. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (ownWorker) {
            worker.shutdownNow();
        }
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Best-effort Leave for a session (used on orderly shutdown). */
    static void leave(io.grpc.Channel channel, String session, String reason) {
        try {
            FederationGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                    .leave(LeaveRequest.newBuilder().setSession(session).setReason(reason).build());
        } catch (StatusRuntimeException e) {
            LOG.debug("leave failed: {}", e.toString());
        }
    }
}
