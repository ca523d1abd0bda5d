package org.fedqlora.fed.secagg;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.Parameters;
import org.fedqlora.fed.privacy.DpAggregator;
import org.fedqlora.tensor.HostTensor;

import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The client side of secure aggregation around any {@link Client}: {@link #fit} trains as usual but keeps the
 * result and answers the server with an empty parameter map and example count 0 (training metrics only); the update
 * Δ = x_local − x_global of every shared tensor and the weight leave the client only masked, in the session that
 * follows ({@link #handle}). The weight is the example count, or 1 in a differentially private round (the server's
 * FitIns carries {@link DpAggregator#CLIP_KEY}; DP-FedAvg weighs clients equally), and the metric
 * {@link DpAggregator#UNCLIPPED_KEY} moves from the clear metrics into the secure sum. For central DP wrap the
 * trained client in {@link org.fedqlora.fed.privacy.DpClient#clipping} first, so the update is clipped before it is
 * masked. Evaluation is passed through. The update is forgotten once the session ends or a new round starts.
 */
public final class SecureClient implements Client, InProcessChannel.Participant {
    /** Metrics summed securely instead of sent in the clear, when a client reports them. */
    public static final List<String> SECURE_COUNTS = List.of(DpAggregator.UNCLIPPED_KEY);

    private record Pending(int round, SecureUpdates.Layout layout, Map<String, double[]> update, long weight,
                           Map<String, Long> counts) {
    }

    private final String id;
    private final Client inner;
    private final SecureRandom random;
    private Pending pending;
    private SecAggClient session;
    private int lastClamped;

    public SecureClient(String id, Client inner, SecureRandom random) {
        this.id = Objects.requireNonNull(id, "id");
        this.inner = Objects.requireNonNull(inner, "inner");
        this.random = Objects.requireNonNull(random, "random");
    }

    @Override
    public FitRes fit(FitIns ins) {
        pending = null;
        session = null;
        FitRes res = inner.fit(ins);
        SortedMap<String, double[]> update = new TreeMap<>();
        SortedMap<String, long[]> shapes = new TreeMap<>();
        res.parameters().forEach((name, tensor) -> {
            HostTensor global = ins.parameters().get(name);
            if (global == null) {
                throw new IllegalArgumentException(id + " shares tensor '" + name + "' that the global parameters "
                        + "lack; secure aggregation sends updates relative to the global model");
            }
            Parameters.requireSameShape(name, global, "the global parameters", tensor, "client '" + id + "'");
            float[] x = Parameters.floats(name, tensor, "client '" + id + "'");
            float[] g = Parameters.floats(name, global, "the global parameters");
            double[] d = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                d[i] = (double) x[i] - g[i];   // exact: the difference of two floats of similar magnitude
            }
            update.put(name, d);
            shapes.put(name, tensor.shape());
        });
        boolean dp = ins.config().containsKey(DpAggregator.CLIP_KEY);
        SortedMap<String, Double> clear = new TreeMap<>(res.metrics());
        SortedMap<String, Long> counts = new TreeMap<>();
        for (String c : SECURE_COUNTS) {
            Double v = clear.remove(c);
            if (v != null) {
                counts.put(c, Math.round(v));
            }
        }
        pending = new Pending(ins.round(), new SecureUpdates.Layout(shapes, List.copyOf(counts.keySet())), update,
                dp ? 1 : res.numExamples(), counts);
        return new FitRes(id, Map.of(), 0, clear);
    }

    @Override
    public EvaluateRes evaluate(EvaluateIns ins) {
        return inner.evaluate(ins);
    }

    @Override
    public Message handle(Message request) {
        if (request.stage() == Stage.SETUP) {
            session = new SecAggClient(id, random, this::input);
        } else if (session == null) {
            throw new SecAggException(id + " has no secure-aggregation session for a " + request.stage()
                    + " request");
        }
        Message reply = session.handle(request);
        if (request.stage() == Stage.UNMASK) {
            session = null;
            pending = null;
        }
        return reply;
    }

    /** How many coordinates of the last masked update were outside ±clip and clamped (0 if none). */
    public int lastClamped() {
        return lastClamped;
    }

    private SecAggClient.Input input(SecAggConfig config) {
        if (pending == null || pending.round() != config.round()) {
            throw new SecAggException(id + " has no update for round " + config.round()
                    + " (it did not train in that round)");
        }
        int[] clamped = new int[1];
        SecAggClient.Input in = SecureUpdates.encode(pending.layout(), pending.update(), pending.weight(),
                pending.counts(), config, clamped);
        lastClamped = clamped[0];
        return in;
    }
}
