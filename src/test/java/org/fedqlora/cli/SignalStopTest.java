package org.fedqlora.cli;

import org.fedqlora.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SIGTERM in the middle of training stops the process with exit code 143 and one line, not a JVM crash (DJL's
 * shutdown hooks used to free tensors under a running backward pass: SIGSEGV, exit 134, an hs_err file).
 */
class SignalStopTest {
    @Test
    @EnabledOnOs(OS.LINUX)
    void sigtermDuringTrainingStopsCleanly(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("bench.log");
        // run in dir: a JVM crash would leave its hs_err file there
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-cp", System.getProperty("java.class.path"),
                "org.fedqlora.cli.Main", "bench", "train", "--model", Fixtures.model("bert-tiny").toString(),
                "--format", "nf4", "--group-size", "16", "--batch", "2", "--seq", "16", "--warmup", "0", "--steps", "1000000")
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (!Files.readString(log).contains("step 3/") && System.nanoTime() < deadline && p.isAlive()) {
                Thread.sleep(100);
            }
            assertThat(Files.readString(log)).as("training started").contains("step 3/");
            new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String out = Files.readString(log);
            assertThat(p.exitValue()).as(out).isEqualTo(143);
            assertThat(out).contains("fedqlora: stopped by SIGTERM").doesNotContain("fatal error");
            try (var files = Files.list(dir)) {
                assertThat(files.map(f -> f.getFileName().toString())).noneMatch(n -> n.startsWith("hs_err"));
            }
        } finally {
            p.destroyForcibly();
        }
    }
}
