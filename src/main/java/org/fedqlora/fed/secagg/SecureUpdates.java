package org.fedqlora.fed.secagg;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Named tensors ↔ the word vector a client masks. A client's input is its update of every shared tensor (sorted by
 * name, flattened row-major) followed by one word holding its weight w = min(examples, maxWeight):
 * <pre>
 *   [ w·q(Δx_1) … w·q(Δx_m) | w ]   mod 2^bits,   q(v) = round(clamp(v, −clip, clip) / Δ)
 * </pre>
 * so the secure sum gives Σ w_i q_i and Σ w_i, and the server's weighted mean is Σ w_i q_i · Δ / Σ w_i, within Δ / 2
 * of the exact weighted mean of the clamped updates ({@link SecAggConfig}). The layout (names and shapes, no values)
 * travels in the clear as the "meta" payload so that the server can rebuild tensors and check every client masked
 * the same ones.
 */
public final class SecureUpdates {
    /** Tensor name → shape, in name order. */
    public record Layout(SortedMap<String, long[]> shapes) {
        public Layout {
            TreeMap<String, long[]> copy = new TreeMap<>();
            shapes.forEach((k, v) -> copy.put(k, v.clone()));
            shapes = Collections.unmodifiableSortedMap(copy);
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
                return new Layout(shapes);
            } catch (IOException | RuntimeException e) {
                throw new SecAggException("malformed tensor layout in a masked input: " + e.getMessage(), e);
            }
        }
    }

    /**
     * The decoded secure sum.
     *
     * @param weightedSums name → Σ_i w_i q_i Δ (in update units), row-major
     * @param totalWeight  Σ_i w_i
     */
    public record Sum(SortedMap<String, double[]> weightedSums, long totalWeight) {
    }

    private SecureUpdates() {
    }

    /**
     * A client's input words for {@code update} (name → values, shapes in {@code layout}) and weight.
     *
     * @param clamped receives the number of coordinates clamped to ±clip (may be null)
     */
    public static SecAggClient.Input encode(Layout layout, Map<String, double[]> update, long examples,
                                            SecAggConfig config, int[] clamped) {
        long w = Math.min(examples, config.maxWeight());
        long[] words = new long[layout.elements() + 1];
        int offset = 0;
        int outside = 0;
        for (Map.Entry<String, long[]> e : layout.shapes().entrySet()) {
            double[] v = update.get(e.getKey());
            outside += FixedPoint.encode(v, w, config.clip(), config.step(), config.bits(), words, offset);
            offset += v.length;
        }
        words[offset] = FixedPoint.word(w, config.bits());
        if (clamped != null) {
            clamped[0] = outside;
        }
        return new SecAggClient.Input(words, layout.encode());
    }

    /** The weighted sums per tensor and the total weight from the words of a secure sum. */
    public static Sum decode(long[] sum, Layout layout, SecAggConfig config) {
        if (sum.length != layout.elements() + 1) {
            throw new SecAggException("the secure sum has " + sum.length + " words but the layout "
                    + layout.shapes().keySet() + " needs " + (layout.elements() + 1));
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
        return new Sum(out, FixedPoint.signed(sum[offset], bits));
    }

    /** Layout of named tensors given as name → shape. */
    public static Layout layout(Map<String, long[]> shapes) {
        return new Layout(new TreeMap<>(shapes));
    }
}
