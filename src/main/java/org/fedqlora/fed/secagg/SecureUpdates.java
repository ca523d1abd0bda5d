package org.fedqlora.fed.secagg;

import org.fedqlora.fed.UpdateSum;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Named tensors ↔ the word vector a client masks. A client's input is its update of every shared tensor (sorted by
 * name, flattened row-major) followed by one word holding its weight w = min(examples, maxWeight):
 * <pre>
 *   [ w·q(Δx_1) … w·q(Δx_m) | w | c_1 … c_j ]   mod 2^bits,   q(v) = round(clamp(v, −clip, clip) / Δ)
 * </pre>
 * where c_1.. are small non-negative integer metrics summed exactly (e.g. DP's "dp_unclipped" bit, which must not
 * travel in the clear).
 * so the secure sum gives Σ w_i q_i and Σ w_i, and the server's weighted mean is Σ w_i q_i · Δ / Σ w_i, within Δ / 2
 * of the exact weighted mean of the clamped updates ({@link SecAggConfig}). The layout (names and shapes, no values)
 * travels in the clear as the "meta" payload so that the server can rebuild tensors and check every client masked
 * the same ones.
 */
public final class SecureUpdates {
    /** Tensor name → shape, in name order, and the names of the integer counts after the weight. */
    public record Layout(SortedMap<String, long[]> shapes, List<String> counts) {
        public Layout {
            TreeMap<String, long[]> copy = new TreeMap<>();
            shapes.forEach((k, v) -> copy.put(k, v.clone()));
            shapes = Collections.unmodifiableSortedMap(copy);
            counts = List.copyOf(counts);
        }

        /** Words of an input: coordinates, the weight, the counts. */
        public int words() {
            return elements() + 1 + counts.size();
        }

        /** Σ numel. */
        public int elements() {
            long n = 0;
            for (long[] s : shapes.values()) {
                n += Arrays.stream(s).reduce(1, Math::multiplyExact);
            }
            return Math.toIntExact(n);
        }

        public byte[] encode() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(shapes.size());
                for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                    out.writeUTF(e.getKey());
                    out.writeInt(e.getValue().length);
                    for (long d : e.getValue()) {
                        out.writeLong(d);
                    }
                }
                out.writeInt(counts.size());
                for (String c : counts) {
                    out.writeUTF(c);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        }

        public static Layout decode(byte[] data) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                int n = in.readInt();
                SortedMap<String, long[]> shapes = new TreeMap<>();
                for (int i = 0; i < n; i++) {
                    String name = in.readUTF();
                    long[] shape = new long[in.readInt()];
                    for (int d = 0; d < shape.length; d++) {
                        shape[d] = in.readLong();
                    }
                    shapes.put(name, shape);
                }
                int k = in.readInt();
                List<String> counts = new java.util.ArrayList<>();
                for (int i = 0; i < k; i++) {
                    counts.add(in.readUTF());
                }
                if (in.read() != -1) {
                    throw new IOException("trailing bytes");
                }
                return new Layout(shapes, counts);
            } catch (IOException | RuntimeException e) {
                throw new SecAggException("malformed tensor layout in a masked input: " + e.getMessage(), e);
            }
        }
    }


    private SecureUpdates() {
    }

    /**
     * A client's input words for {@code update} (name → values, shapes in {@code layout}) and weight.
     *
     * @param clamped receives the number of coordinates clamped to ±clip (may be null)
     */
    public static SecAggClient.Input encode(Layout layout, Map<String, double[]> update, long weight,
                                            Map<String, Long> counts, SecAggConfig config, int[] clamped) {
        long w = Math.min(weight, config.maxWeight());
        long[] words = new long[layout.words()];
        int offset = 0;
        int outside = 0;
        for (Map.Entry<String, long[]> e : layout.shapes().entrySet()) {
            double[] v = update.get(e.getKey());
            outside += FixedPoint.encode(v, w, config.clip(), config.step(), config.bits(), words, offset);
            offset += v.length;
        }
        words[offset++] = FixedPoint.word(w, config.bits());
        for (String c : layout.counts()) {
            long v = counts.get(c);
            if (v < 0 || v > config.maxWeight()) {
                throw new IllegalArgumentException("count '" + c + "' = " + v + " must be in 0.." + config.maxWeight());
            }
            words[offset++] = v;
        }
        if (clamped != null) {
            clamped[0] = outside;
        }
        return new SecAggClient.Input(words, layout.encode());
    }

    /** The weighted sums per tensor, the total weight and the counts from the words of a secure sum. */
    public static UpdateSum decode(long[] sum, Layout layout, SecAggConfig config, int clients) {
        if (sum.length != layout.words()) {
            throw new SecAggException("the secure sum has " + sum.length + " words but the layout "
                    + layout.shapes().keySet() + " needs " + layout.words());
        }
        int bits = config.bits();
        double step = config.step();
        SortedMap<String, double[]> out = new TreeMap<>();
        int offset = 0;
        for (Map.Entry<String, long[]> e : layout.shapes().entrySet()) {
            int n = Math.toIntExact(Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact));
            double[] v = new double[n];
            for (int j = 0; j < n; j++) {
                v[j] = FixedPoint.signed(sum[offset + j], bits) * step;
            }
            out.put(e.getKey(), v);
            offset += n;
        }
        long total = FixedPoint.signed(sum[offset++], bits);
        SortedMap<String, Long> counts = new TreeMap<>();
        for (String c : layout.counts()) {
            counts.put(c, FixedPoint.signed(sum[offset++], bits));
        }
        return new UpdateSum(out, total, clients, counts);
    }
}
