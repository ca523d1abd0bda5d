package org.fedqlora.fed.strategy;

import org.fedqlora.fed.Aggregation;
import org.fedqlora.fed.Aggregator;
import org.fedqlora.fed.AveragingStrategy;
import org.fedqlora.fed.ClientSampling;
import org.fedqlora.fed.EvaluateAggregate;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.FitAggregate;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.Parameters;
import org.fedqlora.fed.RunningMean;
import org.fedqlora.fed.UpdateSum;
import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.random.RandomGenerator;

/**
 * The generic strategy: sample clients, send everyone the global parameters, take the example-weighted mean of
 * whatever tensors they send back ({@link Aggregation#weightedMean}) and let a {@link ServerOptimizer} (fedavg,
 * fedavgm, fedadam) turn it into the next global. Tensors no client sends keep their value. A round with failures
 * counts or not according to the {@link FailurePolicy}; a rejected round leaves parameters and optimizer state alone.
 * With {@link Config#proximalMu()} &gt; 0 it is FedProx: μ goes to clients under {@link FedProx#MU_KEY}.
 * An {@link Aggregator} may replace the sampling and the mean (e.g. differentially private aggregation: Poisson
 * sampling, clipped updates and noise); its state is checkpointed with the optimizer's.
 */
public final class FedAvg implements AveragingStrategy {
    /**
     * @param fractionFit        fraction of available clients sampled for training, in (0, 1]
     * @param minFitClients      at least this many train in every round (≥ 1)
     * @param fractionEvaluate   fraction of available clients sampled for evaluation, in (0, 1]
     * @param minEvaluateClients at least this many evaluate (≥ 1)
     * @param failurePolicy      when a training round with failures counts
     * @param proximalMu         FedProx μ ≥ 0 sent to clients; 0 = plain FedAvg (the key is then not sent)
     * @param fitConfig          extra entries of every FitIns config (e.g. "local_epochs" → "1")
     * @param evaluateConfig     entries of every EvaluateIns config
     */
    public record Config(double fractionFit, int minFitClients, double fractionEvaluate, int minEvaluateClients,
                         FailurePolicy failurePolicy, double proximalMu, Map<String, String> fitConfig,
                         Map<String, String> evaluateConfig) {
        public Config {
            Objects.requireNonNull(failurePolicy, "failurePolicy");
            if (!(proximalMu >= 0) || Double.isInfinite(proximalMu)) {
                throw new IllegalArgumentException("proximal mu must be a finite number ≥ 0, got " + proximalMu);
            }
            if (fitConfig.containsKey(FedProx.MU_KEY)) {
                throw new IllegalArgumentException("set FedProx's μ with proximalMu, not as fitConfig key '"
                        + FedProx.MU_KEY + "'");
            }
            fitConfig = Parameters.sortedCopy(fitConfig);
            evaluateConfig = Parameters.sortedCopy(evaluateConfig);
        }

        /** All clients train and evaluate in every round; any round with one success counts; no proximal term. */
        public static Config defaults() {
            return new Config(1.0, 1, 1.0, 1, FailurePolicy.ANY_SUCCESS, 0.0, Map.of(), Map.of());
        }

        public Config withFitSampling(double fraction, int minClients) {
            return new Config(fraction, minClients, fractionEvaluate, minEvaluateClients, failurePolicy, proximalMu,
                    fitConfig, evaluateConfig);
        }

        public Config withEvaluateSampling(double fraction, int minClients) {
            return new Config(fractionFit, minFitClients, fraction, minClients, failurePolicy, proximalMu,
                    fitConfig, evaluateConfig);
        }

        public Config withFailurePolicy(FailurePolicy policy) {
            return new Config(fractionFit, minFitClients, fractionEvaluate, minEvaluateClients, policy, proximalMu,
                    fitConfig, evaluateConfig);
        }

        public Config withProximalMu(double mu) {
            return new Config(fractionFit, minFitClients, fractionEvaluate, minEvaluateClients, failurePolicy, mu,
                    fitConfig, evaluateConfig);
        }

        public Config withFitConfig(Map<String, String> config) {
            return new Config(fractionFit, minFitClients, fractionEvaluate, minEvaluateClients, failurePolicy,
                    proximalMu, config, evaluateConfig);
        }
    }

    private final Config config;
    private final SortedMap<String, HostTensor> initialParameters;
    private final ServerOptimizer optimizer;
    private final Aggregator aggregator;

    /**
     * @param initialParameters the round-1 global; must hold every tensor clients will send
     * @param optimizer         a fresh server optimizer (it keeps state across rounds)
     */
    public FedAvg(Config config, Map<String, HostTensor> initialParameters, ServerOptimizer optimizer) {
        this(config, initialParameters, optimizer, Aggregator.WEIGHTED_MEAN);
    }

    /** As above, with the sampling and the mean of {@code aggregator} (a fresh one: it may keep state). */
    public FedAvg(Config config, Map<String, HostTensor> initialParameters, ServerOptimizer optimizer,
                  Aggregator aggregator) {
        this.config = Objects.requireNonNull(config, "config");
        this.initialParameters = Parameters.deepCopy(initialParameters);
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        this.aggregator = Objects.requireNonNull(aggregator, "aggregator");
    }

    @Override
    public Map<String, HostTensor> initialParameters() {
        return initialParameters;
    }

    @Override
    public Map<String, FitIns> configureFit(int round, Map<String, HostTensor> global, List<String> availableClients,
                                            RandomGenerator random) {
        List<String> sampled = aggregator.sample(round, availableClients, config.fractionFit(),
                config.minFitClients(), random);
        Map<String, String> fitConfig = new TreeMap<>(config.fitConfig());
        fitConfig.putAll(aggregator.fitConfig(round));
        if (config.proximalMu() > 0) {
            fitConfig.put(FedProx.MU_KEY, Double.toString(config.proximalMu()));
        }
        FitIns ins = new FitIns(round, global, fitConfig);
        SortedMap<String, FitIns> out = new TreeMap<>();
        sampled.forEach(id -> out.put(id, ins));
        return out;
    }

    @Override
    public FitAggregate aggregateFit(int round, Map<String, HostTensor> global, List<FitRes> results,
                                     List<Failure> failures) {
        Map<String, Double> metrics = new TreeMap<>(Aggregation.fitMetrics(results));
        boolean empty = results.isEmpty() && failures.isEmpty();
        var rejection = config.failurePolicy().check(results.size() + failures.size(), results.size());
        if (rejection.isPresent() && !(empty && aggregator.aggregatesEmptyRounds())) {
            return FitAggregate.rejected("round " + round + ": " + rejection.get(), metrics);
        }
        Aggregator.Result mean = aggregator.aggregate(round, global, results);
        metrics.putAll(mean.metrics());
        return FitAggregate.accepted(optimizer.step(global, mean.mean()), metrics);
    }

    /** As {@link #aggregateFit}, from a secure sum: the failure policy, the aggregator's mean, the optimizer step. */
    @Override
    public FitAggregate aggregateSum(int round, Map<String, HostTensor> global, UpdateSum sum, List<FitRes> results,
                                     List<Failure> failures) {
        Map<String, Double> metrics = new TreeMap<>(Aggregation.fitMetrics(results));
        var rejection = config.failurePolicy().check(results.size() + failures.size(), results.size());
        if (rejection.isPresent()) {
            return FitAggregate.rejected("round " + round + ": " + rejection.get(), metrics);
        }
        Aggregator.Result mean = aggregator.aggregateSum(round, global, sum);
        metrics.putAll(mean.metrics());
        return FitAggregate.accepted(optimizer.step(global, mean.mean()), metrics);
    }

    @Override
    public Optional<String> stopBefore(int round) {
        return aggregator.stopBefore(round);
    }

    /**
     * Streaming aggregation: the same weighted mean, folded as updates arrive ({@link RunningMean}). Only for the
     * plain weighted mean: another {@link Aggregator} (e.g. DP, which clips each update) needs the updates
     * themselves, so the server then asks the transport for them.
     */
    @Override
    public Optional<RunningMean> fitAccumulator(int round, Map<String, HostTensor> global) {
        return aggregator == Aggregator.WEIGHTED_MEAN ? Optional.of(new RunningMean()) : Optional.empty();
    }

    @Override
    public FitAggregate aggregateFit(int round, Map<String, HostTensor> global, RunningMean folded,
                                     List<FitRes> results, List<Failure> failures) {
        Map<String, Double> metrics = Aggregation.fitMetrics(results);
        var rejection = config.failurePolicy().check(results.size() + failures.size(), results.size());
        if (rejection.isPresent()) {
            return FitAggregate.rejected("round " + round + ": " + rejection.get(), metrics);
        }
        if (folded.count() != results.size()) {
            throw new IllegalStateException("round " + round + ": " + folded.count() + " updates folded but "
                    + results.size() + " results reported; the transport must fold exactly the results it returns");
        }
        return FitAggregate.accepted(optimizer.step(global, folded.mean()), metrics);
    }

    @Override
    public Map<String, EvaluateIns> configureEvaluate(int round, Map<String, HostTensor> global,
                                                      List<String> availableClients, RandomGenerator random) {
        List<String> sampled = ClientSampling.sample(Failure.EVALUATE, availableClients, config.fractionEvaluate(),
                config.minEvaluateClients(), random);
        EvaluateIns ins = new EvaluateIns(round, global, config.evaluateConfig());
        SortedMap<String, EvaluateIns> out = new TreeMap<>();
        sampled.forEach(id -> out.put(id, ins));
        return out;
    }

    /** The example-weighted mean of each metric over the clients that answered (failures are only reported). */
    @Override
    public EvaluateAggregate aggregateEvaluate(int round, List<EvaluateRes> results, List<Failure> failures) {
        return new EvaluateAggregate(Aggregation.evaluateMetrics(results));
    }

    /** The optimizer's moments and the aggregator's state (names starting with "agg/"). */
    @Override
    public Map<String, HostTensor> state() {
        SortedMap<String, HostTensor> state = new TreeMap<>(optimizer.state());
        state.putAll(aggregator.state());
        return state;
    }

    @Override
    public void restoreState(Map<String, HostTensor> state) {
        SortedMap<String, HostTensor> mine = new TreeMap<>();
        SortedMap<String, HostTensor> aggregation = new TreeMap<>();
        state.forEach((k, v) -> (k.startsWith(AGGREGATOR_STATE) ? aggregation : mine).put(k, v));
        optimizer.restoreState(mine);
        aggregator.restoreState(aggregation);
    }

    /** Prefix of the aggregator's state keys. */
    public static final String AGGREGATOR_STATE = "agg/";
}
