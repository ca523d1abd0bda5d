package org.fedqlora.tensor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A memory-mapped safetensors file.
 *
 * <p>Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON header
 * {@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}}},
 * then the data section; offsets are relative to the start of the data section. Tensors are read
 * lazily from the mapping, so opening a multi-GB file costs nothing until a tensor is asked for.
 */
public final class SafetensorsFile {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L * 1024 * 1024;

    /** Where one tensor lies in the file. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
    }

    private final Path path;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final MappedByteBuffer[] chunks;
    private final long dataStart;
    private static final long CHUNK = 1L << 30;

    private SafetensorsFile(Path path, Map<String, Entry> entries, Map<String, String> metadata,
                            MappedByteBuffer[] chunks, long dataStart) {
        this.path = path;
        this.entries = entries;
        this.metadata = metadata;
        this.chunks = chunks;
        this.dataStart = dataStart;
    }

    public static SafetensorsFile open(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new SafetensorsException(path + ": no such safetensors file");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(path + ": too short to be a safetensors file (" + size + " bytes)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n <= 0 || n > MAX_HEADER || 8 + n > size) {
                throw new SafetensorsException(path + ": corrupt safetensors header length " + n
                        + " (file has " + size + " bytes); is this a safetensors file?");
            }
            ByteBuffer hdr = ByteBuffer.allocate((int) n);
            ch.read(hdr, 8);
            String json = new String(hdr.array(), StandardCharsets.UTF_8);
            long dataStart = 8 + n;
            long dataLen = size - dataStart;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, json, dataLen, metadata);
            int nChunks = (int) Math.max(1, (size + CHUNK - 1) / CHUNK);
            MappedByteBuffer[] chunks = new MappedByteBuffer[nChunks];
            for (int i = 0; i < nChunks; i++) {
                long from = i * CHUNK;
                // chunks overlap so a tensor up to 1 GiB never straddles two mappings
                long len = Math.min(size - from, 2 * CHUNK);
                chunks[i] = ch.map(FileChannel.MapMode.READ_ONLY, from, Math.max(len, 0));
            }
            return new SafetensorsFile(path, entries, metadata, chunks, dataStart);
        } catch (IOException e) {
            throw new SafetensorsException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String json, long dataLen, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(path + ": header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(path + ": header is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                v.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            String where = path + ": tensor '" + name + "'";
            if (!v.has("dtype") || !v.has("shape") || !v.has("data_offsets")) {
                throw new SafetensorsException(where + " lacks dtype, shape or data_offsets");
            }
            DType dtype = DType.parse(v.get("dtype").asText(), where);
            long[] shape = new long[v.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = v.get("shape").get(i).asLong();
                if (shape[i] < 0) {
                    throw new SafetensorsException(where + " has a negative dimension");
                }
            }
            long begin = v.get("data_offsets").get(0).asLong();
            long end = v.get("data_offsets").get(1).asLong();
            long expected = HostTensor.numel(shape) * dtype.bytes;
            if (begin < 0 || end < begin || end > dataLen || end - begin != expected) {
                throw new SafetensorsException(where + " has data_offsets [" + begin + ", " + end + "] that do not fit "
                        + dtype + Arrays.toString(shape) + " (" + expected + " bytes) in a data section of "
                        + dataLen + " bytes: the file is truncated or corrupt");
            }
            entries.put(name, new Entry(name, dtype, shape, begin, end));
        }
        return entries;
    }

    public Path path() {
        return path;
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(entries.keySet());
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new SafetensorsException(path + ": no tensor named '" + name + "'");
        }
        return e;
    }

    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** A zero-copy little-endian view of the tensor's bytes in the mapping. */
    public HostTensor get(String name) {
        Entry e = entry(name);
        long abs = dataStart + e.begin();
        int chunk = (int) (abs / CHUNK);
        long len = e.end() - e.begin();
        if (len > Integer.MAX_VALUE) {
            throw new SafetensorsException(path + ": tensor '" + name + "' is larger than 2 GiB; not supported");
        }
        ByteBuffer b = chunks[chunk].duplicate();
        int pos = (int) (abs - chunk * CHUNK);
        b.position(pos).limit(pos + (int) len);
        return new HostTensor(e.dtype(), e.shape().clone(), b.slice().order(ByteOrder.LITTLE_ENDIAN));
    }

    /** Reads a tensor as float32, checking its shape. */
    public float[] floats(String name, long... expectedShape) {
        HostTensor t = get(name);
        if (expectedShape.length > 0 && !Arrays.equals(t.shape(), expectedShape)) {
            throw new SafetensorsException(path + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(expectedShape));
        }
        return t.toFloats();
    }
}
