package org.fedqlora.fed.privacy;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.InMemoryTransport;
import org.fedqlora.fed.PhaseResult;
import org.fedqlora.fed.RoundListener;
import org.fedqlora.fed.RunningMean;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.Transport;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** DP inside the server's round loop: every transport gets it, and the budget ends the run. */
class DpServerTest {
    private static final Map<String, HostTensor> INITIAL = Map.of("w", HostTensor.ofFloats(new float[4], 4));

    /** Adds 1 to every shared value. */
    private record PlusOne(String id) implements Client {
        @Override
        public FitRes fit(FitIns ins) {
            float[] w = ins.parameters().get("w").toFloats();
            for (int i = 0; i < w.length; i++) {
                w[i] += 1;
            }
            return new FitRes(id, Map.of("w", HostTensor.ofFloats(w, 4)), 5, Map.of());
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            return new EvaluateRes(id, 1, Map.of());
        }
    }

    /** An in-memory transport that claims to fold updates, as the gRPC transport does. */
    private static final class FoldingTransport implements Transport {
        private final InMemoryTransport inner;
        int folded;

        FoldingTransport(Map<String, Client> clients) {
            inner = new InMemoryTransport(clients);
        }

        @Override
        public List<String> availableClients() {
            return inner.availableClients();
        }

        @Override
        public PhaseResult<FitRes> fit(Map<String, FitIns> instructions) {
            return inner.fit(instructions);
        }

        @Override
        public boolean foldsUpdates() {
            return true;
        }

        @Override
        public PhaseResult<FitRes> fit(Map<String, FitIns> instructions, RunningMean sink) {
            folded++;
            return Transport.super.fit(instructions, sink);
        }

        @Override
        public PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions) {
            return inner.evaluate(instructions);
        }
    }

    private static Map<String, Client> clients() {
        Map<String, Client> c = new TreeMap<>();
        for (int i = 0; i < 4; i++) {
            c.put("c" + i, new PlusOne("c" + i));
        }
        return c;
    }

    @Test
    void aFoldingTransportIsAskedForTheUpdatesSoThatDpClipsEachOne() {
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 0.5, false, 0, 0, 0, 1e-6, 1e-5, 0, 1.0, 4);
        FedAvg strategy = new FedAvg(FedAvg.Config.defaults(), INITIAL, ServerOptimizer.average(),
                new DpAggregator(s, NoiseSource.seeded(1)));
        FoldingTransport transport = new FoldingTransport(clients());

        Server.Result r = new Server(strategy, transport, new Server.Config(1, 0, 1)).run(RoundListener.NONE);

        assertThat(transport.folded).isZero();
        // each update (norm 2) is clipped to 0.5, i.e. 0.25 per element; mean over m = 4 of 4 equal ones
        for (float v : r.parameters().get("w").toFloats()) {
            assertThat((double) v).isCloseTo(0.25, org.assertj.core.api.Assertions.within(1e-5));
        }
        assertThat(r.rounds().get(0).metrics()).containsKey("dp_epsilon");
    }

    @Test
    void theServerEndsTheRunWhenTheBudgetWouldBeExceeded() {
        DpSettings s = new DpSettings(DpSettings.Mode.CENTRAL, 0.5, false, 0, 0, 0, 2.0, 1e-5, 0, 1.0, 4);
        double target = (s.accountant().epsilon(3, 1e-5) + s.accountant().epsilon(4, 1e-5)) / 2;
        DpSettings budget = new DpSettings(DpSettings.Mode.CENTRAL, 0.5, false, 0, 0, 0, 2.0, 1e-5, target, 1.0, 4);
        FedAvg strategy = new FedAvg(FedAvg.Config.defaults(), INITIAL, ServerOptimizer.average(),
                new DpAggregator(budget, NoiseSource.seeded(1)));

        Server.Result r = new Server(strategy, new InMemoryTransport(clients()), new Server.Config(10, 0, 1))
                .run(RoundListener.NONE);

        assertThat(r.rounds()).hasSize(3);
        assertThat(r.stopped()).hasValueSatisfying(m -> assertThat(m).contains("round 4 would raise ε"));
    }
}
