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
 * a client claiming another layout costs one more sum, never a second copy of anyone's vector. When the stage is over,
 * {@link #keepMajority} keeps the sum of the layout a strict majority sent and drops every other client.
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
        /** member → why its input could not be summed (a word not below 2^bits): fails the round if kept. */
        private final SortedMap<String, String> invalid = new TreeMap<>();

        private Group(byte[] meta, int length) {
            this.meta = meta;
            this.length = length;
            this.sum = new long[length];
        }

        /** Throws the first member's (in id order) reason if any member's input could not be summed. */
        void requireSummable() {
            if (!invalid.isEmpty()) {
                throw new SecAggException(invalid.get(invalid.firstKey()));
            }
        }
    }

    private final int round;
    private final int bits;
    private final int wordBytes;
    /** "hex(meta)/length" → its group. */
    private final Map<String, Group> groups = new HashMap<>();
    /** Clients whose masked input is not a whole number of words (no layout: never kept). */
    private final SortedSet<String> ragged = new TreeSet<>();
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
        byte[] meta = m.require("meta");
        int length = y.length / wordBytes;
        Group g = groups.computeIfAbsent(HexFormat.of().formatHex(meta) + "/" + length, k -> new Group(meta, length));
        g.members.add(client);
        try {
            FixedPoint.addPacked(g.sum, y, bits, "masked input of " + client);
        } catch (SecAggException e) {
            g.invalid.put(client, e.getMessage());
        }
    }

    /**
     * Every masked input must have the same public layout and length. Those that differ from the layout a strict
     * majority sent (or whose byte count is not a whole number of words) are dropped as if they had not sent one:
     * their pairwise masks are then removed with their reconstructed mask keys, their self masks are never revealed.
     * The other sums are released. Without a majority the round fails.
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
        groups.clear();
        ragged.clear();
        return majority;
    }
}
