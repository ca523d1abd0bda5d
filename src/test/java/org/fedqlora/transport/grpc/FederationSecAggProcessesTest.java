package org.fedqlora.transport.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.fedqlora.sim.Simulation;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.testing.Federations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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
        Path pki = dir.resolve("pki");
        Certificates.writeFederation(pki, 4, List.of(), Duration.ofDays(1));
        Path simOut = dir.resolve("sim");
        JsonNode sim = Simulation.run(f.config, simOut, false, new Simulation.Listener() { });
        // the aggregate of one round from the same start: secure (clients clip and mask) vs plain (server clips)
        Path secureOne = dir.resolve("secure-1");
        Path plainOne = dir.resolve("plain-1");
        Simulation.run(ConfigLoader.load(f.configFile, List.of("rounds=1")), secureOne, false,
                new Simulation.Listener() { });
        Simulation.run(ConfigLoader.load(f.configFile, List.of("rounds=1", "secagg.enabled=false")), plainOne, false,
                new Simulation.Listener() { });

        Path out = dir.resolve("fed");
        Path portFile = dir.resolve("port");
        Path serverLog = dir.resolve("server.log");
        Process server = Federations.java(serverLog, "server", "--config", f.configFile.toString(), "--port", "0",
                "--port-file", portFile.toString(), "--out", out.toString(), "--poll-ms", "1000",
                "--tls-cert", pki.resolve("server.crt").toString(), "--tls-key", pki.resolve("server.key").toString(),
                "--client-ca", pki.resolve("ca.crt").toString());
        List<Process> clients = new ArrayList<>();
        try {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(portFile) && server.isAlive() && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            assertThat(Files.exists(portFile)).as(Federations.tail(serverLog)).isTrue();
            String target = "localhost:" + Files.readString(portFile).trim();
            for (int i = 0; i < 4; i++) {
                String cn = "client-" + i;
                clients.add(Federations.java(dir.resolve(cn + ".log"), "client", "--server", target,
                        "--model", f.config.model(), "--format", f.config.clientFormats().get(i).id(),
                        "--data", f.clientData.get(i).toString(), "--test", f.test.toString(),
                        "--state-dir", dir.resolve("state-" + i).toString(),
                        "--tls-ca", pki.resolve("ca.crt").toString(), "--tls-cert", pki.resolve(cn + ".crt").toString(),
                        "--tls-key", pki.resolve(cn + ".key").toString()));
            }

            boolean exited = server.waitFor(240, TimeUnit.SECONDS);

            assertThat(exited).as(Federations.tail(serverLog)).isTrue();
            assertThat(server.exitValue()).as(Federations.tail(serverLog)).isZero();
            for (int i = 0; i < 4; i++) {
                assertThat(clients.get(i).waitFor(30, TimeUnit.SECONDS))
                        .as(Federations.tail(dir.resolve("client-" + i + ".log"))).isTrue();
                assertThat(clients.get(i).exitValue()).isZero();
            }
        } finally {
            server.destroyForcibly();
            clients.forEach(Process::destroyForcibly);
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
}
