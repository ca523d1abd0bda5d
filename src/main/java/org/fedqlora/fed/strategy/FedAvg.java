package org.fedqlora.fed.strategy;

import org.fedqlora.fed.Aggregation;
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
import org.fedqlora.tensor.HostTensor;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.random.RandomGenerator;

/**
 * The generic strategy: sample clients, send everyone the global parameters, take the example-weighted mean of
 * whatever tensors they send back ({@link Aggregation#weightedMean}) and let a {@link ServerOptimizer} (fedavg,
 * fedavgm, fedadam) turn it into the next global. Tensors no client sends keep their value. A round with failures
 * counts or not according to the {@link FailurePolicy}; a rejected round leaves parameters and optimizer state alone.
 * With {@link Config#proximalMu()} &gt; 0 it is FedProx: μ goes to clients under {@link FedProx#MU_KEY}.
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

    /**
     * @param initialParameters the round-1 global; must hold every tensor clients will send
     * @param optimizer         a fresh server optimizer (it keeps state across rounds)
     */
    public FedAvg(Config config, Map<String, HostTensor> initialParameters, ServerOptimizer optimizer) {
        this.config = Objects.requireNonNull(config, "config");
        this.initialParameters = Parameters.deepCopy(initialParameters);
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
    }

    @Override
    public Map<String, HostTensor> initialParameters() {
        return initialParameters;
    }

    @Override
    public Map<String, FitIns> configureFit(int round, Map<String, HostTensor> global, List<String> availableClients,
                                            RandomGenerator random) {
        List<String> sampled = ClientSampling.sample(Failure.FIT, availableClients, config.fractionFit(),
                config.minFitClients(), random);
        Map<String, String> fitConfig = new TreeMap<>(config.fitConfig());
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
        var rejection = config.failurePolicy().check(results.size() + failures.size(), results.size());
        if (rejection.isPresent()) {
            return FitAggregate.rejected("round " + round + ": " + rejection.get(), Aggregation.fitMetrics(results));
        }
        return aggregateMean(round, global, Aggregation.weightedMean(results), results, failures);
    }

    /** The failure policy, then the server optimizer's step from the (e.g. securely aggregated) mean. */
    @Override
    public FitAggregate aggregateMean(int round, Map<String, HostTensor> global, Map<String, HostTensor> mean,
                                      List<FitRes> results, List<Failure> failures) {
        Map<String, Double> metrics = Aggregation.fitMetrics(results);
        var rejection = config.failurePolicy().check(results.size() + failures.size(), results.size());
        if (rejection.isPresent()) {
            return FitAggregate.rejected("round " + round + ": " + rejection.get(), metrics);
        }
        return FitAggregate.accepted(optimizer.step(global, mean), metrics);
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

    @Override
    public Map<String, HostTensor> state() {
        return optimizer.state();
    }

    @Override
    public void restoreState(Map<String, HostTensor> state) {
        optimizer.restoreState(state);
    }
}
