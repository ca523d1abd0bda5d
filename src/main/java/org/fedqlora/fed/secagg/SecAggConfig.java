package org.fedqlora.fed.secagg;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The public parameters of one secure-aggregation round, sent by the server to every client in {@link Stage#SETUP}.
 *
 * <p>Fixed point: with n = |clients| and W = n · maxWeight (a public bound on the sum of the weights), every
 * client gets L = ⌊(2^{bits−1} − 1) / W⌋ integer levels per unit of clip, step Δ = clip / L, and sends for each
 * coordinate q = w · round(clamp(x, −clip, clip) / Δ) mod 2^bits plus w itself in one extra word. So
 * |Σ q| ≤ W · L < 2^{bits−1}: the sum never wraps and decodes exactly, and the weighted mean Σ q · Δ / Σ w is within
 * Δ / 2 of the weighted mean of the clamped inputs (each rounding error is at most Δ / 2); equivalently the weighted
 * sum is within Σ w · Δ / 2 (n · Δ / 2 for unit weights).
 *
 * @param session    unique id of this round's session (binds every message and every derived key to it)
 * @param round      the federated round
 * @param clients    U, the clients invited, sorted; client i's Shamir point is i + 1
 * @param threshold  t: shares needed to reconstruct a secret, 2 ≤ t ≤ (holders per client)
 * @param neighbours k: neighbours per client in the graph (even, or ≥ n − 1 for the complete graph of SecAgg)
 * @param bits       modulus 2^bits of the masked arithmetic, 16..62
 * @param clip       coordinates are clamped to [−clip, clip] before quantization, > 0
 * @param maxWeight  weights (example counts) are capped at this, ≥ 1
 * @param graphSeed  32 bytes of public randomness: the neighbour graph's permutation
 */
public record SecAggConfig(String session, int round, List<String> clients, int threshold, int neighbours, int bits,
                           double clip, long maxWeight, byte[] graphSeed) {
    public static final int MIN_BITS = 16;
    public static final int MAX_BITS = 62;

    public SecAggConfig {
        clients = List.copyOf(clients);
        if (clients.size() < 2) {
            throw new SecAggException("secure aggregation needs at least 2 clients, got " + clients.size()
                    + ": the sum of one update is the update");
        }
        if (!clients.stream().sorted().distinct().toList().equals(clients)) {
            throw new SecAggException("the clients of a session must be sorted and distinct: " + clients);
        }
        if (bits < MIN_BITS || bits > MAX_BITS) {
            throw new SecAggException("bits must be in " + MIN_BITS + ".." + MAX_BITS + ", got " + bits);
        }
        if (!(clip > 0) || Double.isInfinite(clip)) {
            throw new SecAggException("clip must be a finite number > 0, got " + clip);
        }
        if (maxWeight < 1) {
            throw new SecAggException("maxWeight must be at least 1, got " + maxWeight);
        }
        if (graphSeed.length != Crypto.KEY_BYTES) {
            throw new SecAggException("the graph seed has " + graphSeed.length + " bytes, expected 32");
        }
        graphSeed = graphSeed.clone();
        int holders = NeighbourGraph.effectiveNeighbours(clients.size(), neighbours) + 1;
        if (threshold < 2 || threshold > holders) {
            throw new SecAggException("threshold " + threshold + " must be in 2.." + holders + " (each client's "
                    + "secrets are shared among itself and its " + (holders - 1) + " neighbours)");
        }
        if (levels(bits, clients.size(), maxWeight) < 1) {
            throw new SecAggException(bits + " bits leave no quantization level for " + clients.size()
                    + " clients × max weight " + maxWeight + "; raise bits or lower max_weight");
        }
    }

    /** L = ⌊(2^{bits−1} − 1) / (n · maxWeight)⌋: quantization levels per unit of clip. */
    public long levels() {
        return levels(bits, clients.size(), maxWeight);
    }

    private static long levels(int bits, int n, long maxWeight) {
        long w = Math.multiplyHigh(n, maxWeight) != 0 || n * maxWeight < 0 ? Long.MAX_VALUE : n * maxWeight;
        return ((1L << (bits - 1)) - 1) / w;
    }

    /** Δ = clip / L: the quantization step. */
    public double step() {
        return clip / levels();
    }

    /** The Shamir point of a client: its index in {@link #clients} + 1. */
    public int point(String client) {
        int i = clients.indexOf(client);
        if (i < 0) {
            throw new SecAggException("client '" + client + "' is not part of session " + session);
        }
        return i + 1;
    }

    /** The neighbour graph of this session. */
    public NeighbourGraph graph() {
        return NeighbourGraph.of(clients, neighbours, graphSeed);
    }

    /** The wire form (the "config" payload of {@link Stage#SETUP}). */
    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(1); // format version
            out.writeUTF(session);
            out.writeInt(round);
            out.writeInt(clients.size());
            for (String c : clients) {
                out.writeUTF(c);
            }
            out.writeInt(threshold);
            out.writeInt(neighbours);
            out.writeInt(bits);
            out.writeDouble(clip);
            out.writeLong(maxWeight);
            out.write(graphSeed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The config of {@link #encode}'s bytes, validated. */
    public static SecAggConfig decode(byte[] data) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            int version = in.readInt();
            if (version != 1) {
                throw new SecAggException("secure-aggregation config format " + version + " is not supported "
                        + "(this version reads 1); are server and client the same version?");
            }
            String session = in.readUTF();
            int round = in.readInt();
            int n = in.readInt();
            if (n < 0 || n > 1_000_000) {
                throw new SecAggException("config lists " + n + " clients");
            }
            List<String> clients = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                clients.add(in.readUTF());
            }
            int threshold = in.readInt();
            int neighbours = in.readInt();
            int bits = in.readInt();
            double clip = in.readDouble();
            long maxWeight = in.readLong();
            byte[] seed = in.readNBytes(Crypto.KEY_BYTES);
            if (in.read() != -1) {
                throw new SecAggException("config has trailing bytes");
            }
            return new SecAggConfig(session, round, clients, threshold, neighbours, bits, clip, maxWeight, seed);
        } catch (IOException e) {
            throw new SecAggException("malformed secure-aggregation config: " + e.getMessage(), e);
        }
    }
}
