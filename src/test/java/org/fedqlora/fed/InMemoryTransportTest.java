package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** The simulation transport: isolation by deep copies, byte accounting, and failures as data. */
class InMemoryTransportTest {
    /** A (2, 3) F32 tensor: 24 bytes. */
    private static final Map<String, HostTensor> GLOBAL = Map.of("w", HostTensor.ofFloats(new float[6], 2, 3));

    /** Sends back {@code w} = 4 floats (16 bytes) and, optionally, scribbles on what it received. */
    private static class EchoClient implements Client {
        final String id;
        final AtomicInteger calls = new AtomicInteger();
        HostTensor lastSent;

        EchoClient(String id) {
            this.id = id;
        }

        @Override
        public FitRes fit(FitIns ins) {
            calls.incrementAndGet();
            ins.parameters().get("w").data().putFloat(0, 99f); // a client that mutates its input
            lastSent = HostTensor.ofFloats(new float[] {1, 2, 3, 4}, 4);
            return new FitRes(id, Map.of("w", lastSent), 10, Map.of());
        }

        @Override
        public EvaluateRes evaluate(EvaluateIns ins) {
            calls.incrementAndGet();
            return new EvaluateRes(id, 5, Map.of("loss", 1.0));
        }
    }

    @Test
    void tensorsAreCopiedBothWays() {
        // Prepare
        EchoClient client = new EchoClient("a");
        HostTensor serverTensor = GLOBAL.get("w");
        Map<String, HostTensor> global = Map.of("w", HostTensor.ofFloats(serverTensor.toFloats(), 2, 3));
        InMemoryTransport transport = new InMemoryTransport(Map.of("a", client));

        // Execute: the client writes into its input; the server writes into the result it received
        PhaseResult<FitRes> answer = transport.fit(Map.of("a", new FitIns(1, global, Map.of())));
        answer.results().get(0).parameters().get("w").data().putFloat(0, -7f);

        // Assert: neither side sees the other's writes
        assertThat(global.get("w").toFloats()[0]).isEqualTo(0f);
        assertThat(client.lastSent.toFloats()[0]).isEqualTo(1f);
    }

    @Test
    void bytesAreCountedPerClientAndInTotal() {
        // Prepare
        InMemoryTransport transport = new InMemoryTransport(Map.of("a", new EchoClient("a"), "b",
                new EchoClient("b")));
        FitIns ins = new FitIns(1, GLOBAL, Map.of());

        // Execute
        PhaseResult<FitRes> fit = transport.fit(Map.of("a", ins, "b", ins));
        PhaseResult<EvaluateRes> evaluate = transport.evaluate(Map.of("a", new EvaluateIns(1, GLOBAL, Map.of())));

        // Assert: 24 bytes down and 16 up per fit call; 24 down and 0 up for the evaluation
        assertThat(fit.bytesDown()).isEqualTo(48);
        assertThat(fit.bytesUp()).isEqualTo(32);
        assertThat(evaluate.bytesDown()).isEqualTo(24);
        assertThat(evaluate.bytesUp()).isZero();
        assertThat(transport.bytesDown("a")).isEqualTo(48);
        assertThat(transport.bytesUp("a")).isEqualTo(16);
        assertThat(transport.bytesDown("b")).isEqualTo(24);
        assertThat(transport.totalBytesDown()).isEqualTo(72);
        assertThat(transport.totalBytesUp()).isEqualTo(32);
    }

    @Test
    void aThrowingClientIsAFailureAndTheOthersStillAnswer() {
        // Prepare
        Client broken = new EchoClient("b") {
            @Override
            public FitRes fit(FitIns ins) {
                throw new IllegalStateException("out of memory on the GPU");
            }
        };
        InMemoryTransport transport = new InMemoryTransport(Map.of("a", new EchoClient("a"), "b", broken,
                "c", new EchoClient("c")));
        FitIns ins = new FitIns(1, GLOBAL, Map.of());

        // Execute
        PhaseResult<FitRes> fit = transport.fit(Map.of("c", ins, "b", ins, "a", ins));

        // Assert: results in id order, one failure with the exception's message
        assertThat(fit.results()).extracting(FitRes::clientId).containsExactly("a", "c");
        assertThat(fit.failures()).singleElement().satisfies(f -> {
            assertThat(f.clientId()).isEqualTo("b");
            assertThat(f.phase()).isEqualTo(Failure.FIT);
            assertThat(f.reason()).contains("IllegalStateException").contains("out of memory on the GPU");
            assertThat(f.cause()).isInstanceOf(IllegalStateException.class);
        });
    }

    @Test
    void anInjectedFaultFailsTheCallWithoutDeliveringIt() {
        // Prepare
        EchoClient a = new EchoClient("a");
        InMemoryTransport transport = new InMemoryTransport(Map.of("a", a),
                FaultInjector.failing("a", Failure.FIT, 2), null);

        // Execute
        PhaseResult<FitRes> round1 = transport.fit(Map.of("a", new FitIns(1, GLOBAL, Map.of())));
        PhaseResult<FitRes> round2 = transport.fit(Map.of("a", new FitIns(2, GLOBAL, Map.of())));

        // Assert
        assertThat(round1.results()).hasSize(1);
        assertThat(round2.results()).isEmpty();
        assertThat(round2.failures()).singleElement().extracting(Failure::reason).asString()
                .contains("injected fault");
        assertThat(round2.bytesDown()).isZero();
        assertThat(a.calls).hasValue(1);
    }

    @Test
    void aClientAnsweringUnderAnotherIdOrAnUnknownIdIsAFailure() {
        // Prepare: "a" is registered but answers as "z"; "ghost" is not registered
        InMemoryTransport transport = new InMemoryTransport(Map.of("a", new EchoClient("z")));
        FitIns ins = new FitIns(1, GLOBAL, Map.of());

        // Execute
        PhaseResult<FitRes> fit = transport.fit(Map.of("a", ins, "ghost", ins));

        // Assert
        assertThat(fit.results()).isEmpty();
        assertThat(fit.failures()).extracting(Failure::reason).satisfiesExactly(
                r -> assertThat(r).contains("answered as 'z'"),
                r -> assertThat(r).contains("no client 'ghost'"));
    }

    @Test
    void aClientThatTimesOutIsAFailure() {
        // Prepare: "a" would take 10 s; the limit is 100 ms
        Client slow = new EchoClient("a") {
            @Override
            public FitRes fit(FitIns ins) {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.fit(ins);
            }
        };
        FitIns ins = new FitIns(1, GLOBAL, Map.of());
        try (InMemoryTransport transport = new InMemoryTransport(Map.of("a", slow, "b", new EchoClient("b")),
                FaultInjector.NONE, Duration.ofMillis(100))) {

            // Execute
            long start = System.nanoTime();
            PhaseResult<FitRes> fit = transport.fit(Map.of("a", ins, "b", ins));
            double seconds = (System.nanoTime() - start) / 1e9;

            // Assert
            assertThat(fit.results()).extracting(FitRes::clientId).containsExactly("b");
            assertThat(fit.failures()).extracting(Failure::reason).containsExactly("timed out after 100 ms");
            assertThat(seconds).isLessThan(5);
            assertThat(transport.availableClients()).isEqualTo(List.of("a", "b"));
        }
    }
}
