package org.fedqlora.fed.secagg;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The server's side of one secure-aggregation session (SecAgg+ for an honest-but-curious server). It only ever
 * sees what clients send it ({@link Message}s: public keys, ciphertexts it cannot open, masked inputs, and in the
 * end shares of b_v for survivors and of s_v^SK for dropped clients), and computes
 * <pre>
 *   Σ_{u ∈ U3} x_u = Σ_{u ∈ U3} y_u − Σ_{u ∈ U3} PRG(b_u) − Σ_{u ∈ U2∖U3} Σ_{v ∈ N(u) ∩ U3} sign(v, u)·PRG(s_vu)   (mod 2^bits)
 * </pre>
 * where U1 ⊇ U2 ⊇ U3 are the clients that answered SETUP, SHARE_KEYS and MASKED_INPUT. A client that does not
 * answer a stage, or answers something invalid (another session or stage, another sender, missing fields, a masked
 * input of another layout or length than the majority's, a masked input whose byte count is not a whole number of
 * words or that has a word at or above 2^bits), is dropped from then on, with the reason in {@link Result#dropped};
 * an invalid masked input is rejected as it arrives and none of it enters the sum, so it costs the round only that
 * client. Before asking for any share the server checks that at least t clients sent masked inputs
 * and that every secret it needs has at least t holders among them; otherwise the round fails with a
 * {@link SecAggException} and no share is requested, so nothing is revealed. Reconstructed mask keys are checked
 * against the public keys their owners advertised, and extra shares against the Shamir polynomial, so a tampered
 * share fails the round instead of corrupting the sum.
 *
 * <p>Memory: the masked inputs are not kept. Each is checked and added into a running sum mod 2^bits as the channel
 * hands it over ({@link Channel#exchange(Map, BiConsumer)}), one sum per (meta, length) layout claimed
 * ({@link MaskedSums}), so the server holds 8 · d bytes per distinct layout for d words (one layout when clients are
 * honest) instead of every survivor's n · d · ⌈bits/8⌉ bytes; keys, ciphertexts and shares are O(n · k).
 */
public final class SecAggServer {
    /** Carries the server's requests of one stage to the clients and brings back their replies. */
    public interface Channel {
        /**
         * Delivers each request (keyed by client id) and collects the replies.
         *
         * @return the replies of the clients that answered, and for the others why not (dropped, timed out, refused)
         */
        Replies exchange(Map<String, Message> requests);

        /**
         * Delivers each request (keyed by client id) and hands each reply to {@code onReply} as it arrives instead of
         * collecting them, so a caller that folds replies holds one at a time. At most one call per client; calls come
         * from one thread at a time and all happen before this returns (so {@code onReply} needs no locking of its
         * own). This default collects the stage with {@link #exchange(Map)} first; channels that can stream override
         * it.
         *
         * @return for the clients without a reply, why not (dropped, timed out, refused), as {@link Replies#failures}
         */
        default Map<String, String> exchange(Map<String, Message> requests, BiConsumer<String, Message> onReply) {
            Replies r = exchange(requests);
            r.replies().forEach(onReply);
            return r.failures();
        }

        /** Bytes of all requests delivered so far (0 if the channel does not count). */
        default long bytesDown() {
            return 0;
        }

        /** Bytes of all replies received so far (0 if the channel does not count). */
        default long bytesUp() {
            return 0;
        }
    }

    /** What a stage brought back: replies by client id, and reasons by client id for those without a reply. */
    public record Replies(Map<String, Message> replies, Map<String, String> failures) {
        public Replies {
            replies = Collections.unmodifiableSortedMap(new TreeMap<>(replies));
            failures = Collections.unmodifiableSortedMap(new TreeMap<>(failures));
        }
    }

    /**
     * The outcome of a session.
     *
     * @param sum       Σ x_u over the survivors, mod 2^bits, one word per input coordinate
     * @param meta      the survivors' public metadata (identical for all, checked)
     * @param survivors U3: the clients whose inputs are in the sum
     * @param dropped   client → the stage and reason it dropped out
     */
    public record Result(long[] sum, byte[] meta, List<String> survivors, SortedMap<String, String> dropped) {
        public Result {
            survivors = List.copyOf(survivors);
            dropped = Collections.unmodifiableSortedMap(new TreeMap<>(dropped));
        }
    }

    private final Channel channel;
    private final Consumer<Message> observer;

    /**
     * @param channel  carries the messages
     * @param observer sees every message the server receives, in order (tests: the server's view); may be a no-op
     */
    public SecAggServer(Channel channel, Consumer<Message> observer) {
        this.channel = Objects.requireNonNull(channel, "channel");
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    /** Runs one session over the config's clients; throws {@link SecAggException} if the round cannot complete. */
    public Result run(SecAggConfig config) {
        String session = config.session();
        NeighbourGraph graph = config.graph();
        int t = config.threshold();
        SortedMap<String, String> dropped = new TreeMap<>();

        // SETUP → AdvertiseKeys
        SortedMap<String, Message> setup = new TreeMap<>();
        byte[] encoded = config.encode();
        config.clients().forEach(c -> setup.put(c, request(session, Stage.SETUP, c, Map.of("config", encoded))));
        SortedMap<String, Message> keys = collect(Stage.SETUP, session, setup, dropped, List.of("c_pk", "s_pk"));
        requireAtLeast(keys.size(), t, "advertised keys", config);

        // SHARE_KEYS: each client gets its advertising neighbours' public keys
        SortedMap<String, Message> shareReq = new TreeMap<>();
        for (String u : keys.keySet()) {
            SortedMap<String, byte[]> p = new TreeMap<>();
            for (String v : graph.neighbours(u)) {
                if (keys.containsKey(v)) {
                    p.put("c_pk/" + v, keys.get(v).require("c_pk"));
                    p.put("s_pk/" + v, keys.get(v).require("s_pk"));
                }
            }
            shareReq.put(u, request(session, Stage.SHARE_KEYS, u, p));
        }
        SortedMap<String, Message> shared = collect(Stage.SHARE_KEYS, session, shareReq, dropped, List.of());
        requireAtLeast(shared.size(), t, "shared their keys", config);

        // MASKED_INPUT: route the ciphertexts u → v (only between clients that both shared)
        SortedMap<String, SortedSet<String>> maskSets = new TreeMap<>(); // v → the u it will mask with
        SortedMap<String, Message> maskReq = new TreeMap<>();
        for (String v : shared.keySet()) {
            SortedMap<String, byte[]> p = new TreeMap<>();
            SortedSet<String> from = new TreeSet<>();
            for (String u : graph.neighbours(v)) {
                Message m = shared.get(u);
                if (m != null && m.payload().containsKey("share/" + v)) {
                    p.put("share/" + u, m.payload().get("share/" + v));
                    from.add(u);
                }
            }
            maskSets.put(v, from);
            maskReq.put(v, request(session, Stage.MASKED_INPUT, v, p));
        }
        // each masked input is folded into its layout's running sum as it arrives; the majority's sum is kept
        MaskedSums sums = new MaskedSums(config);
        collect(Stage.MASKED_INPUT, session, maskReq, dropped, List.of("masked", "meta"), sums::add);
        MaskedSums.Group kept = sums.keepMajority(dropped);
        SortedSet<String> masked = kept == null ? new TreeSet<>() : kept.members;
        List<String> survivors = List.copyOf(masked);
        SortedSet<String> lost = new TreeSet<>(shared.keySet());
        lost.removeAll(masked);
        checkReconstructible(config, graph, survivors, lost, maskSets, "masked inputs");

        byte[] meta = kept.meta;

        // UNMASK: ask each survivor for its shares of survivors (b) and of the lost (s) that it holds
        SortedMap<String, Message> unmaskReq = new TreeMap<>();
        for (String v : survivors) {
            List<String> b = new ArrayList<>();
            List<String> s = new ArrayList<>();
            for (String u : holdersOf(v, maskSets)) {
                if (masked.contains(u)) {
                    b.add(u);
                } else if (lost.contains(u)) {
                    s.add(u);
                }
            }
            unmaskReq.put(v, request(session, Stage.UNMASK, v, Map.of("survivors", Codec.strings(b),
                    "dropped", Codec.strings(s), "survivor_count", Codec.bytes(survivors.size()))));
        }
        SortedMap<String, Message> unmasked = collect(Stage.UNMASK, session, unmaskReq, dropped, List.of());
        List<String> responders = List.copyOf(unmasked.keySet());

        // reconstruct and remove the masks from Σ y_u
        long[] sum = kept.sum;
        int bits = config.bits();
        for (String u : survivors) {
            byte[] b = Shamir.reconstruct(sharesOf("b/" + u, unmasked, config), t, Crypto.KEY_BYTES,
                    "round " + config.round() + ": self-mask seed of " + u);
            Prg.addMask(sum, SecAggClient.selfMaskSeed(session, b), -1, bits);
        }
        for (String u : lost) {
            byte[] sk = Shamir.reconstruct(sharesOf("s/" + u, unmasked, config), t, Crypto.KEY_BYTES,
                    "round " + config.round() + ": mask key of dropped client " + u);
            if (!Arrays.equals(Crypto.publicKey(sk), keys.get(u).require("s_pk"))) {
                throw new SecAggException("round " + config.round() + ": the mask key of " + u + " reconstructed "
                        + "from the shares of " + responders + " does not match its public key (tampered share)");
            }
            for (String v : survivors) {
                if (maskSets.get(v).contains(u)) {
                    // v added sign(v, u)·PRG(s_vu): subtract it
                    Prg.addMask(sum, SecAggClient.pairSeed(session, sk, keys.get(v).require("s_pk")),
                            -SecAggClient.sign(config, v, u), bits);
                }
            }
        }
        return new Result(sum, meta, survivors, dropped);
    }

    /** The clients whose shares v holds: itself and those that sent it shares. */
    private static SortedSet<String> holdersOf(String v, Map<String, SortedSet<String>> maskSets) {
        SortedSet<String> set = new TreeSet<>(maskSets.get(v));
        set.add(v);
        return set;
    }

    /** Fails before any share is requested unless every needed secret has ≥ t holders among the survivors. */
    private static void checkReconstructible(SecAggConfig config, NeighbourGraph graph, List<String> survivors,
                                             SortedSet<String> lost, Map<String, SortedSet<String>> maskSets,
                                             String what) {
        int t = config.threshold();
        requireAtLeast(survivors.size(), t, "sent " + what, config);
        for (String u : survivors) {
            requireHolders(config, u, holdersAmong(u, survivors, maskSets), "self-mask seed");
        }
        for (String u : lost) {
            requireHolders(config, u, holdersAmong(u, survivors, maskSets), "mask key");
        }
    }

    private static long holdersAmong(String u, List<String> survivors, Map<String, SortedSet<String>> maskSets) {
        return survivors.stream().filter(v -> v.equals(u) || maskSets.get(v).contains(u)).count();
    }

    private static void requireHolders(SecAggConfig config, String u, long holders, String secret) {
        if (holders < config.threshold()) {
            throw new SecAggException("round " + config.round() + ": only " + holders + " surviving holders of the "
                    + secret + " of " + u + ", below the threshold " + config.threshold()
                    + "; the round is abandoned before any share is requested, so nothing is revealed");
        }
    }

    private static void requireAtLeast(int count, int t, String what, SecAggConfig config) {
        if (count < t) {
            throw new SecAggException("round " + config.round() + ": only " + count + " of "
                    + config.clients().size() + " clients " + what + ", below the threshold " + t
                    + "; the round is abandoned and no share is requested, so nothing is revealed");
        }
    }

    private static SortedMap<Integer, BigInteger> sharesOf(String key, Map<String, Message> unmasked,
                                                           SecAggConfig config) {
        SortedMap<Integer, BigInteger> out = new TreeMap<>();
        unmasked.forEach((v, m) -> {
            byte[] s = m.payload().get(key);
            if (s != null) {
                out.put(config.point(v), Shamir.decode(s));
            }
        });
        return out;
    }

    private static Message request(String session, Stage stage, String to, Map<String, byte[]> payload) {
        return Message.of(session, stage, Message.SERVER, to, payload);
    }

    /** One stage's exchange, keeping the valid replies by client id. */
    private SortedMap<String, Message> collect(Stage stage, String session, SortedMap<String, Message> requests,
                                               SortedMap<String, String> dropped, List<String> required) {
        SortedMap<String, Message> ok = new TreeMap<>();
        collect(stage, session, requests, dropped, required, ok::put);
        return ok;
    }

    /**
     * One stage's exchange: each reply is checked as it arrives and handed to {@code accept} if valid (which may fold
     * it and let it go); invalid replies count as drop-outs, with the reason.
     */
    private void collect(Stage stage, String session, SortedMap<String, Message> requests,
                         SortedMap<String, String> dropped, List<String> required, BiConsumer<String, Message> accept) {
        Set<String> answered = new HashSet<>();
        Map<String, String> failures = channel.exchange(requests, (c, m) -> {
            observer.accept(m);
            if (!answered.add(c)) {
                return; // one reply per client: a channel that delivers another is ignored
            }
            String problem = !requests.containsKey(c) ? "answered without being asked"
                    : !m.sender().equals(c) ? "its reply claims to be from " + m.sender()
                    : !m.receiver().equals(Message.SERVER) ? "its reply is addressed to " + m.receiver()
                    : !m.session().equals(session) ? "its reply is for session " + m.session() + " (replayed?)"
                    : m.stage() != stage ? "its reply is for stage " + m.stage() + " (replayed?)"
                    : required.stream().filter(r -> !m.payload().containsKey(r)).findFirst()
                            .map(r -> "its reply lacks '" + r + "'").orElse(null);
            if (problem == null) {
                accept.accept(c, m);
            } else {
                dropped.put(c, stage + ": " + problem);
            }
        });
        failures.forEach((c, why) -> dropped.putIfAbsent(c, stage + ": " + why));
        requests.keySet().stream().filter(c -> !answered.contains(c) && !dropped.containsKey(c))
                .forEach(c -> dropped.put(c, stage + ": no reply"));
    }
}
