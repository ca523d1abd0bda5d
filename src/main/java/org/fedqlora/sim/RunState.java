package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.Jsons;
import org.fedqlora.OutputPaths;
import org.fedqlora.UserException;
import org.fedqlora.model.BaseModelHash;
import org.fedqlora.sim.config.ConfigLoader;
import org.fedqlora.sim.config.ConfigWriter;
import org.fedqlora.sim.config.Run;
import org.fedqlora.sim.config.SimConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The identity and status of a simulation folder, in {@code checkpoints/state.json}:
 * <pre>
 * {"version": 2,
 *  "fingerprint": SHA-256 of the resolved config (canonical YAML),
 *  "data_files": {path: SHA-256 of the file's bytes},       every data.train / data.test / data.client_files
 *  "models": {model: base-model content hash},               see BaseModelHash
 *  "status": "running" | "failed" | "finished", "failure": reason (when failed)}
 * </pre>
 * {@code --resume} refuses a folder whose config, data files or model differ from the ones it was started with,
 * naming what changed, so two runs are never mixed. A run that fails after it started also leaves a {@code FAILED}
 * file with the reason; its checkpoints are consistent, so it can be resumed once the cause is fixed.
 */
final class RunState {
    static final String STATE = "checkpoints/state.json";
    static final String FAILED = "FAILED";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int VERSION = 2;

    private RunState() {
    }

    /** What identifies a run: config fingerprint, data file hashes, model hashes. */
    record Identity(String fingerprint, Map<String, String> dataFiles, Map<String, String> models) {
    }

    /** The identity of {@code config}: hashes every data file and, through {@code modelHash}, every model. */
    static Identity identity(SimConfig config, Function<String, String> modelHash) {
        return identity(config, modelHash, true);
    }

    /** As above; without {@code withData} no data file is hashed (a deployed server holds no data). */
    static Identity identity(SimConfig config, Function<String, String> modelHash, boolean withData) {
        Map<String, String> data = new LinkedHashMap<>();
        Map<String, String> models = new LinkedHashMap<>();
        for (Run run : config.runs()) {
            SimConfig c = run.config();
            for (String f : withData ? dataFiles(c) : List.<String>of()) {
                data.computeIfAbsent(f, RunState::sha256);
            }
            models.computeIfAbsent(c.model(), modelHash);
        }
        return new Identity(ConfigWriter.fingerprint(config), data, models);
    }

    private static List<String> dataFiles(SimConfig c) {
        List<String> files = new java.util.ArrayList<>();
        if (!c.partition().method().equals("files") && !c.data().train().equals("demo")) {
            files.add(c.data().train());
        }
        c.data().test().ifPresent(files::add);
        files.addAll(c.data().clientFiles());
        return files;
    }

    /** A fresh run: {@code out} must be absent or empty and writable (checked before any work starts). */
    static void checkFresh(Path out) {
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) {
                throw new UserException(out + " is a file; --out wants a folder");
            }
            try (var s = Files.list(out)) {
                if (s.findAny().isPresent()) {
                    throw new UserException(out + " already exists and is not empty: pass --resume to continue the "
                            + "simulation in it, or choose another --out (nothing there is reused or overwritten)");
                }
            } catch (IOException e) {
                throw new UserException("cannot list " + out + ": " + OutputPaths.why(e), e);
            }
        }
        OutputPaths.checkWritable(out, out);
    }

    /** Creates the folder of a fresh run with its config.yaml and state.json. */
    static void create(Path out, SimConfig config, Identity id) {
        try {
            Files.createDirectories(out.resolve("checkpoints"));
        } catch (IOException e) {
            throw new UserException("cannot create " + out + ": " + OutputPaths.why(e), e);
        }
        Simulation.write(out.resolve("config.yaml"), ConfigWriter.toYaml(config).getBytes(StandardCharsets.UTF_8));
        write(out, id, "running", null);
    }

    /** A resumed run: refuses a folder started with another config, other data or another model. */
    static void checkResume(Path out, SimConfig config, Identity now) {
        Path state = out.resolve(STATE);
        if (!Files.isRegularFile(state)) {
            throw new UserException(out + " holds no interrupted simulation (no " + STATE + "); run without --resume");
        }
        String recovery = "the folder's identity is lost: start a new run in another --out";
        JsonNode s = Jsons.readObject(state, "the simulation's state", recovery);
        String saved = Jsons.requireText(s, "fingerprint", state, recovery);
        if (!saved.equals(now.fingerprint())) {
            throw new UserException(out + " was started with a different config (" + configChanges(out, config, saved,
                    now.fingerprint()) + "); resume with the same config and --set options as in "
                    + out.resolve("config.yaml") + ", or start a new run in another --out");
        }
        JsonNode data = s.path("data_files");
        data.properties().forEach(e -> {
            String was = e.getValue().asText();
            String is = now.dataFiles().get(e.getKey());
            if (!was.equals(is)) {
                throw new UserException("data file " + e.getKey() + " changed since the run in " + out + " started "
                        + "(SHA-256 " + BaseModelHash.shortHash(was) + "... then, " + BaseModelHash.shortHash(String.valueOf(is))
                        + "... now): resuming would mix two data sets; restore the original file, or start a new run "
                        + "in another --out");
            }
        });
        s.path("models").properties().forEach(e -> {
            String was = e.getValue().asText();
            String is = now.models().get(e.getKey());
            if (!was.equals(is)) {
                throw new UserException("the weights of model " + e.getKey() + " changed since the run in " + out
                        + " started (content hash " + BaseModelHash.shortHash(was) + "... then, "
                        + BaseModelHash.shortHash(String.valueOf(is)) + "... now): resume with the original model, "
                        + "or start a new run in another --out");
            }
        });
        write(out, now, "running", null);
        try {
            Files.deleteIfExists(out.resolve(FAILED));
        } catch (IOException e) {
            throw new UserException("cannot remove " + out.resolve(FAILED) + ": " + OutputPaths.why(e), e);
        }
    }

    private static String configChanges(Path out, SimConfig now, String savedFp, String nowFp) {
        try {
            SimConfig before = ConfigLoader.load(out.resolve("config.yaml"), List.of());
            List<String> diff = ConfigWriter.differences(before, now);
            if (!diff.isEmpty()) {
                return String.join("; ", diff);
            }
        } catch (UserException e) {
            // config.yaml is damaged: fall back to the fingerprints
        }
        return "fingerprint " + BaseModelHash.shortHash(savedFp) + ", now " + BaseModelHash.shortHash(nowFp);
    }

    static void finished(Path out, Identity id) {
        write(out, id, "finished", null);
    }

    /** Marks a run that failed after it started: status "failed" in state.json and a FAILED file with the reason. */
    static void failed(Path out, Identity id, Throwable cause) {
        String reason = cause instanceof UserException ? cause.getMessage()
                : cause.getClass().getSimpleName() + ": " + cause.getMessage();
        try {
            write(out, id, "failed", reason);
            Simulation.write(out.resolve(FAILED), ("This simulation stopped at " + Instant.now() + " with:\n  " + reason
                    + "\nIts checkpoints hold every completed round: fix the cause and run the same command with"
                    + " --resume,\nor delete this folder to start over.\n").getBytes(StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private static void write(Path out, Identity id, String status, String failure) {
        ObjectNode st = JSON.createObjectNode();
        st.put("version", VERSION);
        st.put("fingerprint", id.fingerprint());
        ObjectNode d = st.putObject("data_files");
        id.dataFiles().forEach(d::put);
        ObjectNode m = st.putObject("models");
        id.models().forEach(m::put);
        st.put("status", status);
        if (failure != null) {
            st.put("failure", failure);
        }
        try {
            Simulation.write(out.resolve(STATE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(st));
        } catch (IOException e) {
            throw new UserException("cannot write " + out.resolve(STATE) + ": " + OutputPaths.why(e), e);
        }
    }

    /** SHA-256 of a file's bytes, 64 hex digits. */
    static String sha256(String file) {
        return sha256(Path.of(file));
    }

    static String sha256(Path file) {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest())) {
            byte[] buf = new byte[1 << 16];
            while (in.read(buf) >= 0) {
                // digesting
            }
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (IOException e) {
            throw new UserException("cannot read " + file + ": " + OutputPaths.why(e), e);
        }
    }

    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
