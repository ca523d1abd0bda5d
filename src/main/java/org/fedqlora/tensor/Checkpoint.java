package org.fedqlora.tensor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The safetensors weights of a HuggingFace model folder: {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json} ({"weight_map": {tensor: file}}), or, failing both, every
 * {@code *.safetensors} file in the folder.
 */
public final class Checkpoint implements TensorSource {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final Map<String, SafetensorsFile> byName;

    private Checkpoint(Path dir, Map<String, SafetensorsFile> byName) {
        this.dir = dir;
        this.byName = byName;
    }

    public static Checkpoint open(Path dir) {
        Path index = dir.resolve("model.safetensors.index.json");
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        try {
            if (Files.isRegularFile(index)) {
                JsonNode map = org.fedqlora.Jsons.readObject(index, "the index of the weight shards",
                        "restore it from the model's original download").get("weight_map");
                if (map == null || !map.isObject()) {
                    throw new SafetensorsException(index + ": has no 'weight_map' object");
                }
                Map<String, SafetensorsFile> files = new LinkedHashMap<>();
                for (var e : map.properties()) {
                    String file = e.getValue().asText();
                    SafetensorsFile f = files.computeIfAbsent(file, k -> {
                        Path p = dir.resolve(k);
                        if (!Files.isRegularFile(p)) {
                            throw new SafetensorsException(index + ": lists shard '" + k
                                    + "' which is not in " + dir + ": the download is incomplete");
                        }
                        return SafetensorsFile.open(p);
                    });
                    if (!f.has(e.getKey())) {
                        throw new SafetensorsException(index + ": says tensor '" + e.getKey() + "' is in " + file
                                + " but that shard does not hold it");
                    }
                    byName.put(e.getKey(), f);
                }
            } else {
                List<Path> files;
                Path single = dir.resolve("model.safetensors");
                if (Files.isRegularFile(single)) {
                    files = List.of(single);
                } else {
                    try (Stream<Path> s = Files.list(dir)) {
                        files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
                    }
                }
                if (files.isEmpty()) {
                    throw new SafetensorsException(dir + ": no model.safetensors (nor shards with "
                            + "model.safetensors.index.json); convert PyTorch .bin weights to safetensors first");
                }
                for (Path p : files) {
                    SafetensorsFile f = SafetensorsFile.open(p);
                    for (String n : f.names()) {
                        byName.putIfAbsent(n, f);
                    }
                }
            }
        } catch (IOException e) {
            throw new SafetensorsException(dir + ": cannot read checkpoint: " + e.getMessage(), e);
        }
        return new Checkpoint(dir, byName);
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(byName.keySet());
    }

    @Override
    public HostTensor get(String name) {
        SafetensorsFile f = byName.get(name);
        if (f == null) {
            throw new SafetensorsException(describe() + ": missing tensor '" + name + "'");
        }
        return f.get(name);
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    /** Metadata of every file, merged (safetensors metadata is per file). */
    @Override
    public Map<String, String> metadata() {
        Map<String, String> all = new LinkedHashMap<>();
        new java.util.LinkedHashSet<>(byName.values()).forEach(f -> all.putAll(f.metadata()));
        return all;
    }
}
