package org.fedqlora.fed.secagg;

import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The protocol end to end on integer inputs (mod 2^bits), where the secure sum must be exact: sparse and complete
 * graphs, drop-outs at every stage after the keys, too few survivors, tampered and replayed messages.
 */
class SecAggProtocolTest {
    static final int BITS = 32;
    static final int LENGTH = 257;

    /** n clients with random inputs, each a fresh SecAggClient per session. */
    static final class Harness {
        final List<String> ids;
        final Map<String, long[]> inputs = new TreeMap<>();
        final Map<String, SecAggClient> sessions = new HashMap<>();
        final SecureRandom random;
        final List<Message> view = new ArrayList<>();
        final List<Message> delivered = new ArrayList<>();

        Harness(int n, long seed) throws Exception {
            random = PrimitivesTest.seeded(seed);
            ids = IntStream.range(0, n).mapToObj(i -> String.format("c%02d", i)).toList();
            for (String id : ids) {
                long[] x = new long[LENGTH];
                for (int j = 0; j < LENGTH; j++) {
                    x[j] = random.nextLong() & ((1L << BITS) - 1);
                }
                inputs.put(id, x);
            }
        }

        Map<String, InProcessChannel.Participant> participants() {
            Map<String, InProcessChannel.Participant> p = new TreeMap<>();
            for (String id : ids) {
                p.put(id, request -> {
                    delivered.add(request);
                    if (request.stage() == Stage.SETUP) {
                        sessions.put(id, new SecAggClient(id, random,
                                c -> new SecAggClient.Input(inputs.get(id), new byte[] {7})));
                    }
                    return sessions.get(id).handle(request);
                });
            }
            return p;
        }

        SecAggConfig config(int t, int k) {
            byte[] seed = new byte[32];
            random.nextBytes(seed);
            return new SecAggConfig("round-1-test", 1, ids, t, k, BITS, 1.0, 1, seed);
        }

        SecAggServer.Result run(SecAggConfig config, InProcessChannel.Faults faults, UnaryOperator<Message> tamper) {
            return new SecAggServer(new InProcessChannel(participants(), faults, tamper), view::add).run(config);
        }

        long[] plainSum(Set<String> of) {
            long[] s = new long[LENGTH];
            for (String id : of) {
                for (int j = 0; j < LENGTH; j++) {
                    s[j] = (s[j] + inputs.get(id)[j]) & ((1L << BITS) - 1);
                }
            }
            return s;
        }
    }

    static InProcessChannel.Faults dropAt(Stage stage, String... clients) {
        Set<String> set = Set.of(clients);
        return (c, m) -> set.contains(c) && m.stage().ordinal() >= stage.ordinal();
    }

    @Test
    void sumIsExactOnASparseGraph() throws Exception {
        Harness h = new Harness(12, 1);
        SecAggConfig config = h.config(3, 4);

        SecAggServer.Result r = h.run(config, InProcessChannel.Faults.NONE, UnaryOperator.identity());

        assertThat(r.survivors()).containsExactlyElementsOf(h.ids);
        assertThat(r.sum()).containsExactly(h.plainSum(h.inputs.keySet()));
        assertThat(r.dropped()).isEmpty();
        assertThat(r.meta()).containsExactly(7);
    }

    @Test
    void sumIsExactOnTheCompleteGraph() throws Exception {
        Harness h = new Harness(5, 2);
        SecAggServer.Result r = h.run(h.config(3, 99), InProcessChannel.Faults.NONE, UnaryOperator.identity());
        assertThat(r.sum()).containsExactly(h.plainSum(h.inputs.keySet()));
    }

    @Test
    void oneClientDroppingAfterSharingHasItsMasksRemoved() throws Exception {
        Harness h = new Harness(8, 3);

        SecAggServer.Result r = h.run(h.config(3, 4), dropAt(Stage.MASKED_INPUT, "c03"), UnaryOperator.identity());

        Set<String> others = new java.util.TreeSet<>(h.ids);
        others.remove("c03");
        assertThat(r.survivors()).containsExactlyElementsOf(others);
        assertThat(r.sum()).containsExactly(h.plainSum(others));
        assertThat(r.dropped()).containsOnlyKeys("c03");
        assertThat(r.dropped().get("c03")).startsWith("MASKED_INPUT");
    }

    @Test
    void twoClientsDroppingAfterSharingHaveTheirMasksRemoved() throws Exception {
        Harness h = new Harness(8, 4);
        SecAggConfig config = h.config(3, 4);
        // two neighbours of each other, the harder case for the graph
        String a = "c01";
        String b = config.graph().neighbours(a).first();

        SecAggServer.Result r = h.run(config, dropAt(Stage.MASKED_INPUT, a, b), UnaryOperator.identity());

        Set<String> others = new java.util.TreeSet<>(h.ids);
        others.removeAll(Set.of(a, b));
        assertThat(r.sum()).containsExactly(h.plainSum(others));
        assertThat(r.dropped()).containsOnlyKeys(a, b);
    }

    @Test
    void clientsDroppingDuringUnmaskingStillCountAndTheSumIsExact() throws Exception {
        Harness h = new Harness(8, 5);

        SecAggServer.Result r = h.run(h.config(3, 6), dropAt(Stage.UNMASK, "c02", "c06"), UnaryOperator.identity());

        assertThat(r.survivors()).containsExactlyElementsOf(h.ids);
        assertThat(r.sum()).containsExactly(h.plainSum(h.inputs.keySet()));
        assertThat(r.dropped()).containsOnlyKeys("c02", "c06");
    }

    @Test
    void fewerSurvivorsThanTheThresholdFailsBeforeAnyShareIsReleased() throws Exception {
        Harness h = new Harness(5, 6);
        SecAggConfig config = h.config(4, 99); // complete graph, t = 4 of 5 holders

        assertThatThrownBy(() -> h.run(config, dropAt(Stage.MASKED_INPUT, "c00", "c04"), UnaryOperator.identity()))
                .isInstanceOf(SecAggException.class)
                .hasMessageContaining("only 3 of 5 clients sent masked inputs, below the threshold 4")
                .hasMessageContaining("nothing is revealed");

        assertThat(h.delivered).noneMatch(m -> m.stage() == Stage.UNMASK);
        assertThat(h.view).noneMatch(m -> m.payload().keySet().stream()
                .anyMatch(k -> k.startsWith("b/") || k.startsWith("s/")));
    }

    @Test
    void aClientRefusesToUnmaskWhenTheServerAnnouncesTooFewSurvivors() throws Exception {
        Harness h = new Harness(4, 7);
        SecAggConfig config = h.config(3, 99);
        UnaryOperator<Message> lie = m -> m.stage() != Stage.UNMASK ? m : Message.of(m.session(), m.stage(),
                m.sender(), m.receiver(), Map.of("survivors", m.require("survivors"), "dropped",
                        m.require("dropped"), "survivor_count", Codec.bytes(2)));

        assertThatThrownBy(() -> h.run(config, InProcessChannel.Faults.NONE, lie))
                .isInstanceOf(SecAggException.class).hasMessageContaining("threshold");
        assertThat(h.view).noneMatch(m -> m.stage() == Stage.UNMASK && !m.payload().isEmpty());
    }

    @Test
    void aTamperedShareIsDetectedByItsReceiverAndTheOthersSumExactly() throws Exception {
        Harness h = new Harness(6, 8);
        SecAggConfig config = h.config(3, 99);
        UnaryOperator<Message> flip = m -> {
            if (m.stage() != Stage.MASKED_INPUT || !m.receiver().equals("c02")) {
                return m;
            }
            SortedMap<String, byte[]> p = new TreeMap<>(m.payload());
            byte[] ct = p.get("share/c04").clone();
            ct[20] ^= 0x40;
            p.put("share/c04", ct);
            return new Message(m.session(), m.stage(), m.sender(), m.receiver(), p);
        };

        SecAggServer.Result r = h.run(config, InProcessChannel.Faults.NONE, flip);

        assertThat(r.dropped().get("c02")).contains("AES-GCM authentication failed");
        Set<String> others = new java.util.TreeSet<>(h.ids);
        others.remove("c02");
        assertThat(r.sum()).containsExactly(h.plainSum(others));
    }

    @Test
    void aShareRedirectedFromAnotherReceiverIsDetected() throws Exception {
        Harness h = new Harness(5, 9);
        SecAggConfig config = h.config(3, 99);
        Map<String, Message> maskRequests = new HashMap<>();
        UnaryOperator<Message> swap = m -> {
            if (m.stage() != Stage.MASKED_INPUT) {
                return m;
            }
            maskRequests.put(m.receiver(), m);
            if (!m.receiver().equals("c01")) {
                return m;
            }
            // c03's ciphertext for c01, presented to c01 as coming from c04
            SortedMap<String, byte[]> p = new TreeMap<>(m.payload());
            p.put("share/c04", m.payload().get("share/c03"));
            return new Message(m.session(), m.stage(), m.sender(), m.receiver(), p);
        };

        SecAggServer.Result r = h.run(config, InProcessChannel.Faults.NONE, swap);

        assertThat(r.dropped().get("c01")).contains("AES-GCM authentication failed");
    }

    @Test
    void aRequestReplayedFromAnotherSessionIsRefused() throws Exception {
        Harness h = new Harness(4, 10);
        SecAggConfig config = h.config(2, 99);
        UnaryOperator<Message> replay = m -> m.stage() == Stage.SHARE_KEYS && m.receiver().equals("c01")
                ? new Message("round-0-old", m.stage(), m.sender(), m.receiver(), m.payload()) : m;

        SecAggServer.Result r = h.run(config, InProcessChannel.Faults.NONE, replay);

        assertThat(r.dropped().get("c01")).contains("session round-0-old").contains("replayed");
        Set<String> others = new java.util.TreeSet<>(h.ids);
        others.remove("c01");
        assertThat(r.sum()).containsExactly(h.plainSum(others));
    }

    @Test
    void aReplyReplayedFromAnotherSessionIsDroppedByTheServer() throws Exception {
        Harness h = new Harness(4, 11);
        SecAggConfig first = h.config(2, 99);
        List<Message> old = new ArrayList<>();
        h.run(first, InProcessChannel.Faults.NONE, UnaryOperator.identity());
        h.view.stream().filter(m -> m.stage() == Stage.MASKED_INPUT && m.sender().equals("c03")).forEach(old::add);

        byte[] seed = new byte[32];
        SecAggConfig second = new SecAggConfig("round-2-test", 2, h.ids, 2, 99, BITS, 1.0, 1, seed);
        Map<String, InProcessChannel.Participant> p = new TreeMap<>(h.participants());
        InProcessChannel.Participant honest = p.get("c03");
        p.put("c03", m -> m.stage() == Stage.MASKED_INPUT ? old.get(0) : honest.handle(m));
        SecAggServer.Result r = new SecAggServer(new InProcessChannel(p), m -> { }).run(second);

        assertThat(r.dropped().get("c03")).contains("for session round-1-test (replayed?)");
        Set<String> others = new java.util.TreeSet<>(h.ids);
        others.remove("c03");
        assertThat(r.sum()).containsExactly(h.plainSum(others));
    }

    @Test
    void aClientAnswersTheUnmaskRequestOnlyOnce() throws Exception {
        Harness h = new Harness(3, 12);
        List<Message> unmask = new ArrayList<>();
        h.run(h.config(2, 99), InProcessChannel.Faults.NONE, m -> {
            if (m.stage() == Stage.UNMASK) {
                unmask.add(m);
            }
            return m;
        });
        SecAggClient c = h.sessions.get("c00");
        Message again = unmask.stream().filter(m -> m.receiver().equals("c00")).findFirst().orElseThrow();
        assertThatThrownBy(() -> c.handle(again)).hasMessageContaining("already answered");
    }

    @Test
    void aTamperedShareInTheUnmaskingIsDetectedNotSummed() throws Exception {
        Harness h = new Harness(5, 13);
        SecAggConfig config = h.config(3, 99);
        Map<String, InProcessChannel.Participant> p = new TreeMap<>(h.participants());
        InProcessChannel.Participant honest = p.get("c02");
        p.put("c02", m -> {
            Message reply = honest.handle(m);
            if (m.stage() != Stage.UNMASK) {
                return reply;
            }
            SortedMap<String, byte[]> payload = new TreeMap<>(reply.payload());
            byte[] share = payload.get("b/c00").clone();
            share[share.length - 1] ^= 1;
            payload.put("b/c00", share);
            return new Message(reply.session(), reply.stage(), reply.sender(), reply.receiver(), payload);
        });

        assertThatThrownBy(() -> new SecAggServer(new InProcessChannel(p), m -> { }).run(config))
                .isInstanceOf(SecAggException.class).hasMessageContaining("self-mask seed of c00")
                .hasMessageContaining("inconsistent");
    }

    @Test
    void aTamperedMaskKeyShareIsCaughtByThePublicKeyCheck() throws Exception {
        Harness h = new Harness(4, 14);
        SecAggConfig config = h.config(3, 99); // c03 drops: exactly 3 holders answer for its key, no spare share
        Map<String, InProcessChannel.Participant> p = new TreeMap<>(h.participants());
        InProcessChannel.Participant honest = p.get("c01");
        p.put("c01", m -> {
            Message reply = honest.handle(m);
            if (m.stage() != Stage.UNMASK) {
                return reply;
            }
            SortedMap<String, byte[]> payload = new TreeMap<>(reply.payload());
            byte[] share = payload.get("s/c03").clone();
            share[share.length - 1] ^= 1;
            payload.put("s/c03", share);
            return new Message(reply.session(), reply.stage(), reply.sender(), reply.receiver(), payload);
        });
        InProcessChannel channel = new InProcessChannel(p, dropAt(Stage.MASKED_INPUT, "c03"), UnaryOperator.identity());

        assertThatThrownBy(() -> new SecAggServer(channel, m -> { }).run(config))
                .isInstanceOf(SecAggException.class).hasMessageContaining("does not match its public key");
    }

    /**
     * The server's view: nothing it receives equals or correlates with an input. Inputs are small structured
     * integers (so in the clear their top bits are all zero); the masked words must look uniform. With m = 4 × 257
     * words, chi-square over the 16 values of the top 4 bits has 15 degrees of freedom: P(χ² > 60) ≈ 3e-7, and the
     * Pearson correlation of input and masked word is below 5/√m except with probability ≈ 6e-7 (inputs are seeded,
     * so the test is deterministic; the bounds say how unlikely a failure of a correct implementation is).
     */
    @Test
    void theServersViewOfMaskedInputsIsUniformAndUncorrelatedWithTheInputs() throws Exception {
        Harness h = new Harness(4, 15);
        h.ids.forEach(id -> {
            long[] x = h.inputs.get(id);
            for (int j = 0; j < LENGTH; j++) {
                x[j] = j % 50;
            }
        });

        h.run(h.config(2, 99), InProcessChannel.Faults.NONE, UnaryOperator.identity());

        long[] buckets = new long[16];
        List<double[]> pairs = new ArrayList<>();
        for (Message m : h.view) {
            for (byte[] payload : m.payload().values()) {
                for (long[] x : h.inputs.values()) {
                    assertThat(Arrays.equals(payload, FixedPoint.pack(x, BITS))).isFalse();
                }
            }
            if (m.stage() == Stage.MASKED_INPUT) {
                long[] y = FixedPoint.unpack(m.require("masked"), BITS, "y");
                long[] x = h.inputs.get(m.sender());
                for (int j = 0; j < LENGTH; j++) {
                    buckets[(int) (y[j] >>> (BITS - 4))]++;
                    pairs.add(new double[] {x[j], y[j]});
                }
            }
        }
        double m = pairs.size();
        assertThat(m).isEqualTo(4 * LENGTH);
        double expected = m / 16;
        double chi2 = 0;
        for (long b : buckets) {
            chi2 += (b - expected) * (b - expected) / expected;
        }
        assertThat(chi2).isLessThan(60);
        assertThat(Math.abs(correlation(pairs))).isLessThan(5 / Math.sqrt(m));
    }

    static double correlation(List<double[]> pairs) {
        double mx = pairs.stream().mapToDouble(p -> p[0]).average().orElseThrow();
        double my = pairs.stream().mapToDouble(p -> p[1]).average().orElseThrow();
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (double[] p : pairs) {
            sxy += (p[0] - mx) * (p[1] - my);
            sxx += (p[0] - mx) * (p[0] - mx);
            syy += (p[1] - my) * (p[1] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }
}
