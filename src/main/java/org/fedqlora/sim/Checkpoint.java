package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.Jsons;
import org.fedqlora.OutputPaths;
import org.fedqlora.UserException;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The checkpoint of one method in one run, rewritten after every round:
 * <pre>
 * progress.json                  {"round": k, "finished": bool, ...the method's records so far}  (written last)
 * global-k.safetensors           the global parameters after round k
 * strategy-k.safetensors         the server optimizer's state (FedAvgM/FedAdam moments)
 * client-i-k.safetensors         client i's persistent state (private QA adapter, last local LoRA, own model)
 * </pre>
 * Tensor files carry the round in their name and progress.json is replaced atomically after them, so a crash at
 * any point leaves a consistent checkpoint of the last completed round. progress.json lists the SHA-256 of every
 * tensor file ("files") and carries the SHA-256 of its own compact JSON without that field ("sha256"); resuming
 * verifies both, so a flipped value in any checkpoint file is refused instead of silently continuing.
 */
final class Checkpoint {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String RECOVERY_HINT = "restore the folder from a backup, or delete %s to redo this method "
            + "from round 1 (then --resume)";
    private final Path dir;
    /** SHA-256 of every tensor file of the saved round, from progress.json (empty for old checkpoints). */
    private final Map<String, String> checksums = new LinkedHashMap<>();

    Checkpoint(Path dir) {
        this.dir = dir;
    }

    private String recovery() {
        return String.format(RECOVERY_HINT, dir);
    }

    /**
     * The saved progress, or null if nothing was saved. Verifies progress.json's own checksum and its fields;
     * the tensor files are verified against the checksums it lists when they are read.
     */
    JsonNode progress() {
        Path p = dir.resolve("progress.json");
        if (!Files.isRegularFile(p)) {
            return null;
        }
        JsonNode n = Jsons.readObject(p, "a checkpoint's progress", recovery());
        if (!n.path("sha256").isTextual()) {
            throw new UserException(p + " has no checksum ('sha256'): it was edited, or written by a fedqlora without "
                    + "checkpoint checksums, and cannot be trusted; " + recovery());
        }
        ObjectNode body = ((ObjectNode) n).deepCopy();
        String want = body.remove("sha256").asText();
        if (!want.equals(sha256(canonical(body)))) {
            throw new UserException(p + " does not match its checksum: it was changed or damaged after it was "
                    + "written; " + recovery());
        }
        int round = (int) Jsons.requireLong(n, "round", 1, Integer.MAX_VALUE, p, recovery());
        Jsons.requireArray(n, "records", p, recovery());
        Jsons.requireArray(n, "lines", p, recovery());
        Jsons.requireLong(n, "bytes_up", 0, Long.MAX_VALUE, p, recovery());
        Jsons.requireLong(n, "bytes_down", 0, Long.MAX_VALUE, p, recovery());
        if (!n.path("seconds").isNumber()) {
            throw new UserException(p + ": 'seconds' should be a number; " + recovery());
        }
        checksums.clear();
        n.path("files").properties().forEach(e -> checksums.put(e.getKey(), e.getValue().asText()));
        for (String f : checksums.keySet()) {
            if (!f.endsWith("-" + round + ".safetensors")) {
                throw new UserException(p + " lists " + f + " for round " + round + ": the checkpoint is inconsistent; "
                        + recovery());
            }
        }
        return n;
    }

    void save(int round, ObjectNode progress, Map<String, HostTensor> global, Map<String, HostTensor> strategy,
              Map<Integer, Map<String, HostTensor>> clients) {
        try {
            Files.createDirectories(dir);
            ObjectNode files = JSON.createObjectNode();
            write(dir.resolve("global-" + round + ".safetensors"), global, files);
            write(dir.resolve("strategy-" + round + ".safetensors"), strategy, files);
            for (var e : clients.entrySet()) {
                write(dir.resolve("client-" + e.getKey() + "-" + round + ".safetensors"), e.getValue(), files);
            }
            progress.put("round", round);
            progress.set("files", files);
            progress.remove("sha256");
            progress.put("sha256", sha256(canonical(progress)));
            Path tmp = Files.createTempFile(dir, ".progress", ".tmp");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(progress));
            Files.move(tmp, dir.resolve("progress.json"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            deleteOlderThan(round);
        } catch (IOException e) {
            throw new UserException("cannot write the checkpoint in " + dir + ": " + OutputPaths.why(e), e);
        }
    }

    Map<String, HostTensor> global(int round) {
        return read(dir.resolve("global-" + round + ".safetensors"));
    }

    Map<String, HostTensor> strategy(int round) {
        return read(dir.resolve("strategy-" + round + ".safetensors"));
    }

    Map<String, HostTensor> client(int index, int round) {
        Path p = dir.resolve("client-" + index + "-" + round + ".safetensors");
        if (!Files.isRegularFile(p) && checksums.containsKey(p.getFileName().toString())) {
            throw new UserException("checkpoint file " + p + " is missing: the checkpoint is incomplete; " + recovery());
        }
        return Files.isRegularFile(p) ? read(p) : Map.of();
    }

    private static void write(Path file, Map<String, HostTensor> tensors, ObjectNode checksums) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        tensors.forEach(w::put);
        w.write(file);
        checksums.put(file.getFileName().toString(), RunState.sha256(file));
    }

    private Map<String, HostTensor> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UserException("checkpoint file " + file + " is missing: the checkpoint is incomplete; "
                    + recovery());
        }
        String want = checksums.get(file.getFileName().toString());
        if (want != null && !want.equals(RunState.sha256(file))) {
            throw new UserException("checkpoint file " + file + " does not match its SHA-256 in "
                    + dir.resolve("progress.json") + ": it was changed or damaged after it was written; " + recovery());
        }
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        f.names().forEach(n -> out.put(n, copy(f.get(n))));
        return out;
    }

    /**
     * The compact JSON of a tree as read back from text: what progress.json's checksum covers. Going through text
     * once makes the in-memory tree (float nodes, ints) and the one parsed on resume serialize identically.
     */
    private static byte[] canonical(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(JSON.readTree(JSON.writeValueAsBytes(n)));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String sha256(byte[] bytes) {
        return java.util.HexFormat.of().formatHex(RunState.digest().digest(bytes));
    }

    /** Copies out of the memory mapping, so the file can be deleted while the tensor lives on. */
    private static HostTensor copy(HostTensor t) {
        return HostTensor.ofBytes(t.dtype(), t.toBytes(), t.shape());
    }

    private void deleteOlderThan(int round) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.endsWith(".safetensors")) {
                    String stem = n.substring(0, n.length() - ".safetensors".length());
                    try {
                        int r = Integer.parseInt(stem.substring(stem.lastIndexOf('-') + 1));
                        if (r < round) {
                            Files.delete(p);
                        }
                    } catch (NumberFormatException e) {
                        // not a checkpoint file of ours: leave it
                    }
                }
            }
        }
    }
}
