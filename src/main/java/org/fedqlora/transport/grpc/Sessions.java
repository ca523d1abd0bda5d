package org.fedqlora.transport.grpc;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.fedqlora.fed.Failure;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.GrpcTransport.Acceptor;
import org.fedqlora.transport.grpc.GrpcTransport.Incoming;
import org.fedqlora.transport.grpc.GrpcTransport.Options;
import org.fedqlora.transport.grpc.GrpcTransport.Outgoing;
import org.fedqlora.transport.grpc.proto.Capabilities;
import org.fedqlora.transport.grpc.proto.End;
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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * The server's protocol state: registered clients (sessions), the tasks of open phases, parked long-polls and
 * uploads in progress. {@link FederationService} only translates gRPC calls into calls here, and
 * {@link GrpcTransport} opens and closes phases. All waiting is asynchronous (no thread per client), so a server
 * handles thousands of connected clients.
 */
final class Sessions {
    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);
    private static final Pattern CLIENT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final int MAX_TENSORS = 100_000;

    private final Options options;
    private final ScheduledExecutorService timer;
    private final boolean mutualTls;
    volatile String method = "";
    volatile List<String> labels = List.of();
    private final Map<String, Session> byToken = new ConcurrentHashMap<>();
    private final Map<String, Session> byId = new ConcurrentHashMap<>();
    private final Map<String, Integer> roster = new TreeMap<>();
    private final Map<String, long[]> counters = new ConcurrentHashMap<>();
    private final AtomicLong taskIds = new AtomicLong();
    private volatile boolean finished;
    private final AtomicLong handlerCpuNanos = new AtomicLong();
    private final AtomicLong bufferedBytes = new AtomicLong();
    private final AtomicLong peakBufferedBytes = new AtomicLong();
    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();
    private int uploadPermits;
    private final Deque<Runnable> waitingUploads = new ArrayDeque<>();

    Sessions(Options options, ScheduledExecutorService timer, boolean mutualTls) {
        this.options = options;
        this.timer = timer;
        this.mutualTls = mutualTls;
        this.uploadPermits = Math.max(1, options.maxConcurrentUploads());
    }

    // ---- registration ------------------------------------------------------------------------------------------

    /** A registered client. Mutable fields are guarded by the session's monitor. */
    static final class Session {
        final String id;
        final String token;
        final String subject;
        final Capabilities caps;
        final Deque<Task> queue = new ArrayDeque<>();
        final Map<String, Task> outstanding = new LinkedHashMap<>();
        int activePulls;
        long lastPullEndNanos = System.nanoTime() - TimeUnit.HOURS.toNanos(1); // connected from its first pull
        boolean left;
        boolean doneSent;
        Pull waiting;

        Session(String id, String token, String subject, Capabilities caps) {
            this.id = id;
            this.token = token;
            this.subject = subject;
            this.caps = caps;
        }
    }

    JoinReply join(JoinRequest r, String commonName) {
        String id = r.getClientId();
        if (r.getProtocolVersion() != Protocol.VERSION) {
            return GrpcTransport.refuse("client '" + id + "' speaks protocol version " + r.getProtocolVersion()
                    + " but this server speaks " + Protocol.VERSION + ": run the same fedqlora release on both sides");
        }
        if (!CLIENT_ID.matcher(id).matches()) {
            return GrpcTransport.refuse("client id '" + id + "' is invalid: use 1-128 letters, digits, '.', '_' or '-'");
        }
        if (mutualTls) {
            if (commonName == null) {
                return GrpcTransport.refuse("client '" + id + "' presented no certificate common name");
            }
            if (!id.equals(commonName) && !id.matches(Pattern.quote(commonName) + "-v[0-9]+")) {
                return GrpcTransport.refuse("client id '" + id + "' does not belong to certificate '" + commonName
                        + "': use the certificate's common name, or NAME-vK for virtual clients");
            }
        }
        String who = commonName == null ? id : commonName;
        if (!options.allowList().isEmpty() && !options.allowList().contains(who)) {
            return GrpcTransport.refuse("client '" + who + "' is not on the server's allow-list");
        }
        Capabilities caps = r.getCapabilities();
        if (!options.baseModelHash().equals(caps.getBaseModelHash())) {
            return GrpcTransport.refuse("client '" + id + "' loaded a different base model (hash "
                    + caps.getBaseModelHash() + ", the federation's is " + options.baseModelHash()
                    + "): every client must load the model named in the server's config");
        }
        String refusal = options.registration().apply(id, caps);
        if (refusal != null) {
            return GrpcTransport.refuse(refusal);
        }
        Session s = new Session(id, GrpcTransport.newToken(), who, caps);
        Session old = byId.put(id, s);
        byToken.put(s.token, s);
        if (old != null) {
            byToken.remove(old.token);
            List<Task> moved = new ArrayList<>();
            synchronized (old) {
                old.left = true;
                moved.addAll(old.outstanding.values());
                old.outstanding.clear();
                old.queue.clear();
                if (old.waiting != null) {
                    old.waiting.sendHeader(TaskHeader.newBuilder().setKind(TaskKind.REJOIN)
                            .setNote("this client joined again from another connection").build());
                    old.waiting = null;
                }
            }
            moved.removeIf(t -> t.phase.isClosed());
            synchronized (s) {
                for (Task t : moved) {
                    s.outstanding.put(t.taskId, t);
                    s.queue.add(t);
                }
            }
            LOG.info("client {} rejoined ({} open task(s) handed to the new session)", id, moved.size());
        } else {
            LOG.info("client {} joined: format {}, {} examples", id, caps.getFormat(), caps.getNumExamples());
        }
        counters.computeIfAbsent(id, k -> new long[3]);
        return JoinReply.newBuilder().setAccepted(true).setProtocolVersion(Protocol.VERSION).setSession(s.token)
                .setClientId(id).setConfigYaml(options.configYaml()).setChunkBytes(options.chunkBytes())
                .setUploadCompression(options.compression().id).setMaxUpdateBytes(options.maxUpdateBytes())
                .setPollMs(options.pollMs()).build();
    }

    void leave(LeaveRequest r, String commonName) {
        Session s = byToken.get(r.getSession());
        if (s == null || (mutualTls && !s.subject.equals(commonName))) {
            return;
        }
        List<Task> open;
        synchronized (s) {
            s.left = true;
            open = new ArrayList<>(s.outstanding.values());
            s.outstanding.clear();
            s.queue.clear();
        }
        byId.remove(s.id, s);
        byToken.remove(s.token);
        open.forEach(t -> t.phase.fail(s.id, "left the federation (" + r.getReason() + ")"));
        LOG.info("client {} left: {}", s.id, r.getReason());
    }

    List<String> connectedIds() {
        List<String> ids = new ArrayList<>();
        long now = System.nanoTime();
        byId.forEach((id, s) -> {
            if (connected(s, now)) {
                ids.add(id);
            }
        });
        ids.sort(null);
        return List.copyOf(ids);
    }

    private boolean connected(Session s, long now) {
        synchronized (s) {
            return !s.left && (s.activePulls > 0
                    || now - s.lastPullEndNanos < options.disconnectGrace().toNanos());
        }
    }

    SortedMap<String, Capabilities> capabilities() {
        SortedMap<String, Capabilities> out = new TreeMap<>();
        byId.forEach((id, s) -> out.put(id, s.caps));
        return out;
    }

    synchronized Map<String, Integer> roster() {
        return new TreeMap<>(roster);
    }

    synchronized void restoreRoster(Map<String, Integer> saved) {
        roster.clear();
        roster.putAll(saved);
    }

    private synchronized int indexOf(String id) {
        return roster.computeIfAbsent(id, k -> roster.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1);
    }

    /** CPU time spent in upload handling (decode, checksum, validation, fold) on server threads, in ns. */
    long handlerCpuNanos() {
        return handlerCpuNanos.get();
    }

    /** The most update bytes (encoded and decoded) the server held at once since the last reset. */
    long peakBufferedBytes() {
        return peakBufferedBytes.get();
    }

    void resetPeak() {
        peakBufferedBytes.set(bufferedBytes.get());
    }

    private void buffer(long delta) {
        long now = bufferedBytes.addAndGet(delta);
        peakBufferedBytes.accumulateAndGet(now, Math::max);
    }

    Map<String, long[]> counters() {
        Map<String, long[]> out = new TreeMap<>();
        long now = System.nanoTime();
        counters.forEach((id, c) -> {
            Session s = byId.get(id);
            out.put(id, new long[] {s != null && connected(s, now) ? 1 : 0, c[1], c[2]});
        });
        return out;
    }

    // ---- phases and tasks --------------------------------------------------------------------------------------

    /** The tensors of one Outgoing, encoded once (RAW) and shared by every task that sends them. */
    record EncodedMessage(List<TensorCodec.Encoded> tensors) {
    }

    static EncodedMessage encode(Outgoing o) {
        List<TensorCodec.Encoded> list = new ArrayList<>();
        new TreeMap<>(o.tensors()).forEach((name, t) -> list.add(TensorCodec.encode(name, t, Compression.NONE)));
        return new EncodedMessage(List.copyOf(list));
    }

    /** One client's share of a phase. */
    static final class Task {
        final String taskId;
        final String clientId;
        final Phase phase;
        final Outgoing asked;
        final EncodedMessage message;
        final int index;

        Task(String taskId, String clientId, Phase phase, Outgoing asked, EncodedMessage message, int index) {
            this.taskId = taskId;
            this.clientId = clientId;
            this.phase = phase;
            this.asked = asked;
            this.message = message;
            this.index = index;
        }
    }

    /** One phase of one round: who still owes an answer, the answers and the failures. */
    final class Phase {
        final String id;
        final String failPhase;
        final Acceptor acceptor;
        final long deadlineNanos;
        final long timeoutMs;
        private final Set<String> pending = new TreeSet<>();
        private final Map<String, Incoming> results = new TreeMap<>();
        private final Map<String, Failure> failures = new TreeMap<>();
        private final Map<String, Task> tasks = new HashMap<>();
        final AtomicLong down = new AtomicLong();
        final AtomicLong up = new AtomicLong();
        private boolean closed;

        Phase(String id, String failPhase, Acceptor acceptor, Duration timeout) {
            this.id = id;
            this.failPhase = failPhase;
            this.acceptor = acceptor;
            this.timeoutMs = timeout.toMillis();
            this.deadlineNanos = System.nanoTime() + timeout.toNanos();
        }

        synchronized boolean isClosed() {
            return closed;
        }

        synchronized void fail(String clientId, String reason) {
            if (closed || !pending.remove(clientId)) {
                return;
            }
            failures.put(clientId, new Failure(clientId, failPhase, reason, null));
            counters.computeIfAbsent(clientId, k -> new long[3])[2]++;
            LOG.warn("{}: client {} failed: {}", id, clientId, reason);
            notifyAll();
        }

        /** Validates (and folds) an answer while holding the phase, so that a closed phase can never change. */
        synchronized void answer(Task task, Incoming in) {
            if (closed || !pending.contains(task.clientId) || tasks.get(task.clientId) != task) {
                throw new ProtocolException("task " + task.taskId + " is closed (its round timed out or it was "
                        + "already answered)");
            }
            Incoming kept = acceptor.accept(task.asked, in);
            pending.remove(task.clientId);
            results.put(task.clientId, kept);
            counters.computeIfAbsent(task.clientId, k -> new long[3])[1]++;
            notifyAll();
        }

        /** Waits until nobody owes an answer; fails disconnected clients and, at the deadline, stragglers. */
        synchronized void await(Duration grace) {
            while (!pending.isEmpty()) {
                long now = System.nanoTime();
                if (now >= deadlineNanos) {
                    for (String id : new ArrayList<>(pending)) {
                        fail(id, "no answer within the round timeout of " + timeoutMs / 1000.0
                                + " s (straggler; server.round_timeout_s)");
                    }
                    break;
                }
                for (String id : new ArrayList<>(pending)) {
                    Session s = byId.get(id);
                    if (s == null) {
                        fail(id, "left the federation mid-round");
                        continue;
                    }
                    synchronized (s) {
                        if (s.left || (s.activePulls == 0 && now - s.lastPullEndNanos > grace.toNanos())) {
                            fail(id, "disconnected mid-round (no connection for " + grace.toMillis() / 1000.0
                                    + " s)");
                        }
                    }
                }
                try {
                    wait(Math.max(1, Math.min(100, (deadlineNanos - now) / 1_000_000)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    for (String id : new ArrayList<>(pending)) {
                        fail(id, "the server was interrupted");
                    }
                }
            }
            closed = true;
        }

        synchronized Map<String, Incoming> results() {
            return new TreeMap<>(results);
        }

        synchronized Map<String, Failure> failures() {
            return new TreeMap<>(failures);
        }

        long bytesDown() {
            return down.get();
        }

        long bytesUp() {
            return up.get();
        }
    }

    Phase openPhase(String id, String failPhase, Acceptor acceptor, Duration timeout) {
        return new Phase(id, failPhase, acceptor, timeout);
    }

    void assign(Phase p, String clientId, Outgoing asked, EncodedMessage message) {
        Session s = byId.get(clientId);
        synchronized (p) {
            p.pending.add(clientId);
        }
        if (s == null || !connected(s, System.nanoTime())) {
            p.fail(clientId, "not connected");
            return;
        }
        Task t = new Task("t" + taskIds.incrementAndGet(), clientId, p, asked, message, indexOf(clientId));
        synchronized (p) {
            p.tasks.put(clientId, t);
        }
        synchronized (s) {
            s.outstanding.put(t.taskId, t);
            s.queue.add(t);
            if (s.waiting != null) {
                Pull pull = s.waiting;
                s.waiting = null;
                pull.deliver(s.queue.poll());
            }
        }
    }

    void closePhase(Phase p) {
        for (Task t : p.tasks.values()) {
            Session s = byId.get(t.clientId);
            if (s != null) {
                synchronized (s) {
                    s.outstanding.remove(t.taskId);
                    s.queue.remove(t);
                }
            }
        }
    }

    void finish() {
        finished = true;
        for (Session s : byId.values()) {
            synchronized (s) {
                if (s.waiting != null) {
                    s.waiting.sendHeader(TaskHeader.newBuilder().setKind(TaskKind.DONE).setNote("the run is finished")
                            .build());
                    s.waiting = null;
                    s.doneSent = true;
                }
            }
        }
    }

    boolean anyUnfinished() {
        long now = System.nanoTime();
        for (Session s : byId.values()) {
            synchronized (s) {
                if (!s.doneSent && !s.left && (s.activePulls > 0 || now - s.lastPullEndNanos < 1_000_000_000L)) {
                    return true;
                }
            }
        }
        return false;
    }

    // ---- long-poll ---------------------------------------------------------------------------------------------

    void pull(PullRequest r, ServerCallStreamObserver<TaskChunk> obs, String commonName) {
        Session s = byToken.get(r.getSession());
        if (s == null) {
            obs.onNext(TaskChunk.newBuilder().setHeader(TaskHeader.newBuilder().setKind(TaskKind.REJOIN)
                    .setNote("unknown session (the server restarted?): join again")).build());
            obs.onCompleted();
            return;
        }
        if (mutualTls && !s.subject.equals(commonName)) {
            obs.onError(Status.PERMISSION_DENIED.withDescription("this session belongs to another certificate")
                    .asRuntimeException());
            return;
        }
        Pull pull = new Pull(s, obs);
        obs.setOnCancelHandler(pull::cancelled);
        obs.setOnReadyHandler(pull::drain);
        synchronized (s) {
            s.activePulls++;
            if (finished) {
                s.doneSent = true;
                pull.sendHeader(TaskHeader.newBuilder().setKind(TaskKind.DONE).setNote("the run is finished").build());
                return;
            }
            if (!s.queue.isEmpty()) {
                pull.deliver(s.queue.poll());
                return;
            }
            if (s.waiting != null) {
                s.waiting.sendHeader(TaskHeader.newBuilder().setKind(TaskKind.IDLE).build());
            }
            s.waiting = pull;
        }
        long wait = Math.max(10, Math.min(r.getWaitMs() == 0 ? options.pollMs() : r.getWaitMs(), options.pollMs()));
        timer.schedule(() -> {
            synchronized (s) {
                if (s.waiting == pull) {
                    s.waiting = null;
                    pull.sendHeader(TaskHeader.newBuilder().setKind(TaskKind.IDLE).build());
                }
            }
        }, wait, TimeUnit.MILLISECONDS);
    }

    /** One open PullTask call. */
    final class Pull {
        private final Session session;
        private final ServerCallStreamObserver<TaskChunk> obs;
        private final AtomicBoolean ended = new AtomicBoolean();
        private Iterator<TaskChunk> stream;
        private Task task;

        Pull(Session session, ServerCallStreamObserver<TaskChunk> obs) {
            this.session = session;
            this.obs = obs;
        }

        /** Sends a header-only answer and completes the call. */
        void sendHeader(TaskHeader h) {
            synchronized (this) {
                if (ended.get()) {
                    return;
                }
                try {
                    obs.onNext(TaskChunk.newBuilder().setHeader(h).build());
                    obs.onCompleted();
                } catch (RuntimeException e) {
                    LOG.debug("pull of {} ended while answering: {}", session.id, e.toString());
                }
            }
            end();
        }

        /** Streams one task (with flow control: only while the transport is ready). */
        void deliver(Task t) {
            synchronized (this) {
                task = t;
                stream = messages(t);
            }
            drain();
        }

        void drain() {
            boolean done = false;
            synchronized (this) {
                if (stream == null || ended.get()) {
                    return;
                }
                try {
                    while (obs.isReady() && stream.hasNext()) {
                        TaskChunk c = stream.next();
                        task.phase.down.addAndGet(c.getSerializedSize());
                        obs.onNext(c);
                    }
                    if (!stream.hasNext()) {
                        obs.onCompleted();
                        stream = null;
                        done = true;
                    }
                } catch (RuntimeException e) {
                    LOG.debug("pull of {} ended while streaming: {}", session.id, e.toString());
                }
            }
            if (done) {
                end();
            }
        }

        void cancelled() {
            Task unfinished;
            synchronized (this) {
                unfinished = stream != null ? task : null;
                stream = null;
            }
            synchronized (session) {
                if (session.waiting == this) {
                    session.waiting = null;
                }
                if (unfinished != null && session.outstanding.containsKey(unfinished.taskId)) {
                    session.queue.addFirst(unfinished); // not fully delivered: send it again on the next pull
                }
            }
            end();
        }

        private void end() {
            if (ended.compareAndSet(false, true)) {
                synchronized (session) {
                    session.activePulls--;
                    session.lastPullEndNanos = System.nanoTime();
                }
            }
        }
    }

    private Iterator<TaskChunk> messages(Task t) {
        TaskHeader.Builder h = TaskHeader.newBuilder().setKind(TaskKind.TASK).setTaskId(t.taskId)
                .setRound(t.asked.round()).setPhase(t.asked.phase()).setMethod(method)
                .putAllConfig(t.asked.config()).setClientIndex(t.index).addAllLabels(labels)
                .setTimeoutMs(Math.max(0, (t.phase.deadlineNanos - System.nanoTime()) / 1_000_000))
                .setTensorCount(t.message.tensors().size());
        int chunk = options.chunkBytes();
        List<TensorCodec.Encoded> tensors = t.message.tensors();
        return new Iterator<>() {
            int tensor = -1;
            int offset = -1; // -1: the tensor's header is next
            boolean headerSent;
            boolean endSent;

            @Override
            public boolean hasNext() {
                return !endSent;
            }

            @Override
            public TaskChunk next() {
                if (!headerSent) {
                    headerSent = true;
                    tensor = 0;
                    return TaskChunk.newBuilder().setHeader(h).build();
                }
                while (tensor < tensors.size()) {
                    TensorCodec.Encoded e = tensors.get(tensor);
                    if (offset < 0) {
                        offset = 0;
                        return TaskChunk.newBuilder().setTensor(e.header()).build();
                    }
                    if (offset < e.bytes().length) {
                        int n = Math.min(chunk, e.bytes().length - offset);
                        TaskChunk c = TaskChunk.newBuilder()
                                .setData(UnsafeByteOperations.unsafeWrap(e.bytes(), offset, n)).build();
                        offset += n;
                        return c;
                    }
                    tensor++;
                    offset = -1;
                }
                if (endSent) {
                    throw new NoSuchElementException();
                }
                endSent = true;
                return TaskChunk.newBuilder().setEnd(End.getDefaultInstance()).build();
            }
        };
    }

    // ---- uploads -----------------------------------------------------------------------------------------------

    StreamObserver<ResultChunk> push(ServerCallStreamObserver<PushReply> reply, String commonName) {
        reply.disableAutoRequest();
        Upload u = new Upload(reply, commonName);
        reply.request(1);
        return u;
    }

    private synchronized boolean acquireUpload(Runnable whenGranted) {
        if (uploadPermits > 0) {
            uploadPermits--;
            return true;
        }
        waitingUploads.add(whenGranted);
        return false;
    }

    private void releaseUpload() {
        Runnable next;
        synchronized (this) {
            next = waitingUploads.poll();
            if (next == null) {
                uploadPermits++;
                return;
            }
        }
        timer.execute(next); // not on this thread: it holds the finishing upload's monitor
    }

    /** One PushResult call: checks the parts as they arrive and answers once. */
    final class Upload implements StreamObserver<ResultChunk> {
        private final ServerCallStreamObserver<PushReply> reply;
        private final String commonName;
        private Session session;
        private Task task;
        private ResultHeader header;
        private TensorAssembler tensors;
        private boolean permit;
        private boolean finished;
        private long wire;

        Upload(ServerCallStreamObserver<PushReply> reply, String commonName) {
            this.reply = reply;
            this.commonName = commonName;
        }

        private long held;

        private void hold(long bytes) {
            held += bytes;
            buffer(bytes);
        }

        private void releaseHeld() {
            buffer(-held);
            held = 0;
        }

        @Override
        public synchronized void onNext(ResultChunk c) {
            long cpu0 = THREADS.getCurrentThreadCpuTime();
            try {
                handle(c);
            } finally {
                handlerCpuNanos.addAndGet(THREADS.getCurrentThreadCpuTime() - cpu0);
            }
        }

        private void handle(ResultChunk c) {
            if (finished) {
                return;
            }
            wire += c.getSerializedSize();
            if (task != null) {
                task.phase.up.addAndGet(c.getSerializedSize());
            }
            try {
                switch (c.getPartCase()) {
                    case HEADER -> {
                        onHeader(c.getHeader());
                        if (finished) {
                            return;
                        }
                        if (!acquireUpload(this::granted)) {
                            return; // request(1) when a slot frees up
                        }
                        permit = true;
                    }
                    case TENSOR -> {
                        hold(2 * c.getTensor().getEncodedBytes()); // the encoded bytes, then the decoded tensor
                        requireHeader().header(c.getTensor());
                    }
                    case DATA -> requireHeader().data(c.getData());
                    case END -> {
                        onEnd();
                        return;
                    }
                    default -> throw new ProtocolException("empty result chunk");
                }
                reply.request(1);
            } catch (ProtocolException e) {
                reject(e.getMessage());
            } catch (RuntimeException e) {
                LOG.error("error while receiving a result", e);
                reject("the server could not process this result: " + e);
            }
        }

        private synchronized void granted() {
            permit = true;
            if (finished) {
                releasePermit();
                return;
            }
            reply.request(1);
        }

        private TensorAssembler requireHeader() {
            if (tensors == null) {
                throw new ProtocolException("a result must start with its ResultHeader");
            }
            return tensors;
        }

        private void onHeader(ResultHeader h) {
            if (header != null) {
                throw new ProtocolException("a result has one ResultHeader, got a second");
            }
            header = h;
            Session s = byToken.get(h.getSession());
            if (s == null) {
                throw new ProtocolException("unknown session: join again (the server may have restarted)");
            }
            if (mutualTls && !s.subject.equals(commonName)) {
                throw new ProtocolException("the session belongs to another certificate than '" + commonName + "'");
            }
            session = s;
            Task t;
            synchronized (s) {
                t = s.outstanding.get(h.getTaskId());
            }
            if (t == null) {
                throw new ProtocolException("client '" + s.id + "' was not asked for task '" + h.getTaskId()
                        + "' (or it is closed): results are accepted only for the client's own open tasks");
            }
            task = t; // from here on, a bad result is this task's failure
            if (h.getRound() != t.asked.round()) {
                throw new ProtocolException("result of client '" + s.id + "' is for round " + h.getRound()
                        + " but task " + t.taskId + " is round " + t.asked.round() + " (stale or future round)");
            }
            if (!h.getPhase().equals(t.asked.phase())) {
                throw new ProtocolException("result of client '" + s.id + "' is for phase '" + h.getPhase()
                        + "' but task " + t.taskId + " is '" + t.asked.phase() + "'");
            }
            task.phase.up.addAndGet(wire);
            if (!h.getFailure().isEmpty()) {
                t.phase.fail(s.id, "client reported: " + h.getFailure());
                answer(true, "failure recorded");
                return;
            }
            if (h.getTensorCount() > MAX_TENSORS) {
                throw new ProtocolException("result announces " + h.getTensorCount() + " tensors; the limit is "
                        + MAX_TENSORS);
            }
            if (h.getNumExamples() < 0 || h.getNumExamples() > (1L << 40)) {
                throw new ProtocolException("result reports " + h.getNumExamples() + " examples; must be in [0, 2^40]");
            }
            tensors = new TensorAssembler("client '" + s.id + "'", h.getTensorCount(), options.maxUpdateBytes(),
                    options.chunkBytes());
        }

        private void onEnd() {
            Map<String, HostTensor> received = requireHeader().finish();
            Incoming in = new Incoming(session.id, header.getNumExamples(), new TreeMap<>(header.getMetricsMap()),
                    received);
            task.phase.answer(task, in);
            tensors = null;
            answer(true, "accepted");
        }

        private void reject(String reason) {
            String who = session != null ? session.id : commonName != null ? commonName : "an unidentified client";
            LOG.warn("rejected a result from {}: {}", who, reason);
            if (task != null) {
                task.phase.fail(task.clientId, "result rejected: " + reason);
            }
            answer(false, reason);
        }

        private void answer(boolean accepted, String reason) {
            finished = true;
            tensors = null;
            releaseHeld();
            releasePermit();
            try {
                reply.onNext(PushReply.newBuilder().setAccepted(accepted).setReason(reason).setWireBytes(wire).build());
                reply.onCompleted();
            } catch (RuntimeException e) {
                LOG.debug("could not answer a push: {}", e.toString());
            }
        }

        private void releasePermit() {
            if (permit) {
                permit = false;
                releaseUpload();
            }
        }

        @Override
        public synchronized void onError(Throwable t) {
            finished = true;
            tensors = null;
            releaseHeld();
            releasePermit();
        }

        @Override
        public synchronized void onCompleted() {
            if (!finished) {
                reject("the result stream ended before its End part");
            }
        }
    }
}
