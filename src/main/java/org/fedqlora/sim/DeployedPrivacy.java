package org.fedqlora.sim;

import org.fedqlora.fed.Client;
import org.fedqlora.fed.Failure;
import org.fedqlora.fed.privacy.DpClient;
import org.fedqlora.fed.privacy.DpSettings;
import org.fedqlora.fed.privacy.NoiseSource;
import org.fedqlora.fed.secagg.InProcessChannel;
import org.fedqlora.fed.secagg.Message;
import org.fedqlora.fed.secagg.SecAggException;
import org.fedqlora.fed.secagg.SecureClient;
import org.fedqlora.fed.secagg.Stage;
import org.fedqlora.sim.config.SimConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one deployed client does to its update before it leaves the process, by the server's config, exactly as
 * the simulation wraps its clients ({@link MethodRun#run}, {@link SecAggRun#of}):
 * <ul>
 *   <li>{@code privacy.mode: local}: {@link DpClient#local} clips the update and adds the noise here (from
 *       {@link NoiseSource#secure()}, or the simulation's seeded stream with {@code privacy.noise: seeded});</li>
 *   <li>{@code secagg.enabled}: a {@link SecureClient} keeps the trained update and the fit answer carries metrics
 *       only; the update leaves masked in the session's four phases ({@link #participant}). Under central DP the
 *       client first clips to the server's clip norm ({@link DpClient#clipping}), the server adds the noise to the
 *       unmasked sum.</li>
 * </ul>
 * Methods that share nothing ({@code local}) run unchanged.
 */
public final class DeployedPrivacy {
    private static final Logger LOG = LoggerFactory.getLogger(DeployedPrivacy.class);

    private final String id;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, SecureClient> secure = new ConcurrentHashMap<>();
    private NoiseSource noise;

    public DeployedPrivacy(String id) {
        this.id = id;
    }

    /** The client that runs a {@code phase} task of {@code method}: {@code inner}, wrapped as the config says. */
    public Client wrap(SimConfig c, String method, String phase, Client inner) {
        Method m = Method.parse(method);
        if (!Failure.FIT.equals(phase) || !m.aggregates()) {
            return inner; // evaluation and non-sharing methods are not privatised
        }
        Optional<DpSettings> dp = SimPrivacy.settings(c, m);
        Client out = inner;
        if (dp.isPresent() && dp.get().mode() == DpSettings.Mode.LOCAL) {
            out = DpClient.local(out, id, dp.get().clip(), dp.get().noiseMultiplier(), noise(c));
        } else if (dp.isPresent() && c.secagg().enabled()) {
            out = DpClient.clipping(out, id);
        }
        if (c.secagg().enabled()) {
            SecureClient s = new SecureClient(id, out, random);
            secure.put(m.id, s);
            out = s;
        }
        return out;
    }

    /** The secure-aggregation endpoint of {@code method}'s last fit; it refuses a session without one. */
    public InProcessChannel.Participant participant(String method) {
        String key = Method.parse(method).id;
        return request -> {
            SecureClient s = secure.get(key);
            if (s == null) {
                throw new SecAggException(id + " has not trained " + key + " in this process, so it has no update to "
                        + "mask (a " + request.stage() + " request of session " + request.session() + ")");
            }
            Message reply = s.handle(request);
            if (request.stage() == Stage.MASKED_INPUT && s.lastClamped() > 0) {
                LOG.warn("{}: {} update coordinates were outside ±secagg.clip and were clamped before masking; raise "
                        + "secagg.clip in the server's config", id, s.lastClamped());
            }
            return reply;
        };
    }

    private synchronized NoiseSource noise(SimConfig c) {
        if (noise == null) {
            noise = SimPrivacy.clientNoise(c, false);
            LOG.info("{}: local DP noise from {}", id, noise.describe());
        }
        return noise;
    }
}
