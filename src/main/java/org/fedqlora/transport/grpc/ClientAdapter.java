package org.fedqlora.transport.grpc;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.EvaluateIns;
import org.fedqlora.fed.EvaluateRes;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.FitIns;
import org.fedqlora.fed.FitRes;
import org.fedqlora.transport.grpc.proto.Capabilities;

import java.util.Map;
import java.util.function.Function;

/**
 * Runs a {@link Client} (the same object the simulation calls in memory) behind a {@link FederationNode}: "fit"
 * tasks become {@link Client#fit}, "evaluate" tasks {@link Client#evaluate}; other phases are refused unless an
 * extension handler is given.
 */
public final class ClientAdapter implements FederationNode.VirtualClient {
    private final String id;
    private final Capabilities capabilities;
    private final Function<FederationNode.Task, Client> client;
    private final Map<String, Handler> extensions;

    /** Handles an extension phase (e.g. secure aggregation's). */
    @FunctionalInterface
    public interface Handler {
        FederationNode.Answer handle(FederationNode.Task task) throws Exception;
    }

    /**
     * @param client     the client for a task (e.g. built lazily on the first task, which carries the method, the
     *                   client's index and the labels)
     * @param extensions handlers of phases other than fit and evaluate, by phase name
     */
    public ClientAdapter(String id, Capabilities capabilities, Function<FederationNode.Task, Client> client,
                         Map<String, Handler> extensions) {
        this.id = id;
        this.capabilities = capabilities;
        this.client = client;
        this.extensions = Map.copyOf(extensions);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public FederationNode.Answer handle(FederationNode.Task task) throws Exception {
        if (Failure.FIT.equals(task.phase())) {
            FitRes r = client.apply(task).fit(new FitIns(task.round(), task.tensors(), task.config()));
            return new FederationNode.Answer(r.numExamples(), r.metrics(), r.parameters());
        }
        if (Failure.EVALUATE.equals(task.phase())) {
            EvaluateRes r = client.apply(task).evaluate(new EvaluateIns(task.round(), task.tensors(), task.config()));
            return new FederationNode.Answer(r.numExamples(), r.metrics(), Map.of());
        }
        Handler h = extensions.get(task.phase());
        if (h == null) {
            throw new UnsupportedOperationException("this client does not know phase '" + task.phase()
                    + "' (known: fit, evaluate" + (extensions.isEmpty() ? "" : ", " + extensions.keySet()) + ")");
        }
        return h.handle(task);
    }
}
