package org.fedqlora.sim;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.Strategy;
import org.fedqlora.fed.privacy.DpClient;
import org.fedqlora.fed.secagg.InProcessChannel;
import org.fedqlora.fed.secagg.SecAggServer;
import org.fedqlora.fed.secagg.SecureAggregationStrategy;
import org.fedqlora.fed.secagg.SecureClient;
import org.fedqlora.sim.config.SimConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.Map;
import java.util.TreeMap;

/**
 * Secure aggregation in a simulated method ({@code secagg.enabled}): every client is wrapped in a
 * {@link SecureClient} (the transport then carries only metrics up), the strategy in a
 * {@link SecureAggregationStrategy} whose sessions run over an {@link InProcessChannel} to the same clients. Its
 * traffic is added to the method's bytes. Methods that share nothing ({@code local}) run unchanged.
 *
 * <p>Central differential privacy composes: pass a FedAvg built with the DP aggregator and {@code clientClipping}
 * = true; every client then clips its update to the server's clip norm ({@link DpClient#clipping}) before it is
 * masked, sends weight 1, and the aggregator adds the noise to the unmasked sum
 * ({@link org.fedqlora.fed.privacy.DpAggregator#aggregateSum}). Local DP needs no change (its clients noise before
 * masking).
 */
final class SecAggRun {
    private static final Logger LOG = LoggerFactory.getLogger(SecAggRun.class);

    final Strategy strategy;
    final Map<String, Client> clients;
    private final Map<String, SecureClient> secure;
    private final SecAggServer.Channel channel;
    private long seenDown;
    private long seenUp;

    private SecAggRun(Strategy strategy, Map<String, Client> clients, Map<String, SecureClient> secure,
                      SecAggServer.Channel channel) {
        this.strategy = strategy;
        this.clients = clients;
        this.secure = secure;
        this.channel = channel;
    }

    /** The strategy and clients of a method: wrapped when secure aggregation is on and the method aggregates. */
    static SecAggRun of(SimConfig c, Method method, Strategy strategy, Map<String, Client> clients,
                        boolean clientClipping) {
        if (!c.secagg().enabled() || !method.aggregates()) {
            return new SecAggRun(strategy, clients, Map.of(), null);
        }
        SecureRandom random = new SecureRandom();
        Map<String, SecureClient> secure = new TreeMap<>();
        clients.forEach((id, client) -> secure.put(id, new SecureClient(id,
                clientClipping ? DpClient.clipping(client, id) : client, random)));
        InProcessChannel channel = new InProcessChannel(secure);
        Strategy wrapped = new SecureAggregationStrategy(strategy, channel, c.secagg().settings(), random,
                m -> { });
        return new SecAggRun(wrapped, new TreeMap<>(secure), secure, channel);
    }

    /**
     * The strategy of a deployed method ({@code fedqlora server}): the clients are in other processes and wrap
     * themselves ({@link DeployedClient#secure}); the sessions run over {@code channel} (gRPC).
     */
    static SecAggRun network(SimConfig c, Method method, Strategy strategy, SecAggServer.Channel channel) {
        if (!c.secagg().enabled() || !method.aggregates()) {
            return new SecAggRun(strategy, Map.of(), Map.of(), null);
        }
        if (channel == null) {
            throw new IllegalStateException("secure aggregation needs a channel to the clients");
        }
        Strategy wrapped = new SecureAggregationStrategy(strategy, channel, c.secagg().settings(), new SecureRandom(),
                m -> { });
        return new SecAggRun(wrapped, Map.of(), Map.of(), channel);
    }

    /** Bytes {down, up} of the sessions since the last call (0, 0 without secure aggregation). */
    long[] takeTraffic() {
        if (channel == null) {
            return new long[2];
        }
        long[] t = {channel.bytesDown() - seenDown, channel.bytesUp() - seenUp};
        seenDown = channel.bytesDown();
        seenUp = channel.bytesUp();
        return t;
    }

    /** Logs the round's session (debug) and warns about clamped coordinates (actionable: raise secagg.clip). */
    void afterRound(Method method, int round, double clip) {
        if (!(strategy instanceof SecureAggregationStrategy s) || s.lastSession() == null) {
            return;
        }
        SecureAggregationStrategy.Session session = s.lastSession();
        LOG.debug("{} round {}: secure aggregation over {} clients (k = {}, t = {}, step {}): survivors {}, "
                        + "dropped {}", method.id, round, session.clients(), session.neighbours(), session.threshold(),
                session.step(), session.survivors(), session.dropped());
        session.failure().ifPresent(f -> LOG.warn("{} round {}: secure aggregation failed, round not counted: {}",
                method.id, round, f));
        secure.forEach((id, client) -> {
            if (client.lastClamped() > 0) {
                LOG.warn("{} round {}: {} had {} update coordinates outside ±{} (clamped for secure aggregation); "
                        + "raise secagg.clip", method.id, round, id, client.lastClamped(), clip);
            }
        });
    }
}
