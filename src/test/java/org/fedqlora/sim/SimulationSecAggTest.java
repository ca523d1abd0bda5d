package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import org.fedqlora.fed.secagg.SecAggSettings;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.SafetensorsFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A simulation with secure aggregation gives the adapters of the same simulation without it, within the
 * fixed-point bound: per coordinate |secure − plain| ≤ Δ/2 + one float32 ulp, Δ = clip / ⌊(2^{bits−1} − 1) /
 * (clients · max_weight)⌋ (the plain mean is itself rounded once to float32).
 */
class SimulationSecAggTest {
    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    /** The data of {@link SimulationTest#tiny}, written into this class's own folder. */
    @BeforeAll
    static void data() throws IOException {
        SimulationTest.shared = shared;
        SimulationTest.data();
    }

    @Test
    void secureAggregationGivesThePlainAdaptersWithinTheFixedPointBound() throws IOException {
        String methods = "methods=[ffa-lora, fedqlora]";
        SimConfig plain = SimulationTest.tiny(methods, "rounds=1");
        SimConfig secure = SimulationTest.tiny(methods, "rounds=1", "secagg.enabled=true", "secagg.bits=40");

        JsonNode p = Simulation.run(plain, dir.resolve("plain"), false, new Simulation.Listener() { });
        JsonNode s = Simulation.run(secure, dir.resolve("secure"), false, new Simulation.Listener() { });

        SecAggSettings settings = secure.secagg().settings();
        double step = settings.config("s", 1, IntStream.range(0, 3).mapToObj(i -> "c" + i).toList(), new byte[32])
                .step();
        for (String method : List.of("ffa-lora", "fedqlora")) {
            SafetensorsFile a = global(dir.resolve("plain"), plain, method);
            SafetensorsFile b = global(dir.resolve("secure"), secure, method);
            assertThat(b.names()).isEqualTo(a.names());
            for (String name : a.names()) {
                float[] x = a.get(name).toFloats();
                float[] y = b.get(name).toFloats();
                for (int j = 0; j < x.length; j++) {
                    assertThat((double) Math.abs(x[j] - y[j])).as("%s %s[%d]", method, name, j)
                            .isLessThanOrEqualTo(step / 2 + Math.ulp(x[j]));
                }
            }
            // the masked upload replaces the tensors: up is the session's traffic, not zero
            assertThat(s.get("methods").get(method).get("bytes_up").asLong()).isPositive();
        }
        assertThat(s.get("methods").get("fedqlora").get("final").get("accuracy").asDouble())
                .isEqualTo(p.get("methods").get("fedqlora").get("final").get("accuracy").asDouble());
    }

    private static SafetensorsFile global(Path out, SimConfig c, String method) {
        return SafetensorsFile.open(out.resolve("checkpoints").resolve(c.runs().get(0).id()).resolve(method)
                .resolve("global-1.safetensors"));
    }
}
