package org.fedqlora.fed;

import org.fedqlora.tensor.HostTensor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

/**
 * The simulation transport: clients are Java objects in this process, called one after the other in ascending id
 * order, so a run is deterministic. Every tensor crossing is deep-copied both ways ({@link Parameters#deepCopy}),
 * exactly as a network would, and counted per client ({@link #bytesDown(String)}, {@link #bytesUp(String)}).
 *
 * <p>With a timeout, each call runs on a daemon worker thread and a call that does not return in time is
 * interrupted and reported as a {@link Failure}; the next client is called at once, so a client that ignores the
 * interrupt may still be running. Without a timeout (the default) clients run on the caller's thread.
 */
public final class InMemoryTransport implements Transport {
    private final SortedMap<String, Client> clients;
    private final FaultInjector faults;
    private final Duration timeout;
    private final ExecutorService worker;
    private final Map<String, long[]> traffic = new TreeMap<>();

    /** Clients by id, no faults, no timeout. */
    public InMemoryTransport(Map<String, Client> clients) {
        this(clients, FaultInjector.NONE, null);
    }

    /**
     * @param clients clients by id
     * @param faults  calls to fail before delivery ({@link FaultInjector#NONE} for none)
     * @param timeout longest time a call may take, or null for no limit
     */
    public InMemoryTransport(Map<String, Client> clients, FaultInjector faults, Duration timeout) {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("an in-memory transport needs at least one client");
        }
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout + "; use null for none");
        }
        this.clients = Parameters.sortedCopy(clients);
        this.faults = Objects.requireNonNull(faults, "faults");
        this.timeout = timeout;
        this.worker = timeout == null ? null : Executors.newCachedThreadPool(task -> {
            Thread t = new Thread(task, "in-memory-client");
            t.setDaemon(true);
            return t;
        });
        this.clients.keySet().forEach(id -> traffic.put(id, new long[2]));
    }

    @Override
    public List<String> availableClients() {
        return List.copyOf(clients.keySet());
    }

    @Override
    public PhaseResult<FitRes> fit(Map<String, FitIns> instructions) {
        return exchange(Failure.FIT, instructions, FitIns::round, FitIns::parameters,
                (client, ins) -> client.fit(new FitIns(ins.round(), Parameters.deepCopy(ins.parameters()),
                        ins.config())),
                FitRes::clientId, FitRes::parameters,
                res -> new FitRes(res.clientId(), Parameters.deepCopy(res.parameters()), res.numExamples(),
                        res.metrics()));
    }

    @Override
    public PhaseResult<EvaluateRes> evaluate(Map<String, EvaluateIns> instructions) {
        return exchange(Failure.EVALUATE, instructions, EvaluateIns::round, EvaluateIns::parameters,
                (client, ins) -> client.evaluate(new EvaluateIns(ins.round(), Parameters.deepCopy(ins.parameters()),
                        ins.config())),
                EvaluateRes::clientId, res -> Map.of(), Function.identity());
    }

    /** Tensor bytes delivered to this client so far. */
    public long bytesDown(String clientId) {
        return counters(clientId)[0];
    }

    /** Tensor bytes received from this client so far. */
    public long bytesUp(String clientId) {
        return counters(clientId)[1];
    }

    /** Tensor bytes delivered to all clients so far. */
    public long totalBytesDown() {
        return traffic.values().stream().mapToLong(c -> c[0]).sum();
    }

    /** Tensor bytes received from all clients so far. */
    public long totalBytesUp() {
        return traffic.values().stream().mapToLong(c -> c[1]).sum();
    }

    @Override
    public void close() {
        if (worker != null) {
            worker.shutdownNow();
        }
    }

    /**
     * One phase: for each instruction in id order, deliver a copy, call the client, check and copy its answer.
     * Down bytes are counted when an instruction is delivered, up bytes when a valid answer arrives.
     */
    private <I, R> PhaseResult<R> exchange(String phase, Map<String, I> instructions, ToIntFunction<I> roundOf,
                                           Function<I, Map<String, HostTensor>> downOf,
                                           BiFunction<Client, I, R> call, Function<R, String> idOf,
                                           Function<R, Map<String, HostTensor>> upOf, Function<R, R> copyOut) {
        List<R> results = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        long bytesDown = 0;
        long bytesUp = 0;
        for (Map.Entry<String, I> entry : new TreeMap<>(instructions).entrySet()) {
            String id = entry.getKey();
            I ins = entry.getValue();
            Client client = clients.get(id);
            if (client == null) {
                failures.add(new Failure(id, phase, "no client '" + id + "' in this transport (known: "
                        + clients.keySet() + ")", null));
                continue;
            }
            var fault = faults.fault(id, phase, roundOf.applyAsInt(ins));
            if (fault.isPresent()) {
                failures.add(new Failure(id, phase, fault.get(), null));
                continue;
            }
            long down = Parameters.byteSize(downOf.apply(ins));
            counters(id)[0] += down;
            bytesDown += down;
            try {
                R answer = call(() -> call.apply(client, ins));
                checkAnswer(id, answer, idOf);
                R received = copyOut.apply(answer);
                long up = Parameters.byteSize(upOf.apply(received));
                counters(id)[1] += up;
                bytesUp += up;
                results.add(received);
            } catch (TimeoutException e) {
                failures.add(new Failure(id, phase, "timed out after " + timeout.toMillis() + " ms", e));
            } catch (RuntimeException e) {
                failures.add(Failure.of(id, phase, e));
            }
        }
        return new PhaseResult<>(results, failures, bytesDown, bytesUp);
    }

    private static <R> void checkAnswer(String id, R answer, Function<R, String> idOf) {
        if (answer == null) {
            throw new IllegalStateException("client '" + id + "' returned null instead of a result");
        }
        if (!id.equals(idOf.apply(answer))) {
            throw new IllegalStateException("client '" + id + "' answered as '" + idOf.apply(answer)
                    + "'; a client must put its own id in its results");
        }
    }

    /** Runs the call inline, or on the worker with the timeout; rethrows what the client threw. */
    private <R> R call(Supplier<R> task) throws TimeoutException {
        if (worker == null) {
            return task.get();
        }
        Future<R> future = worker.submit(task::get);
        try {
            return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw e;
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a client", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(cause);
        }
    }

    private long[] counters(String clientId) {
        long[] c = traffic.get(clientId);
        if (c == null) {
            throw new IllegalArgumentException("no client '" + clientId + "' in this transport (known: "
                    + clients.keySet() + ")");
        }
        return c;
    }
}
