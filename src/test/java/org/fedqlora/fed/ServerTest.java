package org.fedqlora.fed;

import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The round loop with FedAvg and the in-memory transport: failure policy, sampling, evaluation, resume. */
class ServerTest {
    /** Float32 rounding of values of order 10. */
    private static final float MAX_ABS_ERROR = 1e-5f;

    /** Trains to w = global w + shift on {@code examples} examples; evaluates to "error" = |w|. */
    private record ShiftClient(String id, float shift, long examples) implements Client {
        @Override
        public FitRes fit(FitIns ins) {
            float w = ins.parameters().get("w").toFloats()[0] + shift;
            return new FitRes(id, Map.of("w", scalar(w)), examples, Map.of("train_loss", (double) shift));
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            return new EvaluateRes(id, examples, Map.of("error", (double) Math.abs(ins.parameters().get("w")
                    .toFloats()[0])));
        }
    }

    /** Clients c0..c{n-1} with shift i + 1 and 10 (i + 1) examples. */
    private static Map<String, Client> clients(int n) {
        Map<String, Client> clients = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            clients.put("c" + i, new ShiftClient("c" + i, i + 1, 10L * (i + 1)));
        }
        return clients;
    }

    private static FedAvg fedAvg(FedAvg.Config config, ServerOptimizer optimizer) {
        return new FedAvg(config, Map.of("w", scalar(0f)), optimizer);
    }

    @Test
    void aRoundBelowTheFailurePolicyLeavesTheGlobalModelUnchanged() {
        // Prepare: 4 clients, every one must succeed; c1 fails in round 2
        FedAvg strategy = fedAvg(FedAvg.Config.defaults().withFailurePolicy(FailurePolicy.ALL_SUCCEED),
                ServerOptimizer.average());
        InMemoryTransport transport = new InMemoryTransport(clients(4), FaultInjector.failing("c1", Failure.FIT, 2),
                null);

        // Execute
        Server.Result result = new Server(strategy, transport, new Server.Config(3, 0, 7)).run(RoundListener.NONE);

        // Assert: shifts 1..4 weighted 10..40 move w by (10 + 40 + 90 + 160) / 100 = 3 per counted round
        List<RoundReport> rounds = result.rounds();
        assertThat(rounds.get(0).isAccepted()).isTrue();
        assertThat(w(rounds.get(0).parameters())).isCloseTo(3f, within(MAX_ABS_ERROR));
        RoundReport failed = rounds.get(1);
        assertThat(failed.isAccepted()).isFalse();
        assertThat(failed.rejection()).get().asString().contains("3 of 4 sampled clients succeeded");
        assertThat(failed.failures()).singleElement().extracting(Failure::clientId).isEqualTo("c1");
        assertThat(failed.successes()).containsExactly("c0", "c2", "c3");
        assertThat(w(failed.parameters())).isCloseTo(3f, within(MAX_ABS_ERROR));
        assertThat(w(result.parameters())).isCloseTo(6f, within(MAX_ABS_ERROR));
    }

    @Test
    void aRoundMeetingTheFailurePolicyAveragesTheSuccessfulClients() {
        // Prepare: at least 2 successes and half of the sampled; c3 fails in round 1
        FedAvg strategy = fedAvg(FedAvg.Config.defaults().withFailurePolicy(new FailurePolicy(2, 0.5)),
                ServerOptimizer.average());
        InMemoryTransport transport = new InMemoryTransport(clients(4), FaultInjector.failing("c3", Failure.FIT, 1),
                null);

        // Execute
        Server.Result result = new Server(strategy, transport, new Server.Config(1, 0, 7)).run(RoundListener.NONE);

        // Assert: (10·1 + 20·2 + 30·3) / 60 = 140 / 60
        RoundReport round = result.rounds().get(0);
        assertThat(round.isAccepted()).isTrue();
        assertThat(round.failures()).extracting(Failure::reason).singleElement().asString()
                .contains("injected fault");
        assertThat(w(result.parameters())).isCloseTo(140f / 60f, within(MAX_ABS_ERROR));
        assertThat(round.metrics().get("train_loss")).isCloseTo(140.0 / 60.0, within(1e-9));
    }

    @Test
    void aRoundWithoutAnySuccessIsRejectedNotThrown() {
        // Prepare: the only client throws
        Map<String, Client> clients = Map.of("c0", new Client() {
            @Override
            public FitRes fit(FitIns ins) {
                throw new IllegalStateException("disk full");
            }

            @Override
            public EvaluateRes evaluate(EvaluateIns ins) {
                return new EvaluateRes("c0", 10, Map.of());
            }
        });
        FedAvg strategy = fedAvg(FedAvg.Config.defaults(), ServerOptimizer.average());

        // Execute
        Server.Result result = new Server(strategy, new InMemoryTransport(clients), new Server.Config(1, 1, 7))
                .run(RoundListener.NONE);

        // Assert
        RoundReport round = result.rounds().get(0);
        assertThat(round.rejection()).get().asString().contains("0 of 1 sampled clients succeeded");
        assertThat(round.failures()).extracting(Failure::reason).containsExactly("IllegalStateException: disk full");
        assertThat(w(result.parameters())).isZero();
        assertThat(round.evaluation()).get().extracting(EvaluationReport::successes).isEqualTo(List.of("c0"));
    }

    @Test
    void theSameSeedSamplesTheSameClientsAndAnotherSeedDoesNot() {
        // Prepare: half of 8 clients per round
        FedAvg.Config config = FedAvg.Config.defaults().withFitSampling(0.5, 1);

        // Execute
        List<List<String>> first = sampled(config, 11);
        List<List<String>> again = sampled(config, 11);
        List<List<String>> other = sampled(config, 12);

        // Assert
        assertThat(first).allSatisfy(s -> assertThat(s).hasSize(4));
        assertThat(again).isEqualTo(first);
        assertThat(other).isNotEqualTo(first);
    }

    private static List<List<String>> sampled(FedAvg.Config config, long seed) {
        Server server = new Server(fedAvg(config, ServerOptimizer.average()), new InMemoryTransport(clients(8)),
                new Server.Config(5, 0, seed));
        return server.run(RoundListener.NONE).rounds().stream().map(RoundReport::sampledClients).toList();
    }

    @Test
    void evaluationRunsEveryKRoundsAndAfterTheLast() {
        // Prepare
        List<RoundReport> seen = new ArrayList<>();
        Server server = new Server(fedAvg(FedAvg.Config.defaults(), ServerOptimizer.average()),
                new InMemoryTransport(clients(2)), new Server.Config(5, 2, 7));

        // Execute
        server.run(seen::add);

        // Assert: rounds 2, 4 and 5; the metric is the example-weighted |w| after the round
        assertThat(seen).extracting(r -> r.evaluation().isPresent()).containsExactly(false, true, false, true, true);
        RoundReport round2 = seen.get(1);
        assertThat(round2.evaluation().get().metrics().get("error")).isCloseTo(w(round2.parameters()), within(1e-5));
    }

    @Test
    void roundBytesAddUpToTheTransportTotals() {
        // Prepare
        InMemoryTransport transport = new InMemoryTransport(clients(3));
        Server server = new Server(fedAvg(FedAvg.Config.defaults(), ServerOptimizer.average()), transport,
                new Server.Config(4, 2, 7));

        // Execute
        Server.Result result = server.run(RoundListener.NONE);

        // Assert: 4 bytes down per fit and evaluate call, 4 up per fit answer
        long down = result.rounds().stream().mapToLong(RoundReport::bytesDown).sum();
        long up = result.rounds().stream().mapToLong(RoundReport::bytesUp).sum();
        assertThat(down).isEqualTo(transport.totalBytesDown()).isEqualTo(4L * 3 * (4 + 2));
        assertThat(up).isEqualTo(transport.totalBytesUp()).isEqualTo(4L * 3 * 4);
    }

    @Test
    void resumingFromACheckpointGivesTheSameRunAsNeverStopping() {
        // Prepare: FedAdam (stateful) with sampling; a checkpoint after round 2 keeps parameters and state
        FedAvg.Config config = FedAvg.Config.defaults().withFitSampling(0.5, 1);
        Server.Config rounds = new Server.Config(5, 0, 3);
        Server.Result uninterrupted = new Server(fedAvg(config, ServerOptimizer.adam(0.5, 0.9, 0.99, 1e-3)),
                new InMemoryTransport(clients(6)), rounds).run(RoundListener.NONE);
        FedAvg before = fedAvg(config, ServerOptimizer.adam(0.5, 0.9, 0.99, 1e-3));
        Map<String, Map<String, HostTensor>> checkpoint = new TreeMap<>();
        new Server(before, new InMemoryTransport(clients(6)), new Server.Config(2, 0, 3)).run(report -> {
            checkpoint.put("parameters", Parameters.deepCopy(report.parameters()));
            checkpoint.put("state", Parameters.deepCopy(before.state()));
        });

        // Execute: a fresh strategy restored from the checkpoint runs rounds 3..5
        FedAvg after = fedAvg(config, ServerOptimizer.adam(0.5, 0.9, 0.99, 1e-3));
        after.restoreState(checkpoint.get("state"));
        Server.Result resumed = new Server(after, new InMemoryTransport(clients(6)), rounds)
                .resume(3, checkpoint.get("parameters"), RoundListener.NONE);

        // Assert: bit-identical parameters and the same clients sampled
        assertThat(resumed.rounds()).extracting(RoundReport::round).containsExactly(3, 4, 5);
        assertThat(resumed.rounds()).extracting(RoundReport::sampledClients)
                .isEqualTo(uninterrupted.rounds().subList(2, 5).stream().map(RoundReport::sampledClients).toList());
        assertThat(w(resumed.parameters())).isEqualTo(w(uninterrupted.parameters()));
        System.out.printf("fedadam w after 5 rounds: %s (resumed %s)%n", w(uninterrupted.parameters()),
                w(resumed.parameters()));
    }

    private static float w(Map<String, HostTensor> parameters) {
        return parameters.get("w").toFloats()[0];
    }

    private static HostTensor scalar(float value) {
        return HostTensor.ofFloats(new float[] {value}, 1);
    }
}
