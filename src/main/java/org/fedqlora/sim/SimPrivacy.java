package org.fedqlora.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.fed.privacy.DpAggregator;
import org.fedqlora.fed.privacy.DpSettings;
import org.fedqlora.fed.privacy.NoiseSource;
import org.fedqlora.fed.privacy.Rdp;
import org.fedqlora.sim.config.SimConfig;

import java.util.List;
import java.util.Optional;

/**
 * The simulation's side of differential privacy: {@code privacy.*} of a config as {@link DpSettings} (with the
 * noise multiplier calibrated to {@code privacy.target_epsilon} when it is not given), and the JSON that
 * summary.json and metrics.jsonl carry. The DP mechanism itself lives in {@code org.fedqlora.fed.privacy}.
 */
final class SimPrivacy {
    /** How ε is computed, as reports state it. */
    static final String ACCOUNTANT = "RDP of the Poisson-subsampled Gaussian mechanism (Mironov et al. 2019), "
            + "orders 1.1..63 (Opacus' defaults), (ε, δ) by Canonne-Kamath-Steinke 2020 Prop. 12; client-level, "
            + "add/remove-one-client adjacency (local mode: replace-one, sensitivity 2·clip, no amplification)";

    private static final ObjectMapper JSON = new ObjectMapper();

    private SimPrivacy() {
    }

    /** The DP settings for {@code method}, or empty when DP is off or the method shares nothing (local). */
    static Optional<DpSettings> settings(SimConfig c, Method method) {
        SimConfig.Privacy p = c.privacy();
        if (!p.enabled() || !method.aggregates()) {
            return Optional.empty();
        }
        DpSettings.Mode mode = DpSettings.Mode.parse(p.mode());
        double expected = c.fraction() * c.clients();
        try {
            double z = p.noiseMultiplier() > 0 ? p.noiseMultiplier()
                    : DpSettings.calibrate(mode, p.targetEpsilon(), p.delta(), c.fraction(), c.rounds());
            SimConfig.Privacy.AdaptiveClip a = p.adaptiveClip();
            double countNoise = !a.enabled() ? 0 : a.countNoise() > 0 ? a.countNoise() : expected / 20;
            return Optional.of(new DpSettings(mode, p.clip(), a.enabled(), a.targetQuantile(), a.lr(), countNoise, z,
                    p.delta(), p.targetEpsilon(), c.fraction(), c.clients()));
        } catch (IllegalArgumentException e) {
            throw new UserException("privacy: " + e.getMessage()
                    + (p.adaptiveClip().enabled() ? " (set privacy.adaptive_clip.count_noise)" : ""), e);
        }
    }

    /**
     * The server's noise (central DP): seeded from the run seed where {@code privacy.noise} allows it (see
     * {@link SimConfig.Privacy#seededNoise}), else {@link NoiseSource#secure()}.
     */
    static NoiseSource serverNoise(SimConfig c, boolean simulation) {
        return c.privacy().seededNoise(simulation) ? NoiseSource.seeded(c.seed()) : NoiseSource.secure();
    }

    /** The clients' noise (local DP), a stream apart from the server's; seeded as {@link #serverNoise}. */
    static NoiseSource clientNoise(SimConfig c, boolean simulation) {
        return c.privacy().seededNoise(simulation) ? NoiseSource.seeded(c.seed() ^ 0x5DEECE66DL) : NoiseSource.secure();
    }

    /** One metrics.jsonl line: ε after {@code round}, with the round's clip and noise. */
    static ObjectNode line(Method method, int round, DpAggregator dp, java.util.Map<String, Double> metrics) {
        ObjectNode l = JSON.createObjectNode();
        l.put("method", method.id);
        l.put("round", round);
        l.put("split", "privacy");
        l.put("epsilon", dp.epsilonAfter(round));
        l.put("delta", dp.settings().delta());
        l.put("noise_multiplier", dp.settings().noiseMultiplier());
        Double clip = metrics.get("dp_clip");
        l.put("clip", clip != null ? clip : dp.clip());
        Double stddev = metrics.get("dp_noise_stddev");
        if (stddev != null) {
            l.put("noise_stddev", stddev);
        }
        Double unclipped = metrics.get("dp_unclipped_estimate");
        if (unclipped != null) {
            l.put("unclipped_estimate", unclipped);
        }
        return l;
    }

    /** summary.json "privacy" of a method: the parameters, ε after the last round run, and why it stopped. */
    static ObjectNode summary(DpAggregator dp, NoiseSource noise, List<ObjectNode> lines, Optional<String> stopped) {
        DpSettings s = dp.settings();
        ObjectNode o = JSON.createObjectNode();
        o.put("mode", s.mode().id());
        ArrayNode rounds = JSON.createArrayNode();
        double epsilon = 0;
        int last = 0;
        for (ObjectNode l : lines) {
            if (l.path("split").asText().equals("privacy")) {
                ObjectNode r = rounds.addObject();
                r.put("round", l.get("round").asInt());
                r.set("epsilon", l.get("epsilon"));
                r.set("clip", l.get("clip"));
                epsilon = l.get("epsilon").asDouble();
                last = l.get("round").asInt();
            }
        }
        o.put("epsilon", epsilon);
        o.put("delta", s.delta());
        o.put("rounds_run", last);
        o.put("target_epsilon", s.targetEpsilon());
        o.put("noise_multiplier", s.noiseMultiplier());
        o.put("update_noise_multiplier", s.updateNoiseMultiplier());
        o.put("clip", s.clip());
        o.put("final_clip", dp.clip());
        o.put("adaptive_clip", s.adaptive());
        if (s.adaptive()) {
            o.put("target_quantile", s.targetQuantile());
            o.put("clip_lr", s.clipLearningRate());
            o.put("count_noise", s.countNoise());
        }
        o.put("sampling", "poisson");
        o.put("sampling_probability", s.samplingProbability());
        o.put("expected_clients", s.expectedClients());
        o.put("accountant", ACCOUNTANT);
        o.put("orders", Rdp.DEFAULT_ORDERS.size());
        o.put("noise_source", noise.describe());
        if (stopped.isPresent()) {
            o.put("stopped", stopped.get());
        } else {
            o.putNull("stopped");
        }
        o.set("rounds", rounds);
        return o;
    }
}
