package org.fedqlora.testing;

import org.fedqlora.data.Dataset;
import org.fedqlora.data.DatasetFiles;
import org.fedqlora.data.DemoData;
import org.fedqlora.data.Fields;
import org.fedqlora.sim.SimData;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.ConfigWriter;
import org.fedqlora.sim.config.SimConfig;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** A tiny federation on the bert-tiny fixture: config, per-client data files as simulate splits them, processes. */
public final class Federations {
    public final Path dir;
    public final SimConfig config;
    public final Path configFile;
    public final List<Path> clientData = new ArrayList<>();
    public final Path test;

    /** Three clients (nf2, nf4, int8), two rounds of fedqlora, a few steps each. */
    public Federations(Path dir, String... more) throws IOException {
        this.dir = dir;
        DemoData.Demo d = DemoData.generate(3, new DemoData.Options(120, 40, 0.0));
        Path train = dir.resolve("train.jsonl");
        test = dir.resolve("test.jsonl");
        DatasetFiles.writeJsonl(d.train(), train, Fields.DEFAULT);
        DatasetFiles.writeJsonl(d.test(), test, Fields.DEFAULT);
        List<String> sets = new ArrayList<>(List.of(
                "model=" + Fixtures.model("bert-tiny"), "data.train=" + train, "data.test=" + test,
                "data.max_length=24", "clients=3", "formats=[nf2, nf4, int8]", "quant.group_size=32",
                "partition.method=dirichlet", "partition.alpha=1.0", "partition.min_size=5",
                "methods=[fedqlora]", "rounds=2", "local.steps=2", "local.batch_size=8", "local.lr=5e-3",
                "lora.rank=2", "qa.rank=4", "eval.max_examples=20", "server.round_timeout_s=120",
                "server.join_timeout_s=120"));
        sets.addAll(List.of(more));
        config = ConfigLoader.loadDefaults(sets);
        configFile = dir.resolve("fed.yaml");
        Files.writeString(configFile, ConfigWriter.toYaml(config));
        SimData data = SimData.load(config);
        for (int i = 0; i < config.clients(); i++) {
            List<Integer> idx = new ArrayList<>(data.partition().clients().get(i).indices());
            Dataset mine = data.train().subset(idx, "client " + i);
            Path f = dir.resolve("client-" + i + ".jsonl");
            DatasetFiles.writeJsonl(mine, f, Fields.DEFAULT);
            clientData.add(f);
        }
    }

    /** The final global tensors a run wrote into {@code out} (the newest global-R.safetensors). */
    public static Map<String, HostTensor> finalGlobal(Path out) throws IOException {
        try (Stream<Path> s = Files.walk(out.resolve("checkpoints"))) {
            Path newest = s.filter(p -> p.getFileName().toString().matches("global-[0-9]+\\.safetensors"))
                    .max((a, b) -> Integer.compare(round(a), round(b))).orElseThrow();
            SafetensorsFile f = SafetensorsFile.open(newest);
            Map<String, HostTensor> out2 = new LinkedHashMap<>();
            f.names().forEach(n -> out2.put(n, HostTensor.ofBytes(f.get(n).dtype(), f.get(n).toBytes(), f.get(n).shape())));
            return out2;
        }
    }

    private static int round(Path p) {
        String n = p.getFileName().toString();
        return Integer.parseInt(n.substring("global-".length(), n.length() - ".safetensors".length()));
    }

    public static double maxAbsDiff(Map<String, HostTensor> a, Map<String, HostTensor> b) {
        if (!a.keySet().equals(b.keySet())) {
            throw new AssertionError("different tensors: " + a.keySet() + " vs " + b.keySet());
        }
        double max = 0;
        for (String n : a.keySet()) {
            float[] x = a.get(n).toFloats();
            float[] y = b.get(n).toFloats();
            if (!Arrays.equals(a.get(n).shape(), b.get(n).shape())) {
                throw new AssertionError(n + ": shapes differ");
            }
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    /** A fedqlora JVM with the test classpath and the same engine settings as the test JVM. */
    public static Process java(Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=2",
                "-Dai.djl.pytorch.num_interop_threads=1", "-cp", System.getProperty("java.class.path"),
                "org.fedqlora.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE"); // several torch processes share the cores
        return pb.start();
    }

    public static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join(File.separator.equals("/") ? "\n" : "\r\n",
                    lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
