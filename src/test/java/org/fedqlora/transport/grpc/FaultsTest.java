package org.fedqlora.transport.grpc;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FailurePolicy;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.fed.RoundReport;
import org.fedqlora.fed.Server;
import org.fedqlora.fed.strategy.FedAvg;
import org.fedqlora.fed.strategy.ServerOptimizer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Faults over the real transport with lightweight clients: kills, stragglers, restarts, retried rounds. */
class FaultsTest {
    /** A client that blocks in fit until released (or interrupted). */
    static FederationNode.VirtualClient blocking(String id, CountDownLatch entered, long sleepMs) {
        Client c = new Client() {
            @Override
            public FitRes fit(FitIns ins) {
                entered.countDown();
                try {
                    Thread.sleep(sleepMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return new FitRes(id, ins.parameters(), 1, Map.of());
            }

            @Override
            public EvaluateRes evaluate(EvaluateIns ins) {
                return new EvaluateRes(id, 1, Map.of());
            }
        };
        return new ClientAdapter(id, Loopback.caps(Loopback.HASH, 1), t -> c, Map.of());
    }

    static Server server(Loopback lb, FailurePolicy policy, int rounds, int retries) {
        FedAvg.Config cfg = FedAvg.Config.defaults().withFailurePolicy(policy);
        return new Server(new FedAvg(cfg, Loopback.global(), ServerOptimizer.average()), lb.server,
                new Server.Config(rounds, 0, 1, retries));
    }

    @Test
    void clientKilledMidRoundFailsAndTheRoundCompletesWithTheOthers() throws Exception {
        // a and b answer at once; the round waits only for the victim: seen gone (disconnect grace) or timed out
        try (Loopback lb = new Loopback(Loopback.fast().withRoundTimeout(Duration.ofSeconds(5)))) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("a", 10, Loopback.plus(1)),
                    Loopback.client("b", 10, Loopback.plus(1))));
            CountDownLatch working = new CountDownLatch(1);
            FederationNode victim = lb.start(Tls.insecureClient(), List.of(blocking("c", working, 60_000)));
            lb.awaitClients(3);
            Thread killer = new Thread(() -> {
                try {
                    working.await(30, TimeUnit.SECONDS);
                    victim.close(); // the process dies: its connection drops mid-round
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            killer.start();

            Server.Result r = server(lb, new FailurePolicy(2, 0.5), 1, 0).run(rep -> { });

            RoundReport round = r.rounds().get(0);
            assertThat(round.isAccepted()).isTrue();
            assertThat(round.successes()).containsExactly("a", "b");
            assertThat(round.failures()).extracting(Failure::clientId).containsExactly("c");
            // normally seen as a dropped connection; when the channel's close races the long-poll heartbeat the
            // server only learns of it at the round timeout: either way the client's failure, never the round's
            assertThat(round.failures().get(0).reason()).containsAnyOf("disconnected", "round timeout");
            assertThat(r.parameters().get("a.lora_B.weight").toFloats()).containsExactly(1.5f, 0.5f);
        }
    }

    @Test
    void stragglerBeyondTheRoundTimeoutIsAFailureOfThatRound() throws Exception {
        try (Loopback lb = new Loopback(Loopback.fast().withRoundTimeout(Duration.ofSeconds(2)))) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("a", 10, Loopback.plus(1))));
            lb.start(Tls.insecureClient(), List.of(blocking("slow", new CountDownLatch(1), 6_000)));
            lb.awaitClients(2);

            Server.Result r = server(lb, FailurePolicy.ANY_SUCCESS, 1, 0).run(rep -> { });

            RoundReport round = r.rounds().get(0);
            assertThat(round.isAccepted()).isTrue();
            assertThat(round.successes()).containsExactly("a");
            assertThat(round.failures()).singleElement().satisfies(f -> {
                assertThat(f.clientId()).isEqualTo("slow");
                assertThat(f.reason()).contains("straggler").contains("round timeout");
            });
        }
    }

    @Test
    void roundRejectedByThePolicyIsRetriedNotFatal() throws Exception {
        try (Loopback lb = new Loopback(Loopback.fast().withRoundTimeout(Duration.ofSeconds(2)))) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("a", 10, Loopback.plus(1))));
            // the first fit of "late" takes longer than the round; later ones are quick
            java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
            Client late = new Client() {
                @Override
                public FitRes fit(FitIns ins) {
                    if (calls.getAndIncrement() == 0) {
                        try {
                            Thread.sleep(2_500); // beyond the 2 s round: the first attempt fails
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return new FitRes("late", Loopback.plus(1).apply(ins.parameters().get("a.lora_A.weight").toFloats())
                            .length == 6 ? plusOne(ins) : ins.parameters(), 10, Map.of());
                }

                @Override
                public EvaluateRes evaluate(EvaluateIns ins) {
                    return new EvaluateRes("late", 1, Map.of());
                }
            };
            lb.start(Tls.insecureClient(), List.of(new ClientAdapter("late", Loopback.caps(Loopback.HASH, 10),
                    t -> late, Map.of())));
            lb.awaitClients(2);

            Server.Result r = server(lb, FailurePolicy.ALL_SUCCEED, 1, 3).run(rep -> { });

            RoundReport round = r.rounds().get(0);
            assertThat(round.isAccepted()).isTrue();
            assertThat(round.successes()).containsExactly("a", "late");
            assertThat(calls.get()).isGreaterThanOrEqualTo(2);
        }
    }

    private static Map<String, org.fedqlora.tensor.HostTensor> plusOne(FitIns ins) {
        Map<String, org.fedqlora.tensor.HostTensor> out = new java.util.TreeMap<>();
        ins.parameters().forEach((n, t) -> out.put(n, org.fedqlora.tensor.HostTensor.ofFloats(
                Loopback.plus(1).apply(t.toFloats()), t.shape())));
        return out;
    }

    @Test
    void clientThatRestartsRejoinsAndAnswersTheNextRound() throws Exception {
        try (Loopback lb = new Loopback(Loopback.fast())) {
            lb.start(Tls.insecureClient(), List.of(Loopback.client("a", 10, Loopback.plus(1))));
            FederationNode first = lb.start(Tls.insecureClient(), List.of(Loopback.client("b", 10, Loopback.plus(1))));
            lb.awaitClients(2);
            Server s = server(lb, FailurePolicy.ALL_SUCCEED, 2, 0);

            Server.Result r = s.run(rep -> {
                if (rep.round() == 1) {
                    first.close();
                    FederationNode again = lb.start(Tls.insecureClient(),
                            List.of(Loopback.client("b", 10, Loopback.plus(1))));
                    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    // rejoined, and connected under its new session (its first pull after the join)
                    while ((again.joins() == 0 || !lb.server.availableClients().contains("b"))
                            && System.nanoTime() < end) {
                        Thread.onSpinWait();
                    }
                }
            });

            assertThat(r.rounds()).allSatisfy(rep -> assertThat(rep.successes()).containsExactly("a", "b"));
            assertThat(r.parameters().get("a.lora_B.weight").toFloats()).containsExactly(2.5f, 1.5f);
        }
    }
}
