package org.fedqlora.transport.grpc;

import org.fedqlora.fed.Failure;
import org.fedqlora.fed.PhaseResult;
import org.fedqlora.fed.secagg.InProcessChannel;
import org.fedqlora.fed.secagg.Message;
import org.fedqlora.fed.secagg.SecAggConfig;
import org.fedqlora.fed.secagg.SecAggException;
import org.fedqlora.fed.secagg.SecAggServer;
import org.fedqlora.fed.secagg.Stage;
import org.fedqlora.tensor.DType;
import org.fedqlora.tensor.HostTensor;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Secure aggregation over the federation protocol, as four extension phases (federation.proto, "Secure
 * aggregation"): phase {@code secagg.setup}, {@code secagg.share_keys}, {@code secagg.masked_input},
 * {@code secagg.unmask} ({@link #phase}). Each task carries exactly one tensor, {@value #TENSOR}, dtype U8, shape
 * [bytes]: the {@link Message#toBytes() encoded} {@link Message} of the server to that client; each result carries
 * the client's reply the same way and nothing else. No new proto message is needed, and a peer that does not know
 * the phases answers with a failure.
 *
 * <p>{@link Channel} is the server side: a {@link SecAggServer.Channel} over {@link GrpcTransport#exchange}. It
 * keys every reply by the client the transport authenticated (session token bound to the TLS certificate), so
 * {@link SecAggServer} rejects a reply whose {@code sender} names anyone else; a result that is not exactly one
 * well-formed message is rejected by the transport and becomes that client's failure of the stage. Replies are
 * handed to the server one by one as their uploads complete ({@link Channel#exchange(Map, BiConsumer)}), so the
 * server folds each masked input and drops it instead of holding one per client.
 * {@link #handlers} is the client side: it decodes the request, lets the client's participant
 * ({@link org.fedqlora.fed.secagg.SecureClient#handle}) answer, and encodes the reply.
 */
public final class SecAggPhases {
    /** The name of the one tensor of a secure-aggregation task or result. */
    public static final String TENSOR = "secagg.message";
    /** Phase names start with this. */
    public static final String PREFIX = "secagg.";

    private SecAggPhases() {
    }

    /** The phase of a stage: "secagg." + the stage in lower case. */
    public static String phase(Stage stage) {
        return PREFIX + stage.name().toLowerCase(Locale.ROOT);
    }

    /** The message as the one tensor of a task or result. */
    public static Map<String, HostTensor> tensors(Message m) {
        byte[] b = m.toBytes();
        return Map.of(TENSOR, HostTensor.ofBytes(DType.U8, b, b.length));
    }

    /** The message of a task or result; a {@link ProtocolException} if it is not exactly one well-formed one. */
    public static Message message(Map<String, HostTensor> tensors, String source) {
        HostTensor t = tensors.get(TENSOR);
        if (tensors.size() != 1 || t == null) {
            throw new ProtocolException(source + " sent tensors " + limit(tensors.keySet()) + " in a secure-"
                    + "aggregation phase; exactly one, '" + TENSOR + "', is expected");
        }
        if (t.dtype() != DType.U8 || t.shape().length != 1) {
            throw new ProtocolException(source + ": '" + TENSOR + "' must be U8 of shape [bytes], got " + t.dtype()
                    + " " + Arrays.toString(t.shape()));
        }
        try {
            return Message.fromBytes(t.toBytes(), source);
        } catch (SecAggException e) {
            throw new ProtocolException(e.getMessage());
        }
    }

    private static String limit(Set<String> names) {
        return names.size() <= 3 ? names.toString() : names.stream().limit(3).toList() + " and more";
    }

    /** The server's side: one transport phase per stage. */
    public static final class Channel implements SecAggServer.Channel {
        private final GrpcTransport transport;
        private final AtomicLong down = new AtomicLong();
        private final AtomicLong up = new AtomicLong();
        private volatile int round;

        public Channel(GrpcTransport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
        }

        @Override
        public SecAggServer.Replies exchange(Map<String, Message> requests) {
            SortedMap<String, Message> replies = new TreeMap<>();
            Map<String, String> failures = exchange(requests, replies::put);
            return new SecAggServer.Replies(replies, failures);
        }

        /**
         * One transport phase; each reply is decoded and handed to {@code onReply} inside the transport's
         * {@link GrpcTransport.Acceptor}, which runs under the phase's lock (one call at a time, all before the phase
         * closes), and the transport keeps only an empty result, so no payload outlives its call.
         */
        @Override
        public Map<String, String> exchange(Map<String, Message> requests, BiConsumer<String, Message> onReply) {
            if (requests.isEmpty()) {
                return Map.of();
            }
            Stage stage = requests.values().iterator().next().stage();
            for (Message m : requests.values()) {
                if (m.stage() != stage) {
                    throw new IllegalArgumentException("one exchange carries one stage, got " + stage + " and "
                            + m.stage());
                }
                if (stage == Stage.SETUP) {
                    round = SecAggConfig.decode(m.require("config")).round();
                }
            }
            String phase = phase(stage);
            Map<String, GrpcTransport.Outgoing> out = new TreeMap<>();
            requests.forEach((id, m) -> out.put(id, new GrpcTransport.Outgoing(round, phase, Map.of(), tensors(m))));
            PhaseResult<GrpcTransport.Incoming> r = transport.exchange(phase, out, (asked, answer) -> {
                onReply.accept(answer.clientId(), message(answer.tensors(), "client '" + answer.clientId() + "'"));
                return new GrpcTransport.Incoming(answer.clientId(), 0, Map.of(), Map.of());
            });
            down.addAndGet(r.bytesDown());
            up.addAndGet(r.bytesUp());
            SortedMap<String, String> failures = new TreeMap<>();
            for (Failure f : r.failures()) {
                failures.put(f.clientId(), f.reason());
            }
            return failures;
        }

        /** The round of the last session set up (0 before the first). */
        public int round() {
            return round;
        }

        @Override
        public long bytesDown() {
            return down.get();
        }

        @Override
        public long bytesUp() {
            return up.get();
        }
    }

    /**
     * The client's side: a handler per phase for {@link ClientAdapter}.
     *
     * @param participant the endpoint that answers a task's request (e.g. the task method's
     *                    {@link org.fedqlora.fed.secagg.SecureClient}); it throws if there is none
     */
    public static Map<String, ClientAdapter.Handler> handlers(
            Function<FederationNode.Task, InProcessChannel.Participant> participant) {
        Map<String, ClientAdapter.Handler> out = new TreeMap<>();
        for (Stage s : Stage.values()) {
            out.put(phase(s), task -> {
                Message request = message(task.tensors(), "the server");
                if (request.stage() != s) {
                    throw new SecAggException("a " + phase(s) + " task carries a " + request.stage() + " message");
                }
                Message reply = participant.apply(task).handle(request);
                return new FederationNode.Answer(0, Map.of(), tensors(reply));
            });
        }
        return out;
    }
}
