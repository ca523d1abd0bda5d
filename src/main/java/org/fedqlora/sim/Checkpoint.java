package org.fedqlora.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.fedqlora.UserException;
import org.fedqlora.tensor.HostTensor;
import org.fedqlora.tensor.SafetensorsFile;
import org.fedqlora.tensor.SafetensorsWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
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
 * any point leaves a consistent checkpoint of the last completed round.
 */
final class Checkpoint {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;

    Checkpoint(Path dir) {
        this.dir = dir;
    }

    /** The saved progress, or null if nothing was saved. */
    JsonNode progress() {
        Path p = dir.resolve("progress.json");
        if (!Files.isRegularFile(p)) {
            return null;
        }
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UserException(p + " is unreadable (" + e.getMessage() + "): the checkpoint is damaged; "
                    + "delete " + dir + " to redo this method", e);
        }
    }

    void save(int round, ObjectNode progress, Map<String, HostTensor> global, Map<String, HostTensor> strategy,
              Map<Integer, Map<String, HostTensor>> clients) {
        try {
            Files.createDirectories(dir);
            write(dir.resolve("global-" + round + ".safetensors"), global);
            write(dir.resolve("strategy-" + round + ".safetensors"), strategy);
            for (var e : clients.entrySet()) {
                write(dir.resolve("client-" + e.getKey() + "-" + round + ".safetensors"), e.getValue());
            }
            progress.put("round", round);
            Path tmp = Files.createTempFile(dir, ".progress", ".tmp");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(progress));
            Files.move(tmp, dir.resolve("progress.json"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            deleteOlderThan(round);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint in " + dir, e);
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
        return Files.isRegularFile(p) ? read(p) : Map.of();
    }

    private static void write(Path file, Map<String, HostTensor> tensors) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        tensors.forEach(w::put);
        w.write(file);
    }

    private Map<String, HostTensor> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UserException("checkpoint file " + file + " is missing: the checkpoint is incomplete; delete "
                    + dir + " to redo this method");
        }
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        f.names().forEach(n -> out.put(n, copy(f.get(n))));
        return out;
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
                    int r = Integer.parseInt(stem.substring(stem.lastIndexOf('-') + 1));
                    if (r < round) {
                        Files.delete(p);
                    }
                }
            }
        }
    }
}
