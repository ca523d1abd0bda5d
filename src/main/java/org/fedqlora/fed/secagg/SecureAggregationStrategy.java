package org.fedqlora.fed.secagg;

import org.fedqlora.UserException;
import org.fedqlora.fed.Aggregation;
import org.fedqlora.fed.AveragingStrategy;
import org.fedqlora.fed.EvaluateAggregate;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FitAggregate;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.Strategy;
import org.fedqlora.fed.UpdateSum;
import org.fedqlora.tensor.HostTensor;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;

/**
 * Secure aggregation as a strategy decorator (the place of Flower's SecAgg+ workflow): the training phase brings back
 * only metrics (clients are {@link SecureClient}s), then a {@link SecAggServer} session over the channel yields the
 * sum of the survivors' weighted updates ({@link UpdateSum}), and the wrapped {@link AveragingStrategy} steps from
 * its aggregator's mean of it: with FedAvg's default x̄ = x_global + Σ_i w_i Δx_i / Σ_i w_i, the example-weighted
 * mean of the clients' tensors up to the fixed-point error (Δ / 2 per coordinate, {@link SecAggConfig}); with
 * DP-FedAvg ({@link org.fedqlora.fed.privacy.DpAggregator}) the clients clipped before masking and the server adds
 * the Gaussian noise to the unmasked sum and divides by the expected client count. A session that fails (too few survivors, a tampered message)
 * rejects the round: the global model stays as it was and nothing was revealed. Clients that drop out of the session
 * become {@link Failure}s of the round, so the failure policy sees them. A strategy that needs individual updates
 * (not an {@link AveragingStrategy}) is refused.
 */
public final class SecureAggregationStrategy implements Strategy {
    /** What the last session did, for logs and reports. */
    public record Session(int round, int clients, int threshold, int neighbours, double step,
                          List<String> survivors, SortedMap<String, String> dropped, Optional<String> failure) {
    }

    private final AveragingStrategy inner;
    private final SecAggServer.Channel channel;
    private final SecAggSettings settings;
    private final SecureRandom random;
    private final Consumer<Message> observer;
    private Session last;

    /**
     * @param inner    the aggregation to run on the secure mean; must be an {@link AveragingStrategy}
     * @param channel  carries the session's messages to the same clients the transport reaches
     * @param random   the server's public randomness (session ids, neighbour graphs)
     * @param observer sees every message the server receives (a no-op outside tests)
     */
    public SecureAggregationStrategy(Strategy inner, SecAggServer.Channel channel, SecAggSettings settings,
                                     SecureRandom random, Consumer<Message> observer) {
        if (!(inner instanceof AveragingStrategy averaging)) {
            throw new UserException("secure aggregation reveals only the sum of the clients' updates, but "
                    + inner.getClass().getSimpleName() + " needs the individual updates; use a strategy that "
                    + "aggregates the weighted mean (fedavg, fedavgm, fedadam) or turn secagg.enabled off");
        }
        this.inner = averaging;
        this.channel = Objects.requireNonNull(channel, "channel");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.random = Objects.requireNonNull(random, "random");
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    @Override
    public Map<String, HostTensor> initialParameters() {
        return inner.initialParameters();
    }

    @Override
    public Map<String, FitIns> configureFit(int round, Map<String, HostTensor> global, List<String> availableClients,
                                            RandomGenerator random) {
        return inner.configureFit(round, global, availableClients, random);
    }

    @Override
    public FitAggregate aggregateFit(int round, Map<String, HostTensor> global, List<FitRes> results,
                                     List<Failure> failures) {
        for (FitRes r : results) {
            if (!r.parameters().isEmpty()) {
                throw new IllegalStateException("client '" + r.clientId() + "' sent tensors " + r.parameters()
                        .keySet() + " in the clear under secure aggregation; its client must be a SecureClient");
            }
        }
        List<String> ids = results.stream().map(FitRes::clientId).sorted().toList();
        Map<String, Double> metrics = Aggregation.fitMetrics(results);
        SecAggConfig config;
        SecAggServer.Result res;
        try {
            if (ids.size() < 2) {
                throw new SecAggException(ids.size() + " client(s) trained; secure aggregation needs at least 2 "
                        + "(the sum of one update is the update)");
            }
            byte[] nonce = new byte[16];
            this.random.nextBytes(nonce);
            byte[] seed = new byte[32];
            this.random.nextBytes(seed);
            config = settings.config("round-" + round + "-" + HexFormat.of().formatHex(nonce), round, ids, seed);
            res = new SecAggServer(channel, observer).run(config);
        } catch (SecAggException e) {
            last = new Session(round, ids.size(), 0, 0, Double.NaN, List.of(), new TreeMap<>(),
                    Optional.of(e.getMessage()));
            return FitAggregate.rejected("round " + round + ": secure aggregation failed: " + e.getMessage(), metrics);
        }
        last = new Session(round, ids.size(), config.threshold(), config.graph().neighbours(ids.get(0)).size(),
                config.step(), res.survivors(), res.dropped(), Optional.empty());
        SecureUpdates.Layout layout = SecureUpdates.Layout.decode(res.meta());
        UpdateSum sum = SecureUpdates.decode(res.sum(), layout, config, res.survivors().size());
        List<FitRes> survivors = results.stream().filter(r -> res.survivors().contains(r.clientId())).toList();
        List<Failure> late = new ArrayList<>();
        res.dropped().forEach((id, why) -> {
            if (!res.survivors().contains(id)) {
                late.add(new Failure(id, Failure.FIT, "secure aggregation " + why, null));
            }
        });
        List<Failure> all = new ArrayList<>(failures);
        all.addAll(late);
        return inner.aggregateSum(round, global, sum, survivors, all).withLateFailures(late);
    }

    /** The inner strategy's stop (e.g. DP's privacy budget). */
    @Override
    public Optional<String> stopBefore(int round) {
        return inner.stopBefore(round);
    }

    @Override
    public Map<String, EvaluateIns> configureEvaluate(int round, Map<String, HostTensor> global,
                                                      List<String> availableClients, RandomGenerator random) {
        return inner.configureEvaluate(round, global, availableClients, random);
    }

    @Override
    public EvaluateAggregate aggregateEvaluate(int round, List<EvaluateRes> results, List<Failure> failures) {
        return inner.aggregateEvaluate(round, results, failures);
    }

    @Override
    public Map<String, HostTensor> state() {
        return inner.state();
    }

    @Override
    public void restoreState(Map<String, HostTensor> state) {
        inner.restoreState(state);
    }

    /** The last session's outcome, or null before the first round. */
    public Session lastSession() {
        return last;
    }
}
