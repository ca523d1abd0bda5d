package org.fedqlora.fed.secagg;

import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The server's running sums of masked inputs y_u, one per public layout a client claims: (meta bytes, length in
 * words). Each input is added mod 2^bits as it arrives ({@link #add}) and its bytes are not kept, so the server holds
 * 8 · d bytes per distinct layout (d words each), not n · d · ⌈bits/8⌉ for n clients: with honest clients one sum, and
 * a client claiming another layout costs one more sum, never a second copy of anyone's vector. An input that cannot
 * be summed is rejected on arrival and enters no sum: its byte count is not a whole number of words, or one of its
 * words is at or above 2^bits (possible when bits is not a multiple of 8; every word is checked before any is added,
 * so a rejected input leaves no partial trace). When the stage is over, {@link #keepMajority} keeps the sum of the
 * layout a strict majority sent and drops every other client, the rejected ones with their reason.
 *
 * <p>Addition mod 2^bits is commutative and associative, so the sum does not depend on the order in which inputs
 * arrive: it is bit-identical to summing the kept clients' inputs in id order.
 */
final class MaskedSums {
    /** The clients that claimed one layout, and the sum of their masked inputs. */
    static final class Group {
        final byte[] meta;
        final int length;
        final long[] sum;
        final SortedSet<String> members = new TreeSet<>();

        private Group(byte[] meta, int length) {
            this.meta = meta;
            this.length = length;
            this.sum = new long[length];
        }
    }

    private final int round;
    private final int bits;
    private final int wordBytes;
    /** "hex(meta)/length" → its group. */
    private final Map<String, Group> groups = new HashMap<>();
    /** Clients whose masked input is not a whole number of words (no layout: never kept). */
    private final SortedSet<String> ragged = new TreeSet<>();
    /** Clients whose masked input has a word at or above 2^bits → which word, its value, the bound (in no sum). */
    private final SortedMap<String, String> outOfRange = new TreeMap<>();
    private int count;

    MaskedSums(SecAggConfig config) {
        this.round = config.round();
        this.bits = config.bits();
        this.wordBytes = FixedPoint.wordBytes(bits);
    }

    /** Folds one validated MASKED_INPUT reply (it has "masked" and "meta") into its layout's sum. */
    void add(String client, Message m) {
        byte[] y = m.require("masked");
        count++;
        if (y.length % wordBytes != 0) {
            ragged.add(client);
            return;
        }
        int bad = FixedPoint.firstWordNotBelow(y, bits);
        if (bad >= 0) {
            outOfRange.put(client, "word " + bad + " of its masked input is " + FixedPoint.rawWord(y, bad, bits)
                    + ", not below 2^" + bits + " = " + (1L << bits) + "; it is left out");
            return;
        }
        byte[] meta = m.require("meta");
        int length = y.length / wordBytes;
        Group g = groups.computeIfAbsent(HexFormat.of().formatHex(meta) + "/" + length, k -> new Group(meta, length));
        g.members.add(client);
        FixedPoint.addWords(g.sum, y, bits);                           // length and every word checked above
    }

    /**
     * Every masked input must have the same public layout and length. Those that differ from the layout a strict
     * majority sent, and those rejected on arrival (a byte count that is not a whole number of words, a word at or
     * above 2^bits), are dropped as if they had not sent one: their pairwise masks are then removed with their
     * reconstructed mask keys, their self masks are never revealed. A rejected input still counts among the inputs
     * sent, so the majority is one of all who answered. The other sums are released. Without a majority the round
     * fails.
     *
     * @return the majority's group, or null if no client sent a masked input
     */
    Group keepMajority(SortedMap<String, String> dropped) {
        if (count == 0) {
            return null;
        }
        Group majority = groups.values().stream().filter(g -> 2L * g.members.size() > count).findFirst()
                .orElseThrow(() -> new SecAggException("round " + round + ": the " + count + " masked inputs have "
                        + groups.size() + " different layouts or lengths and no majority; every client must mask the "
                        + "same tensors"));
        SortedSet<String> others = new TreeSet<>(ragged);
        groups.values().stream().filter(g -> g != majority).forEach(g -> others.addAll(g.members));
        for (String u : others) {
            dropped.put(u, Stage.MASKED_INPUT + ": its masked input has another layout or length than the "
                    + majority.members.size() + " of " + count + " clients that agree; it is left out");
        }
        outOfRange.forEach((u, why) -> dropped.put(u, Stage.MASKED_INPUT + ": " + why));
        groups.clear();
        ragged.clear();
        outOfRange.clear();
        return majority;
    }
}
