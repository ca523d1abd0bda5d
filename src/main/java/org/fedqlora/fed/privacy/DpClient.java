package org.fedqlora.fed.privacy;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;

import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;

/**
 * A {@link Client} wrapper that privatises the update before it leaves the client, for any client and transport:
 * <ul>
 *   <li>{@link #local}: local DP. Δ = x − x_global is clipped to S and N(0, (z S)²) is added to every coordinate;
 *       the client sends x_global + Δ̃. Its training metrics and example count are not sent (they are not
 *       privatised): the server sees only the noised update.</li>
 *   <li>{@link #clipping}: central DP with client-side clipping (needed when the server sees only a sum, e.g. under
 *       secure aggregation): Δ is clipped to the norm the server sends under {@link DpAggregator#CLIP_KEY}; the
 *       metric {@link DpAggregator#UNCLIPPED_KEY} (1 or 0) feeds adaptive clipping. No noise: the server adds it.</li>
 * </ul>
 * Only the tensors the wrapped client shares are touched; private ones (QA adapters) never leave it.
 */
public final class DpClient implements Client {
    private final Client inner;
    private final String id;
    private final double clip;
    private final double noiseMultiplier;
    private final NoiseSource noise;

    private DpClient(Client inner, String id, double clip, double noiseMultiplier, NoiseSource noise) {
        this.inner = Objects.requireNonNull(inner, "inner");
        this.id = id;
        this.clip = clip;
        this.noiseMultiplier = noiseMultiplier;
        this.noise = noise;
    }

    /**
     * Local DP with clip S and noise multiplier z; {@code id} names the client's noise stream (seeded sources give
     * every client its own stream).
     */
    public static DpClient local(Client inner, String id, double clip, double noiseMultiplier, NoiseSource noise) {
        if (!(clip > 0) || !(noiseMultiplier > 0)) {
            throw new IllegalArgumentException("local DP needs clip > 0 and noise multiplier > 0, got " + clip
                    + " and " + noiseMultiplier);
        }
        return new DpClient(inner, id, clip, noiseMultiplier, Objects.requireNonNull(noise, "noise"));
    }

    /** Client-side clipping to the server's clip norm, no noise. */
    public static DpClient clipping(Client inner, String id) {
        return new DpClient(inner, id, 0, 0, null);
    }

    @Override
    public FitRes fit(FitIns ins) {
        FitRes res = inner.fit(ins);
        SortedMap<String, double[]> delta = Updates.delta(ins.parameters(), res.parameters(), "client '" + id + "'");
        if (noise != null) {
            Updates.clipInPlace(delta, clip);
            Updates.addGaussianNoise(delta, noiseMultiplier * clip, noise.stream(ins.round(), "local/" + id));
            return new FitRes(res.clientId(), Updates.addToGlobal(ins.parameters(), delta, 1), 0, Map.of());
        }
        String text = ins.config().get(DpAggregator.CLIP_KEY);
        if (text == null) {
            throw new IllegalArgumentException("client-side clipping needs the clip norm under '"
                    + DpAggregator.CLIP_KEY + "' in the FitIns config; is the server running with DP?");
        }
        double serverClip = Double.parseDouble(text);
        double norm = Updates.clipInPlace(delta, serverClip);
        Map<String, Double> metrics = new java.util.TreeMap<>(res.metrics());
        metrics.put(DpAggregator.UNCLIPPED_KEY, norm <= serverClip ? 1.0 : 0.0);
        return new FitRes(res.clientId(), Updates.addToGlobal(ins.parameters(), delta, 1), res.numExamples(),
                metrics);
    }

    @Override
    public EvaluateRes evaluate(EvaluateIns ins) {
        return inner.evaluate(ins);
    }
}
