package org.fedqlora.transport.grpc;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.PhaseResult;
import org.fedqlora.fed.RunningMean;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.transport.grpc.proto.End;
import org.fedqlora.transport.grpc.proto.FederationGrpc;
import org.fedqlora.transport.grpc.proto.JoinReply;
import org.fedqlora.transport.grpc.proto.JoinRequest;
import org.fedqlora.transport.grpc.proto.PullRequest;
import org.fedqlora.transport.grpc.proto.PushReply;
import org.fedqlora.transport.grpc.proto.ResultChunk;
import org.fedqlora.transport.grpc.proto.ResultHeader;
import org.fedqlora.transport.grpc.proto.TaskChunk;
import org.fedqlora.transport.grpc.proto.TaskHeader;
import org.fedqlora.transport.grpc.proto.TaskKind;
import org.fedqlora.transport.grpc.proto.TensorHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hostile results, each refused with a clear message to the sender and a server log line, and the aggregate
 * bit-identical to the honest client's update alone: the attacker's bytes never reach the running sum.
 */
class HostileInputTest {
    private Loopback lb;
    private ManagedChannel channel;

    @BeforeEach
    void start() {
        lb = new Loopback(Loopback.fast().withMaxUpdateBytes(64 * 1024).withChunkBytes(1024));
        lb.start(Tls.insecureClient(), List.of(Loopback.client("good", 10, Loopback.plus(1))));
        channel = ManagedChannelBuilder.forTarget(lb.target()).usePlaintext().build();
    }

    /** Sessions this test joined by hand: they leave at the end, so the server need not wait for their next pull. */
    private final List<JoinReply> joined = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        joined.stream().filter(JoinReply::getAccepted)
                .forEach(s -> FederationNode.leave(channel, s.getSession(), "the test is over"));
        channel.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        lb.close();
    }

    /** What the attacker received: its session and task. */
    record Received(JoinReply session, TaskHeader task, Map<String, HostTensor> tensors) {
    }

    private JoinReply join(String id, String hash) {
        JoinReply r = FederationGrpc.newBlockingStub(channel).join(JoinRequest.newBuilder()
                .setProtocolVersion(Protocol.VERSION).setClientId(id).setCapabilities(Loopback.caps(hash, 10)).build());
        joined.add(r);
        return r;
    }

    /** Pulls until a task arrives. */
    private Received pullTask(JoinReply s) {
        while (true) {
            Iterator<TaskChunk> it = FederationGrpc.newBlockingStub(channel).pullTask(PullRequest.newBuilder()
                    .setSession(s.getSession()).setWaitMs(200).build());
            TaskHeader h = it.next().getHeader();
            if (h.getKind() != TaskKind.TASK) {
                it.forEachRemaining(c -> { });
                continue;
            }
            TensorAssembler asm = new TensorAssembler("server", h.getTensorCount(), Long.MAX_VALUE, 1 << 20);
            it.forEachRemaining(c -> {
                switch (c.getPartCase()) {
                    case TENSOR -> asm.header(c.getTensor());
                    case DATA -> asm.data(c.getData());
                    default -> { }
                }
            });
            return new Received(s, h, asm.finish());
        }
    }

    /** The honest parts of a result (header + tensors), to be spoiled by each test. */
    static List<ResultChunk> honest(Received r, Map<String, HostTensor> tensors) {
        List<ResultChunk> parts = new ArrayList<>();
        parts.add(ResultChunk.newBuilder().setHeader(ResultHeader.newBuilder().setSession(r.session().getSession())
                .setTaskId(r.task().getTaskId()).setRound(r.task().getRound()).setPhase(r.task().getPhase())
                .setNumExamples(10).setTensorCount(tensors.size())).build());
        new TreeMap<>(tensors).forEach((n, t) -> {
            TensorCodec.Encoded e = TensorCodec.encode(n, t, Compression.NONE);
            parts.add(ResultChunk.newBuilder().setTensor(e.header()).build());
            TensorCodec.chunks(e.bytes(), 1024, d -> parts.add(ResultChunk.newBuilder().setData(d).build()));
        });
        parts.add(ResultChunk.newBuilder().setEnd(End.getDefaultInstance()).build());
        return parts;
    }

    /** Outcome of one attack. */
    record Outcome(PushReply reply, PhaseResult<FitRes> phase, RunningMean sum) {
    }

    /** Asks "good" and "evil" to fit; evil answers with what {@code craft} makes of its task. */
    private Outcome attack(BiFunction<Received, Map<String, HostTensor>, List<ResultChunk>> craft) throws Exception {
        JoinReply evil = join("evil", Loopback.HASH);
        assertThat(evil.getAccepted()).isTrue();
        CompletableFuture<Received> task = CompletableFuture.supplyAsync(() -> pullTask(evil));
        lb.awaitClients(2);
        RunningMean sum = new RunningMean();
        FitIns ins = new FitIns(3, Loopback.global(), Map.of());
        CompletableFuture<PhaseResult<FitRes>> phase = CompletableFuture.supplyAsync(
                () -> lb.server.fit(Map.of("good", ins, "evil", ins), sum));
        Received r = task.get(20, TimeUnit.SECONDS);
        PushReply reply = FederationNode.pushParts(channel, craft.apply(r, r.tensors()), Duration.ofSeconds(10),
                new AtomicLong());
        return new Outcome(reply, phase.get(30, TimeUnit.SECONDS), sum);
    }

    /** The aggregate is exactly the honest client's update (global + 1), bit for bit. */
    private static void assertOnlyHonestUpdate(Outcome o, String reason) {
        assertThat(o.reply().getAccepted()).isFalse();
        assertThat(o.reply().getReason()).contains(reason);
        assertThat(o.phase().results()).extracting(FitRes::clientId).containsExactly("good");
        assertThat(o.phase().failures()).extracting(Failure::clientId).containsExactly("evil");
        assertThat(o.phase().failures().get(0).reason()).contains("rejected").contains(reason);
        Map<String, HostTensor> mean = o.sum().mean();
        Loopback.global().forEach((name, t) -> assertThat(mean.get(name).toFloats())
                .containsExactly(Loopback.plus(1).apply(t.toFloats())));
    }

    private static Map<String, HostTensor> with(Map<String, HostTensor> tensors, String name, HostTensor t) {
        Map<String, HostTensor> m = new TreeMap<>(tensors);
        m.put(name, t);
        return m;
    }

    @Test
    void wrongTensorNamesAreRejected() throws Exception {
        Outcome o = attack((r, t) -> {
            Map<String, HostTensor> m = new TreeMap<>(t);
            m.put("a.qa_L.weight", m.remove("a.lora_B.weight"));
            return honest(r, m);
        });
        assertOnlyHonestUpdate(o, "wrong tensors");
    }

    @Test
    void wrongShapesAreRejected() throws Exception {
        Outcome o = attack((r, t) -> honest(r, with(t, "a.lora_A.weight",
                HostTensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 3, 2))));
        assertOnlyHonestUpdate(o, "has shape [3, 2]");
    }

    @Test
    void nanValuesAreRejected() throws Exception {
        Outcome o = attack((r, t) -> honest(r, with(t, "a.lora_A.weight",
                HostTensor.ofFloats(new float[] {1, Float.NaN, 3, 4, 5, 6}, 2, 3))));
        assertOnlyHonestUpdate(o, "NaN");
    }

    @Test
    void infiniteValuesAreRejected() throws Exception {
        Outcome o = attack((r, t) -> honest(r, with(t, "a.lora_B.weight",
                HostTensor.ofFloats(new float[] {Float.POSITIVE_INFINITY, 0}, 2, 1))));
        assertOnlyHonestUpdate(o, "Infinity");
    }

    @Test
    void oversizedTensorIsRejectedBeforeItsBytesArrive() throws Exception {
        Outcome o = attack((r, t) -> {
            List<ResultChunk> parts = honest(r, t);
            TensorHeader h = parts.get(1).getTensor().toBuilder().setEncodedBytes(1L << 30).build();
            parts.set(1, ResultChunk.newBuilder().setTensor(h).build());
            return parts;
        });
        assertOnlyHonestUpdate(o, "size limit");
    }

    @Test
    void staleRoundIsRejected() throws Exception {
        Outcome o = attack((r, t) -> withRound(honest(r, t), r.task().getRound() - 1));
        assertOnlyHonestUpdate(o, "stale or future round");
    }

    @Test
    void futureRoundIsRejected() throws Exception {
        Outcome o = attack((r, t) -> withRound(honest(r, t), r.task().getRound() + 1));
        assertOnlyHonestUpdate(o, "stale or future round");
    }

    private static List<ResultChunk> withRound(List<ResultChunk> parts, int round) {
        parts.set(0, ResultChunk.newBuilder().setHeader(parts.get(0).getHeader().toBuilder().setRound(round)).build());
        return parts;
    }

    @Test
    void corruptedChunkFailsItsChecksum() throws Exception {
        Outcome o = attack((r, t) -> {
            List<ResultChunk> parts = honest(r, t);
            byte[] data = parts.get(2).getData().toByteArray();
            data[5] ^= 0x10;
            parts.set(2, ResultChunk.newBuilder().setData(ByteString.copyFrom(data)).build());
            return parts;
        });
        assertOnlyHonestUpdate(o, "checksum mismatch");
    }

    @Test
    void resultFromAClientThatWasNotAskedIsRejected() throws Exception {
        JoinReply bystander = join("bystander", Loopback.HASH);
        Outcome o = attack((r, t) -> {
            List<ResultChunk> parts = honest(r, t);
            // the bystander was not asked: it replays evil's task id under its own session
            parts.set(0, ResultChunk.newBuilder().setHeader(parts.get(0).getHeader().toBuilder()
                    .setSession(bystander.getSession())).build());
            PushReply reply = FederationNode.pushParts(channel, parts, Duration.ofSeconds(10), new AtomicLong());
            assertThat(reply.getAccepted()).isFalse();
            assertThat(reply.getReason()).contains("was not asked");
            // and evil then sends garbage, so that the round closes with evil rejected
            return withRound(honest(r, t), 99);
        });
        assertOnlyHonestUpdate(o, "stale or future round");
    }

    @Test
    void clientOnAnotherBaseModelIsRefusedAtJoin() {
        JoinReply r = join("other", "sha256:another-model");

        assertThat(r.getAccepted()).isFalse();
        assertThat(r.getReason()).contains("different base model").contains("sha256:another-model");
        assertThat(lb.server.capabilities()).doesNotContainKey("other");
    }

    @Test
    void otherProtocolVersionIsRefusedAtJoin() {
        JoinReply r = FederationGrpc.newBlockingStub(channel).join(JoinRequest.newBuilder().setProtocolVersion(99)
                .setClientId("old").setCapabilities(Loopback.caps(Loopback.HASH, 1)).build());

        assertThat(r.getAccepted()).isFalse();
        assertThat(r.getReason()).contains("protocol version 99");
    }
}
