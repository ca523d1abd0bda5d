package org.fedqlora.transport.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.sim.Method;
import org.fedqlora.sim.RoundRecord;
import org.fedqlora.sim.Simulation;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.Run;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.testing.Federations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The acceptance run of secure aggregation over the network: a server and FOUR client processes on loopback with
 * mutual TLS, fedqlora with SecAgg+ and central DP for three rounds (clients clip and mask, the server unmasks the
 * sum and adds the noise). With privacy.noise = seeded the server's noise is the simulation's stream, so:
 * <ul>
 *   <li>the deployment ends with the adapters of the same config simulated in memory (secure aggregation included)
 *       within FederationProcessesTest's 1e-6, and reports the same ε: the network changes nothing;</li>
 *   <li>the secure aggregate of a round equals the plain one (the same config with secagg off: the server sees and
 *       clips every update itself) from the same start within the fixed-point bound Δ/2 per coordinate of the mean,
 *       Δ = clip / ⌊(2^47 − 1) / (4 · max_weight)⌋ = 2.8e-10 here, plus two float32 ulps (the clipped client
 *       tensors and the result are rounded to float32). Later rounds are not compared with the plain run: AdamW
 *       turns differences of 1e-10 in near-zero gradients into steps of up to lr (1.8e-3 measured after 3 rounds).</li>
 * </ul>
 */
class FederationSecAggProcessesTest {
    /** Deployed vs the same config simulated (both secure): only the training's floating-point noise differs. */
    static final double MAX_DIFF = 1e-6;

    static final String[] SECURE_DP = {"clients=4", "formats=[nf2, nf4, int8, nf4]", "rounds=3", "secagg.enabled=true",
        "privacy.mode=central", "privacy.clip=0.5", "privacy.noise_multiplier=0.5", "privacy.delta=1e-5",
        "privacy.noise=seeded"};

    @TempDir
    Path dir;

    @Test
    void serverAndFourClientProcessesWithSecureAggregationAndCentralDpCompleteThreeRounds() throws Exception {
        Federations f = new Federations(dir, SECURE_DP);
        Path simOut = dir.resolve("sim");
        Path secureOne = dir.resolve("secure-1");
        Path plainOne = dir.resolve("plain-1");
        TlsDeployment deployment = TlsDeployment.startServer(f);
        Path out = deployment.out;
        Path serverLog = deployment.serverLog;
        ExecutorService background = Executors.newSingleThreadExecutor();
        JsonNode sim;
        try (deployment) {
            // while the processes start and train, this JVM simulates the same config (the reference), keeping
            // round 1's global of it: the secure aggregate of round 1 from the common start; and the same first
            // round with secagg off (the server sees and clips every update itself)
            Future<JsonNode> simulations = background.submit(() -> {
                JsonNode s = Simulation.run(f.config, simOut, false, new Simulation.Listener() {
                    @Override
                    public void round(Run run, Method method, int round, int rounds, RoundRecord record) {
                        if (round == 1) {
                            copyGlobal(simOut, 1, secureOne);
                        }
                    }
                });
                Simulation.run(ConfigLoader.load(f.configFile, List.of("rounds=1", "secagg.enabled=false")),
                        plainOne, false, new Simulation.Listener() { });
                return s;
            });
            deployment.startClients();

            sim = simulations.get(300, TimeUnit.SECONDS);
            deployment.awaitSuccess(240);
        } finally {
            background.shutdownNow();
        }
        String log = Files.readString(serverLog);
        for (String phase : List.of("secagg.setup", "secagg.share_keys", "secagg.masked_input", "secagg.unmask")) {
            assertThat(log).contains("fedqlora round 3/3 " + phase + ": 4 answered, 0 failed");
        }
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        JsonNode method = summary.get("methods").get("fedqlora");
        assertThat(method.get("rounds").size()).isEqualTo(3);
        assertThat(method.get("privacy").get("epsilon").asDouble()).isPositive()
                .isEqualTo(sim.get("methods").get("fedqlora").get("privacy").get("epsilon").asDouble());

        Map<String, HostTensor> deployed = Federations.finalGlobal(out);
        double diff = Federations.maxAbsDiff(deployed, Federations.finalGlobal(simOut));
        System.out.printf("secure deployment vs secure simulation after 3 rounds: max |diff| = %.3g over %d "
                + "tensors%n", diff, deployed.size());
        assertThat(diff).as(Federations.tail(serverLog)).isLessThanOrEqualTo(MAX_DIFF);
        assertThat(deployed.keySet()).noneMatch(n -> n.contains("qa_"));

        double step = f.config.secagg().settings().config("s", 1, List.of("client-0", "client-1", "client-2",
                "client-3"), new byte[32]).step();
        Map<String, HostTensor> secure = Federations.finalGlobal(secureOne);
        Map<String, HostTensor> plain = Federations.finalGlobal(plainOne);
        double worst = 0;
        for (String name : plain.keySet()) {
            float[] x = plain.get(name).toFloats();
            float[] y = secure.get(name).toFloats();
            for (int j = 0; j < x.length; j++) {
                double bound = step / 2 + 2 * Math.ulp(x[j]);
                assertThat((double) Math.abs(x[j] - y[j])).as("%s[%d]", name, j).isLessThanOrEqualTo(bound);
                worst = Math.max(worst, Math.abs(x[j] - y[j]) / bound);
            }
        }
        System.out.printf("round 1, secure vs plain aggregate: worst |diff| / (Δ/2 + 2 ulp) = %.3f, Δ = %.3g%n",
                worst, step);
    }

    /** Copies {@code run}'s checkpoints/.../global-{@code round}.safetensors into {@code into}/checkpoints. */
    static void copyGlobal(Path run, int round, Path into) {
        String name = "global-" + round + ".safetensors";
        try (Stream<Path> s = Files.walk(run.resolve("checkpoints"))) {
            Path from = s.filter(p -> p.getFileName().toString().equals(name)).findFirst().orElseThrow();
            Files.createDirectories(into.resolve("checkpoints"));
            Files.copy(from, into.resolve("checkpoints").resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
