package org.fedqlora.fed.secagg;

import org.fedqlora.fed.secagg.SecAggProtocolTest.Harness;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.fedqlora.fed.secagg.SecAggProtocolTest.BITS;
import static org.fedqlora.fed.secagg.SecAggProtocolTest.LENGTH;
import static org.fedqlora.fed.secagg.SecAggProtocolTest.dropAt;

/**
 * The server folds each masked input into a running sum as it arrives and lets it go: it never holds more than the
 * one it is folding, a client claiming another layout or sending a word at or above 2^bits is still left out, and the
 * sum stays exact.
 */
class SecAggStreamingTest {
    /** Full collections before a masked input the server let go must have been cleared (one is enough in practice). */
    static final int MAX_GCS = 20;

    /**
     * Streams an {@link InProcessChannel}'s replies to the server and, before it hands over each masked input (and
     * again when the next stage starts), collects garbage until every masked byte array handed over before is
     * cleared, or {@link #MAX_GCS} collections have passed; {@link #mostHeld} is the most that were still reachable.
     */
    static final class Watching implements SecAggServer.Channel {
        final SecAggServer.Channel inner;
        final List<WeakReference<byte[]>> handedOver = new ArrayList<>();
        long mostHeld;
        int checks;

        Watching(SecAggServer.Channel inner) {
            this.inner = inner;
        }

        @Override
        public SecAggServer.Replies exchange(Map<String, Message> requests) {
            throw new AssertionError("the server collected a whole stage instead of streaming it");
        }

        @Override
        public Map<String, String> exchange(Map<String, Message> requests, BiConsumer<String, Message> onReply) {
            checkReleased();
            return inner.exchange(requests, (id, m) -> {
                if (m.stage() == Stage.MASKED_INPUT) {
                    checkReleased();
                    handedOver.add(new WeakReference<>(m.payload().get("masked")));
                }
                onReply.accept(id, m);
            });
        }

        private void checkReleased() {
            for (int i = 0; i < MAX_GCS && held() > 0; i++) {
                System.gc();
            }
            mostHeld = Math.max(mostHeld, held());
            checks++;
        }

        private long held() {
            return handedOver.stream().filter(r -> r.get() != null).count();
        }
    }

    /** A channel that only answers whole stages: the server gets the replies through the default stream. */
    static SecAggServer.Channel batchOnly(InProcessChannel inner) {
        return inner::exchange;
    }

    /** A client of the harness whose input (words and meta) is {@code input}, a fresh session at every SETUP. */
    static InProcessChannel.Participant client(Harness h, String id,
                                               Function<SecAggConfig, SecAggClient.Input> input) {
        SecAggClient[] session = new SecAggClient[1];
        return request -> {
            if (request.stage() == Stage.SETUP) {
                session[0] = new SecAggClient(id, h.random, input);
            }
            return session[0].handle(request);
        };
    }

    /**
     * A participant that answers as {@code honest} but, in its masked input, sets the top four bits of the top byte of
     * word {@code word}. For bits with at least 4 spare bits in ⌈bits/8⌉ bytes (36, 42, …) the word is then ≥ 2^bits:
     * at 36 bits (5-byte words) it becomes its value + 0xf0 · 2^32.
     */
    static InProcessChannel.Participant withTopBitsSet(InProcessChannel.Participant honest, int word, int bits) {
        return m -> {
            Message reply = honest.handle(m);
            if (m.stage() != Stage.MASKED_INPUT) {
                return reply;
            }
            SortedMap<String, byte[]> payload = new TreeMap<>(reply.payload());
            byte[] y = payload.get("masked").clone();
            int b = FixedPoint.wordBytes(bits);
            y[word * b + b - 1] |= (byte) 0xf0;
            payload.put("masked", y);
            return new Message(reply.session(), reply.stage(), reply.sender(), reply.receiver(), payload);
        };
    }

    /** Σ inputs of {@code of} mod 2^bits, computed here. */
    static long[] plainSum(Harness h, Set<String> of, int bits) {
        long[] s = new long[LENGTH];
        for (String id : of) {
            for (int j = 0; j < LENGTH; j++) {
                s[j] = (s[j] + h.inputs.get(id)[j]) % (1L << bits);
            }
        }
        return s;
    }

    static Set<String> except(List<String> ids, String... out) {
        Set<String> s = new TreeSet<>(ids);
        s.removeAll(Set.of(out));
        return s;
    }

    @Test
    void theServerLetsEachMaskedInputGoBeforeTheNextArrives() throws Exception {
        Harness h = new Harness(20, 21);
        Watching channel = new Watching(new InProcessChannel(h.participants()));
        int[] maskedSeen = {0};

        SecAggServer.Result r = new SecAggServer(channel, m -> maskedSeen[0] += m.stage() == Stage.MASKED_INPUT ? 1 : 0)
                .run(h.config(4, 8));

        assertThat(r.sum()).containsExactly(h.plainSum(h.inputs.keySet()));
        assertThat(r.survivors()).containsExactlyElementsOf(h.ids);
        assertThat(channel.handedOver).hasSize(20);
        assertThat(channel.mostHeld).as("masked inputs still reachable when the next one arrived").isZero();
        assertThat(maskedSeen[0]).as("the observer still sees every masked input").isEqualTo(20);
    }

    @Test
    void clientsClaimingAnotherLayoutAreDroppedAndTheOthersSumExactly() throws Exception {
        Harness h = new Harness(8, 22);
        Map<String, InProcessChannel.Participant> p = new TreeMap<>(h.participants());
        // c03: other meta; c05: one word more; c06: a byte count that is no whole number of words
        p.put("c03", client(h, "c03", c -> new SecAggClient.Input(h.inputs.get("c03"), new byte[] {8})));
        p.put("c05", client(h, "c05", c -> new SecAggClient.Input(Arrays.copyOf(h.inputs.get("c05"), LENGTH + 1),
                new byte[] {7})));
        InProcessChannel.Participant honest = p.get("c06");
        p.put("c06", m -> {
            Message reply = honest.handle(m);
            if (m.stage() != Stage.MASKED_INPUT) {
                return reply;
            }
            SortedMap<String, byte[]> payload = new TreeMap<>(reply.payload());
            payload.put("masked", Arrays.copyOf(payload.get("masked"), payload.get("masked").length + 1));
            return new Message(reply.session(), reply.stage(), reply.sender(), reply.receiver(), payload);
        });
        Watching channel = new Watching(new InProcessChannel(p));

        SecAggServer.Result r = new SecAggServer(channel, m -> { }).run(h.config(3, 99));

        Set<String> honestOnes = except(h.ids, "c03", "c05", "c06");
        assertThat(r.survivors()).containsExactlyElementsOf(honestOnes);
        assertThat(r.sum()).containsExactly(h.plainSum(honestOnes));
        assertThat(r.meta()).containsExactly(7);
        assertThat(r.dropped()).containsOnlyKeys("c03", "c05", "c06");
        assertThat(r.dropped().values()).allMatch(why -> why.equals("MASKED_INPUT: its masked input has another "
                + "layout or length than the 5 of 8 clients that agree; it is left out"));
        assertThat(channel.mostHeld).as("a hostile vector is folded into its own sum, not kept").isZero();
    }

    @Test
    void aMaskedInputWithAWordNotBelow2PowBitsIsDroppedOnArrivalAndTheOthersSumExactly() throws Exception {
        Harness h = new Harness(8, 26);
        int bits = 36; // 5-byte words with 4 spare bits: a word can be ≥ 2^36
        byte[] seed = new byte[32];
        h.random.nextBytes(seed);
        SecAggConfig config = new SecAggConfig("round-1-test", 1, h.ids, 3, 4, bits, 1.0, 1, seed);
        Map<String, InProcessChannel.Participant> p = new TreeMap<>(h.participants());
        p.put("c04", withTopBitsSet(p.get("c04"), 100, bits));
        long[] sent = new long[1];
        Watching channel = new Watching(new InProcessChannel(p));

        SecAggServer.Result r = new SecAggServer(channel, m -> {
            if (m.stage() == Stage.MASKED_INPUT && m.sender().equals("c04")) {
                sent[0] = readWord(m.require("masked"), 100, 5);
            }
        }).run(config);

        Set<String> others = except(h.ids, "c04");
        assertThat(sent[0]).isGreaterThanOrEqualTo(1L << bits);
        assertThat(r.survivors()).containsExactlyElementsOf(others);
        assertThat(r.sum()).containsExactly(plainSum(h, others, bits));
        assertThat(r.meta()).containsExactly(7);
        assertThat(r.dropped()).containsOnlyKeys("c04");
        assertThat(r.dropped().get("c04")).isEqualTo("MASKED_INPUT: word 100 of its masked input is " + sent[0]
                + ", not below 2^36 = 68719476736; it is left out");
        assertThat(channel.mostHeld).isZero();
    }

    /** Word i of b-byte little-endian words, read here (not with FixedPoint). */
    static long readWord(byte[] data, int i, int b) {
        long w = 0;
        for (int k = b - 1; k >= 0; k--) {
            w = w << 8 | (data[i * b + k] & 0xff);
        }
        return w;
    }

    @Test
    void withoutAStrictMajorityLayoutTheRoundFailsBeforeAnyShareIsAsked() throws Exception {
        Harness h = new Harness(4, 23);
        Map<String, InProcessChannel.Participant> p = new TreeMap<>(h.participants());
        for (String id : List.of("c02", "c03")) {
            p.put(id, client(h, id, c -> new SecAggClient.Input(h.inputs.get(id), new byte[] {8})));
        }
        List<Stage> asked = new ArrayList<>();
        InProcessChannel inner = new InProcessChannel(p, InProcessChannel.Faults.NONE, m -> {
            asked.add(m.stage());
            return m;
        });

        assertThatThrownBy(() -> new SecAggServer(new Watching(inner), m -> { }).run(h.config(2, 99)))
                .isInstanceOf(SecAggException.class)
                .hasMessageContaining("the 4 masked inputs have 2 different layouts or lengths and no majority");
        assertThat(asked).doesNotContain(Stage.UNMASK);
    }

    @Test
    void dropOutsBeforeAndAfterMaskingGiveTheSameExactSumStreamedOrCollected() throws Exception {
        Harness h = new Harness(20, 24);
        SecAggConfig config = h.config(4, 8);
        InProcessChannel.Faults faults = (c, m) -> dropAt(Stage.MASKED_INPUT, "c03").drop(c, m)
                || dropAt(Stage.UNMASK, "c07", "c11").drop(c, m);
        Watching streamed = new Watching(new InProcessChannel(h.participants(), faults, UnaryOperator.identity()));

        SecAggServer.Result s = new SecAggServer(streamed, m -> { }).run(config);
        SecAggServer.Result b = new SecAggServer(batchOnly(new InProcessChannel(h.participants(), faults,
                UnaryOperator.identity())), m -> { }).run(config);

        Set<String> masked = except(h.ids, "c03");
        assertThat(s.survivors()).containsExactlyElementsOf(masked);
        assertThat(s.sum()).containsExactly(h.plainSum(masked));
        assertThat(s.dropped()).containsOnlyKeys("c03", "c07", "c11");
        assertThat(s.dropped().get("c07")).isEqualTo("UNMASK: dropped out (injected)");
        assertThat(streamed.mostHeld).isZero();
        assertThat(b.sum()).containsExactly(s.sum());
        assertThat(b.survivors()).isEqualTo(s.survivors());
        assertThat(b.dropped()).isEqualTo(s.dropped());
    }

    @Test
    void addPackedAddsWhatUnpackReads() throws Exception {
        Harness h = new Harness(2, 25);
        long[] x = h.inputs.get("c00");
        long[] y = h.inputs.get("c01");
        long[] sum = x.clone();

        FixedPoint.addPacked(sum, FixedPoint.pack(y, BITS), BITS, "y");

        long[] expected = h.plainSum(Set.of("c00", "c01"));
        assertThat(sum).containsExactly(expected);
        byte[] tooLarge = {0, 0, 2}; // 2^17 in one 3-byte word
        assertThatThrownBy(() -> FixedPoint.addPacked(new long[] {0}, tooLarge, 17, "z"))
                .hasMessage("z: word 0 is not below 2^17");
        assertThatThrownBy(() -> FixedPoint.unpack(tooLarge, 17, "z")).hasMessage("z: word 0 is not below 2^17");
    }

    @Test
    void addPackedChecksEveryWordBeforeAddingAny() {
        long[] sum = {1, 2, 3};
        // 36 bits, 5-byte words: 2^36 − 1, 5, 2^36
        byte[] data = {-1, -1, -1, -1, 0x0f, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

        assertThatThrownBy(() -> FixedPoint.addPacked(sum, data, 36, "z")).hasMessage("z: word 2 is not below 2^36");

        assertThat(sum).as("nothing added").containsExactly(1, 2, 3);
        assertThat(FixedPoint.firstWordNotBelow(data, 36)).isEqualTo(2);
        assertThat(FixedPoint.firstWordNotBelow(Arrays.copyOf(data, 10), 36)).isEqualTo(-1);
        assertThat(FixedPoint.rawWord(data, 2, 36)).isEqualTo(1L << 36);
        byte[] allOnes = new byte[12];
        Arrays.fill(allOnes, (byte) -1);
        assertThat(FixedPoint.firstWordNotBelow(allOnes, 32)).as("no spare bits at 32").isEqualTo(-1);
        assertThat(FixedPoint.firstWordNotBelow(allOnes, 48)).as("no spare bits at 48").isEqualTo(-1);
        assertThat(FixedPoint.firstWordNotBelow(allOnes, 17)).isZero();
    }
}
