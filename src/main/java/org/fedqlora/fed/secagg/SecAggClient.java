package org.fedqlora.fed.secagg;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * One client's side of one secure-aggregation session: a state machine that answers the server's four requests in
 * order ({@link Stage}) and refuses anything else. It holds the round's secrets (two X25519 private keys, the
 * self-mask seed b_u, the shares received) and forgets them with the object; a new session needs a new instance.
 *
 * <p>Checks that make a server (or network) misbehaviour visible instead of silently wrong: every request must be
 * for this session, the next stage, from the server and to this client; shares must decrypt under AES-GCM with the
 * (session, sender, receiver) as associated data; the unmask request may name each of its holders' clients only once
 * (as survivor or as dropped, never both), must include this client among the survivors, and must announce at least
 * t survivors; it is answered once. A failed check throws {@link SecAggException} and the client answers nothing more.
 */
public final class SecAggClient {
    /** What the client masks: the words (already fixed-point, below 2^bits) and public metadata (e.g. the layout). */
    public record Input(long[] words, byte[] meta) {
        public Input {
            Objects.requireNonNull(words, "words");
            meta = meta.clone();
        }
    }

    private final String id;
    private final SecureRandom random;
    private final Function<SecAggConfig, Input> input;
    private Stage next = Stage.SETUP;
    private boolean failed;
    private SecAggConfig config;
    private SortedSet<String> neighbours;
    private byte[] cSk;
    private byte[] sSk;
    private byte[] selfSeed;
    private final SortedMap<String, byte[]> neighbourCPk = new TreeMap<>();
    private final SortedMap<String, byte[]> neighbourSPk = new TreeMap<>();
    /** Holder of shares: client u → {share of b_u, share of s_u}. */
    private final SortedMap<String, BigInteger[]> shares = new TreeMap<>();

    /**
     * @param id     this client's id (must be in the session's client list)
     * @param random the source of every secret
     * @param input  called once, in {@link Stage#MASKED_INPUT}, with the session's config
     */
    public SecAggClient(String id, SecureRandom random, Function<SecAggConfig, Input> input) {
        this.id = Objects.requireNonNull(id, "id");
        this.random = Objects.requireNonNull(random, "random");
        this.input = Objects.requireNonNull(input, "input");
    }

    /** Answers one server request. */
    public Message handle(Message request) {
        if (failed) {
            throw new SecAggException(id + " aborted this session earlier and answers nothing more");
        }
        try {
            check(request);
            Message reply = switch (request.stage()) {
                case SETUP -> setup(request);
                case SHARE_KEYS -> shareKeys(request);
                case MASKED_INPUT -> maskedInput(request);
                case UNMASK -> unmask(request);
            };
            next = request.stage() == Stage.UNMASK ? null : Stage.values()[request.stage().ordinal() + 1];
            return reply;
        } catch (RuntimeException e) {
            failed = true;
            throw e;
        }
    }

    private void check(Message m) {
        if (!m.sender().equals(Message.SERVER) || !m.receiver().equals(id)) {
            throw new SecAggException(id + " got a " + m.stage() + " message from " + m.sender() + " to "
                    + m.receiver() + "; only the server's messages to " + id + " are answered");
        }
        if (next == null) {
            throw new SecAggException(id + " already answered the unmask request of session "
                    + config.session() + "; a second " + m.stage() + " request is refused (replay?)");
        }
        if (m.stage() != next) {
            throw new SecAggException(id + " expected a " + next + " request but got " + m.stage()
                    + " (out of order or replayed)");
        }
        if (config != null && !m.session().equals(config.session())) {
            throw new SecAggException(id + " is in session " + config.session() + " but got a " + m.stage()
                    + " message of session " + m.session() + " (replayed from another round?)");
        }
    }

    /** AdvertiseKeys: fresh key pairs for share encryption (c) and pairwise masks (s). */
    private Message setup(Message m) {
        config = SecAggConfig.decode(m.require("config"));
        if (!config.session().equals(m.session())) {
            throw new SecAggException(id + ": SETUP message of session " + m.session() + " carries the config of "
                    + config.session());
        }
        config.point(id);
        neighbours = config.graph().neighbours(id);
        cSk = Crypto.randomKey(random);
        sSk = Crypto.randomKey(random);
        selfSeed = Crypto.randomKey(random);
        return reply(Stage.SETUP, Map.of("c_pk", Crypto.publicKey(cSk), "s_pk", Crypto.publicKey(sSk)));
    }

    /** ShareKeys: Shamir shares of b_u and s_u^SK, one pair per holder, encrypted to each neighbour. */
    private Message shareKeys(Message m) {
        for (String v : neighbours) {
            byte[] c = m.payload().get("c_pk/" + v);
            byte[] s = m.payload().get("s_pk/" + v);
            if (c != null && s != null) {
                neighbourCPk.put(v, c.clone());
                neighbourSPk.put(v, s.clone());
            }
        }
        for (String key : m.payload().keySet()) {
            String v = key.substring(key.indexOf('/') + 1);
            if (!neighbours.contains(v)) {
                throw new SecAggException(id + ": the server sent keys of " + v + ", who is not a neighbour");
            }
        }
        int t = config.threshold();
        if (neighbourCPk.size() + 1 < t) {
            throw new SecAggException(id + ": only " + neighbourCPk.size() + " neighbours advertised keys; with "
                    + "itself that is below the threshold " + t + ", so its secrets could not be recovered");
        }
        SortedSet<String> holders = new TreeSet<>(neighbourCPk.keySet());
        holders.add(id);
        int[] xs = holders.stream().mapToInt(config::point).toArray();
        SortedMap<Integer, BigInteger> b = Shamir.split(selfSeed, t, xs, random);
        SortedMap<Integer, BigInteger> s = Shamir.split(sSk, t, xs, random);
        shares.put(id, new BigInteger[] {b.get(config.point(id)), s.get(config.point(id))});
        SortedMap<String, byte[]> out = new TreeMap<>();
        for (String v : neighbourCPk.keySet()) {
            int x = config.point(v);
            byte[] plain = concat(Shamir.encode(b.get(x)), Shamir.encode(s.get(x)));
            out.put("share/" + v, Crypto.seal(encryptionKey(v), plain, aad(id, v), random));
        }
        return reply(Stage.SHARE_KEYS, out);
    }

    /** MaskedInputCollection: decrypt the shares received, then send y = x + PRG(b_u) + Σ_v ±PRG(s_uv). */
    private Message maskedInput(Message m) {
        SortedSet<String> maskWith = new TreeSet<>();
        for (Map.Entry<String, byte[]> e : m.payload().entrySet()) {
            String u = e.getKey().startsWith("share/") ? e.getKey().substring(6) : null;
            if (u == null || !neighbourCPk.containsKey(u)) {
                throw new SecAggException(id + ": unexpected entry '" + e.getKey() + "' in the forwarded shares");
            }
            byte[] plain = Crypto.open(encryptionKey(u), e.getValue(), aad(u, id),
                    id + ": share from " + u + " in session " + config.session());
            if (plain.length != 2 * Shamir.SHARE_BYTES) {
                throw new SecAggException(id + ": share from " + u + " has " + plain.length + " bytes");
            }
            shares.put(u, new BigInteger[] {Shamir.decode(Arrays.copyOf(plain, Shamir.SHARE_BYTES)),
                    Shamir.decode(Arrays.copyOfRange(plain, Shamir.SHARE_BYTES, plain.length))});
            maskWith.add(u);
        }
        Input in = input.apply(config);
        long[] y = in.words().clone();
        int bits = config.bits();
        for (int j = 0; j < y.length; j++) {
            if (y[j] < 0 || (y[j] >>> bits) != 0) {
                throw new IllegalArgumentException(id + ": input word " + j + " is not in [0, 2^" + bits + ")");
            }
        }
        Prg.addMask(y, selfMaskSeed(config.session(), selfSeed), 1, bits);
        for (String v : maskWith) {
            Prg.addMask(y, pairSeed(config.session(), sSk, neighbourSPk.get(v)), sign(config, id, v), bits);
        }
        return reply(Stage.MASKED_INPUT, Map.of("masked", FixedPoint.pack(y, bits), "meta", in.meta()));
    }

    /** Unmasking: shares of b_v for the survivors, of s_v^SK for the dropped; never both for one client. */
    private Message unmask(Message m) {
        List<String> survivors = Codec.strings(m.require("survivors"));
        List<String> dropped = Codec.strings(m.require("dropped"));
        long count = Codec.toLong(m.require("survivor_count"));
        if (count < config.threshold()) {
            throw new SecAggException(id + ": the server announces " + count + " survivors, below the threshold "
                    + config.threshold() + "; no share is released");
        }
        TreeSet<String> both = new TreeSet<>(survivors);
        both.retainAll(dropped);
        if (!both.isEmpty()) {
            throw new SecAggException(id + ": the unmask request lists " + both + " as both survived and dropped; "
                    + "revealing both shares would unmask their inputs, so nothing is released");
        }
        if (!survivors.contains(id)) {
            throw new SecAggException(id + ": the unmask request does not list this client among the survivors");
        }
        SortedMap<String, byte[]> out = new TreeMap<>();
        for (String v : survivors) {
            out.put("b/" + v, Shamir.encode(share(v)[0]));
        }
        for (String v : dropped) {
            if (v.equals(id)) {
                throw new SecAggException(id + ": the unmask request lists this client as dropped");
            }
            out.put("s/" + v, Shamir.encode(share(v)[1]));
        }
        shares.clear();
        return reply(Stage.UNMASK, out);
    }

    private BigInteger[] share(String v) {
        BigInteger[] s = shares.get(v);
        if (s == null) {
            throw new SecAggException(id + ": the unmask request names " + v + ", whose shares this client does "
                    + "not hold");
        }
        return s;
    }

    private byte[] encryptionKey(String v) {
        return Crypto.derive("fedqlora-secagg-enc", config.session(), Crypto.x25519(cSk, neighbourCPk.get(v)));
    }

    private byte[] aad(String from, String to) {
        return ("fedqlora-secagg-share|" + config.session() + "|" + from + "|" + to).getBytes(StandardCharsets.UTF_8);
    }

    private Message reply(Stage stage, Map<String, byte[]> payload) {
        return Message.of(config.session(), stage, id, Message.SERVER, payload);
    }

    /** The PRG key of client u's self mask. */
    static byte[] selfMaskSeed(String session, byte[] b) {
        return Crypto.derive("fedqlora-secagg-self", session, b);
    }

    /** The PRG key of the pairwise mask of u and v: KDF(X25519(s_u^SK, s_v^PK)), the same from both sides. */
    static byte[] pairSeed(String session, byte[] sk, byte[] otherPk) {
        return Crypto.derive("fedqlora-secagg-pair", session, Crypto.x25519(sk, otherPk));
    }

    /** +1 if u comes before v in the session's client order, −1 otherwise: the pair's masks cancel in the sum. */
    static int sign(SecAggConfig config, String u, String v) {
        return config.point(u) < config.point(v) ? 1 : -1;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
