package org.fedqlora.fed.secagg;

import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;

/**
 * The simulation's {@link SecAggServer.Channel}: participants are objects in this process, called one after the
 * other in ascending id order, each reply handed over before the next participant is asked (so a server that folds
 * replies holds one at a time). Messages are copied both ways (as a network would), bytes are counted, and a test
 * can drop a client from a stage on or tamper with what is delivered. A participant that throws is reported as a
 * failure with its message, as a network transport would report a client that refused or vanished.
 */
public final class InProcessChannel implements SecAggServer.Channel {
    /** A client's protocol endpoint: answers one request. */
    @FunctionalInterface
    public interface Participant {
        Message handle(Message request);
    }

    /** Decides that a client is unreachable for a request (tests and failure drills). */
    @FunctionalInterface
    public interface Faults {
        Faults NONE = (client, request) -> false;

        boolean drop(String client, Message request);
    }

    private final SortedMap<String, Participant> participants;
    private final Faults faults;
    private final UnaryOperator<Message> deliver;
    private long bytesDown;
    private long bytesUp;

    public InProcessChannel(Map<String, ? extends Participant> participants) {
        this(participants, Faults.NONE, UnaryOperator.identity());
    }

    /**
     * @param faults  requests to lose (the client then misses this and every later stage of the session)
     * @param deliver applied to every request on its way (identity, or a tampering test's change)
     */
    public InProcessChannel(Map<String, ? extends Participant> participants, Faults faults,
                            UnaryOperator<Message> deliver) {
        this.participants = new TreeMap<>(participants);
        this.faults = Objects.requireNonNull(faults, "faults");
        this.deliver = Objects.requireNonNull(deliver, "deliver");
    }

    @Override
    public SecAggServer.Replies exchange(Map<String, Message> requests) {
        SortedMap<String, Message> replies = new TreeMap<>();
        Map<String, String> failures = exchange(requests, replies::put);
        return new SecAggServer.Replies(replies, failures);
    }

    /** Asks the participants one after the other and hands over each reply before asking the next; keeps none. */
    @Override
    public Map<String, String> exchange(Map<String, Message> requests, BiConsumer<String, Message> onReply) {
        SortedMap<String, String> failures = new TreeMap<>();
        new TreeMap<>(requests).forEach((id, request) -> {
            Participant p = participants.get(id);
            if (p == null) {
                failures.put(id, "unknown client");
                return;
            }
            if (faults.drop(id, request)) {
                failures.put(id, "dropped out (injected)");
                return;
            }
            bytesDown += request.bytes();
            Message copy;
            try {
                Message reply = p.handle(deliver.apply(copy(request)));
                bytesUp += reply.bytes();
                copy = copy(reply);
            } catch (RuntimeException e) {
                failures.put(id, e.getClass().getSimpleName() + ": " + e.getMessage());
                return;
            }
            onReply.accept(id, copy);
        });
        return failures;
    }

    /** Bytes of all requests delivered so far. */
    @Override
    public long bytesDown() {
        return bytesDown;
    }

    /** Bytes of all replies received so far. */
    @Override
    public long bytesUp() {
        return bytesUp;
    }

    private static Message copy(Message m) {
        return new Message(m.session(), m.stage(), m.sender(), m.receiver(), new TreeMap<>(m.payload()));
    }
}
