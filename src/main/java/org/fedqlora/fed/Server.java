package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The federated round loop, written once; strategies fill in the steps and transports carry the messages:
 * <pre>
 * for round = start .. rounds:
 *     if strategy.stopBefore(round): stop (e.g. a privacy budget would be exceeded)
 *     instructions = strategy.configureFit(round, global, transport.availableClients(), rng(seed, round, fit))
 *     answers      = transport.fit(instructions)                       // results + failures
 *     aggregate    = strategy.aggregateFit(round, global, answers)     // new global, or rejected
 *     if accepted: global = aggregate.parameters
 *     if evaluateEvery > 0 and (round % evaluateEvery == 0 or round == rounds):
 *         strategy.aggregateEvaluate(round, transport.evaluate(strategy.configureEvaluate(...)))
 *     listener.onRound(report)
 * </pre>
 * The only randomness is the {@link SplittableRandom} handed to the strategy, seeded from (seed, round, phase), so a
 * run is reproducible and a resumed run samples the same clients as an uninterrupted one. Client failures are data
 * in the reports; exceptions from the strategy (e.g. clients sent tensors that cannot be averaged) stop the run.
 */
public final class Server {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Server.class);
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    /**
     * @param rounds        the last round to run, ≥ 1
     * @param evaluateEvery evaluate every this many rounds and after the last one; 0 = never
     * @param seed          seeds client sampling
     * @param retries       times a round whose training phase the strategy rejected (e.g. too many failures) is
     *                      run again before it is reported as rejected; 0 in simulation
     */
    public record Config(int rounds, int evaluateEvery, long seed, int retries) {
        public Config {
            if (rounds < 1) {
                throw new IllegalArgumentException("rounds must be at least 1, got " + rounds);
            }
            if (evaluateEvery < 0) {
                throw new IllegalArgumentException("evaluateEvery must be ≥ 0 (0 = never), got " + evaluateEvery);
            }
            if (retries < 0) {
                throw new IllegalArgumentException("retries must be ≥ 0, got " + retries);
            }
        }

        /** No retries. */
        public Config(int rounds, int evaluateEvery, long seed) {
            this(rounds, evaluateEvery, seed, 0);
        }
    }

    /**
     * @param parameters the final global parameters
     * @param rounds     the report of every round run
     * @param stopped    why the run ended before its last round ({@link Strategy#stopBefore}), or empty
     */
    public record Result(Map<String, HostTensor> parameters, List<RoundReport> rounds, Optional<String> stopped) {
        public Result {
            parameters = Parameters.sortedCopy(parameters);
            rounds = List.copyOf(rounds);
            Objects.requireNonNull(stopped, "stopped");
        }

        /** A run that did all its rounds. */
        public Result(Map<String, HostTensor> parameters, List<RoundReport> rounds) {
            this(parameters, rounds, Optional.empty());
        }
    }

    private final Strategy strategy;
    private final Transport transport;
    private final Config config;

    public Server(Strategy strategy, Transport transport, Config config) {
        this.strategy = Objects.requireNonNull(strategy, "strategy");
        this.transport = Objects.requireNonNull(transport, "transport");
        this.config = Objects.requireNonNull(config, "config");
    }

    /** Runs rounds 1..rounds from the strategy's initial parameters. */
    public Result run(RoundListener listener) {
        return resume(1, strategy.initialParameters(), listener);
    }

    /**
     * Runs rounds {@code startRound}..rounds from {@code global} (e.g. a checkpoint written after round
     * startRound − 1; restore the strategy's {@link Strategy#state()} first if it has any).
     */
    public Result resume(int startRound, Map<String, HostTensor> global, RoundListener listener) {
        if (startRound < 1) {
            throw new IllegalArgumentException("rounds are numbered from 1, got start round " + startRound);
        }
        Map<String, HostTensor> current = Parameters.sortedCopy(global);
        List<RoundReport> reports = new ArrayList<>();
        for (int round = startRound; round <= config.rounds(); round++) {
            Optional<String> stop = strategy.stopBefore(round);
            if (stop.isPresent()) {
                return new Result(current, reports, stop);
            }
            RoundReport report = runRound(round, current);
            current = report.parameters();
            reports.add(report);
            listener.onRound(report);
        }
        return new Result(current, reports);
    }

    /** The random stream of one phase of one round: depends only on (seed, round, phase). */
    public static SplittableRandom random(long seed, int round, String phase) {
        long mixed = (seed * GOLDEN_GAMMA + round) * GOLDEN_GAMMA + (Failure.FIT.equals(phase) ? 1 : 2);
        return new SplittableRandom(mixed);
    }

    private RoundReport runRound(int round, Map<String, HostTensor> global) {
        long start = System.nanoTime();
        long retriedDown = 0;
        long retriedUp = 0;
        Map<String, FitIns> fitIns;
        PhaseResult<FitRes> fit;
        FitAggregate aggregate;
        for (int attempt = 0; ; attempt++) {
            fitIns = strategy.configureFit(round, global, transport.availableClients(),
                    random(config.seed(), round, Failure.FIT));
            Optional<RunningMean> folded = transport.foldsUpdates() ? strategy.fitAccumulator(round, global)
                    : Optional.empty();
            fit = folded.isPresent() ? transport.fit(fitIns, folded.get()) : transport.fit(fitIns);
            aggregate = folded.isPresent()
                    ? strategy.aggregateFit(round, global, folded.get(), fit.results(), fit.failures())
                    : strategy.aggregateFit(round, global, fit.results(), fit.failures());
            if (aggregate.isAccepted() || attempt >= config.retries()) {
                break;
            }
            LOG.warn("round {} did not count ({}); running it again (retry {} of {})", round,
                    aggregate.rejection().orElse(""), attempt + 1, config.retries());
            retriedDown += fit.bytesDown();
            retriedUp += fit.bytesUp();
        }
        return finishRound(round, global, start, fitIns, fit, aggregate, retriedDown, retriedUp);
    }

    private RoundReport finishRound(int round, Map<String, HostTensor> global, long start, Map<String, FitIns> fitIns,
                                    PhaseResult<FitRes> fit, FitAggregate aggregate, long retriedDown, long retriedUp) {
        Map<String, HostTensor> next = aggregate.parameters().orElse(global);
        Optional<EvaluationReport> evaluation = Optional.empty();
        long bytesDown = fit.bytesDown() + retriedDown;
        long bytesUp = fit.bytesUp() + retriedUp;
        if (evaluatesAfter(round)) {
            Map<String, EvaluateIns> evaluateIns = strategy.configureEvaluate(round, next,
                    transport.availableClients(), random(config.seed(), round, Failure.EVALUATE));
            PhaseResult<EvaluateRes> answers = transport.evaluate(evaluateIns);
            EvaluateAggregate metrics = strategy.aggregateEvaluate(round, answers.results(), answers.failures());
            evaluation = Optional.of(new EvaluationReport(List.copyOf(Parameters.sortedCopy(evaluateIns).keySet()),
                    answers.results().stream().map(EvaluateRes::clientId).toList(), answers.failures(),
                    metrics.metrics(), answers.results()));
            bytesDown += answers.bytesDown();
            bytesUp += answers.bytesUp();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        // a client that failed while its update was aggregated (a secure-aggregation drop-out) is a failure too
        java.util.Set<String> late = new java.util.HashSet<>();
        aggregate.lateFailures().forEach(f -> late.add(f.clientId()));
        List<Failure> failures = new java.util.ArrayList<>(fit.failures());
        failures.addAll(aggregate.lateFailures());
        return new RoundReport(round, List.copyOf(Parameters.sortedCopy(fitIns).keySet()),
                fit.results().stream().map(FitRes::clientId).filter(id -> !late.contains(id)).toList(), failures,
                aggregate.rejection(),
                aggregate.metrics(), evaluation, bytesDown, bytesUp, seconds, next, clientMetrics(fit.results()));
    }

    private static Map<String, Map<String, Double>> clientMetrics(List<FitRes> results) {
        Map<String, Map<String, Double>> out = new java.util.TreeMap<>();
        results.forEach(r -> out.put(r.clientId(), r.metrics()));
        return out;
    }

    private boolean evaluatesAfter(int round) {
        int every = config.evaluateEvery();
        return every > 0 && (round % every == 0 || round == config.rounds());
    }
}
