package org.fedqlora.tensor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
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
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** The reference implementation's MAX_HEADER_SIZE (safetensors/src/tensor.rs). */
    static final long MAX_HEADER = 100_000_000L;

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
                throw new SafetensorsException(path + ": too short to be a safetensors file (" + size
                        + " bytes; it starts with an 8-byte header length): the file is truncated or not safetensors");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 0 || n > MAX_HEADER) {
                throw new SafetensorsException(path + ": header length " + Long.toUnsignedString(n)
                        + " is larger than the limit of " + MAX_HEADER + " bytes: the file is corrupt or not safetensors");
            }
            if (n < 2 || 8 + n > size) {
                throw new SafetensorsException(path + ": header length " + n + " does not fit a file of " + size
                        + " bytes (it needs 8 + header length <= file size, and at least '{}'): the file is truncated "
                        + "or not safetensors");
            }
            ByteBuffer hdr = ByteBuffer.allocate((int) n);
            readFully(ch, hdr, 8);
            long dataStart = 8 + n;
            long dataLen = size - dataStart;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, decodeUtf8(path, hdr.array()), dataLen, metadata);
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

    private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int got = ch.read(into, at);
            if (got < 0) {
                throw new IOException("unexpected end of file at byte " + at);
            }
            at += got;
        }
    }

    /** The header as text; the reference refuses a header that is not valid UTF-8 (InvalidHeader). */
    private static String decodeUtf8(Path path, byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(path + ": the header is not valid UTF-8 text: the file is corrupt or not "
                    + "safetensors");
        }
    }

    /**
     * Parses and validates the header as the reference implementation does (huggingface/safetensors,
     * safetensors/src/tensor.rs: {@code SafeTensors::read_metadata} and {@code Metadata::validate}):
     * <ul>
     * <li>header length at most {@code MAX_HEADER_SIZE} = 100,000,000 bytes ({@code HeaderTooLarge}) and within
     *     the file ({@code InvalidHeaderLength}); UTF-8 ({@code InvalidHeader}); starting with '{'
     *     ({@code InvalidHeaderStart}); valid JSON ({@code InvalidHeaderDeserialization}), here also without
     *     duplicate keys or trailing content;</li>
     * <li>{@code __metadata__} a map of string to string; every other key a tensor with a known {@code dtype},
     *     a {@code shape} of non-negative integers and {@code data_offsets} [begin, end] ({@code JsonError});</li>
     * <li>tensors sorted by offsets must be contiguous from 0: each begins where the previous ends and
     *     end &gt;= begin ({@code InvalidOffset(name)}); numel × dtype size must not overflow
     *     ({@code ValidationOverflow}) and must equal end − begin ({@code TensorInvalidInfo}); the last end is
     *     the end of the file ({@code MetadataIncompleteBuffer}).</li>
     * </ul>
     * Every message names the file and, where there is one, the tensor.
     */
    private static Map<String, Entry> parseHeader(Path path, String json, long dataLen, Map<String, String> metadata) {
        if (!json.startsWith("{")) {
            throw new SafetensorsException(path + ": the header does not start with '{': the file is corrupt or not "
                    + "safetensors");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(path + ": the header is not valid JSON (" + e.getOriginalMessage()
                    + " at character " + e.getLocation().getCharOffset() + "): the file is corrupt");
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(path + ": the header is not a JSON object");
        }
        List<Entry> byOffset = new ArrayList<>();
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(path, v, metadata);
                continue;
            }
            byOffset.add(entry(path, name, v));
        }
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long next = 0;
        String previous = null;
        for (Entry e : byOffset) {
            String where = path + ": tensor '" + e.name() + "'";
            if (e.begin() != next) {
                String what = e.begin() > next ? "leaves a gap of " + (e.begin() - next) + " bytes after "
                        : "overlaps by " + (next - e.begin()) + " bytes ";
                throw new SafetensorsException(where + " has data_offsets [" + e.begin() + ", " + e.end() + "] that "
                        + what + (previous == null ? "the start of the data section" : "tensor '" + previous
                        + "' (which ends at " + next + ")") + ": tensors must be stored back to back from offset 0; "
                        + "the file is corrupt");
            }
            long expected = byteSize(where, e.dtype(), e.shape());
            if (e.end() - e.begin() != expected) {
                throw new SafetensorsException(where + " has data_offsets [" + e.begin() + ", " + e.end() + "] ("
                        + (e.end() - e.begin()) + " bytes) but " + e.dtype() + Arrays.toString(e.shape()) + " needs "
                        + expected + " bytes: the file is corrupt");
            }
            next = e.end();
            previous = e.name();
        }
        if (next != dataLen) {
            throw new SafetensorsException(path + ": the tensors cover " + next + " bytes but the data section has "
                    + dataLen + " bytes" + (next < dataLen ? " (trailing bytes after the last tensor)"
                    : " (the file is truncated)") + ": the file is corrupt");
        }
        Map<String, Entry> byName = new java.util.HashMap<>();
        byOffset.forEach(e -> byName.put(e.name(), e));
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            if (!f.getKey().equals("__metadata__")) {
                entries.put(f.getKey(), byName.get(f.getKey()));
            }
        }
        return entries;
    }

    private static void readMetadata(Path path, JsonNode v, Map<String, String> metadata) {
        if (!v.isObject()) {
            throw new SafetensorsException(path + ": __metadata__ must be a map of string to string, got "
                    + v.getNodeType().name().toLowerCase(java.util.Locale.ROOT));
        }
        for (Map.Entry<String, JsonNode> m : v.properties()) {
            if (!m.getValue().isTextual()) {
                throw new SafetensorsException(path + ": __metadata__ value of '" + m.getKey() + "' must be a string, "
                        + "got " + m.getValue().getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " "
                        + m.getValue());
            }
            metadata.put(m.getKey(), m.getValue().asText());
        }
    }

    private static Entry entry(Path path, String name, JsonNode v) {
        String where = path + ": tensor '" + name + "'";
        if (!v.isObject() || !v.has("dtype") || !v.has("shape") || !v.has("data_offsets")) {
            throw new SafetensorsException(where + " lacks dtype, shape or data_offsets");
        }
        if (!v.get("dtype").isTextual()) {
            throw new SafetensorsException(where + ": dtype must be a string such as \"F32\", got " + v.get("dtype"));
        }
        DType dtype = DType.parse(v.get("dtype").asText(), where);
        JsonNode shapeNode = v.get("shape");
        if (!shapeNode.isArray()) {
            throw new SafetensorsException(where + ": shape must be a list of non-negative integers, got " + shapeNode);
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegative(where, "shape[" + i + "]", shapeNode.get(i));
        }
        JsonNode off = v.get("data_offsets");
        if (!off.isArray() || off.size() != 2) {
            throw new SafetensorsException(where + ": data_offsets must be [begin, end], got " + off);
        }
        long begin = nonNegative(where, "data_offsets[0]", off.get(0));
        long end = nonNegative(where, "data_offsets[1]", off.get(1));
        if (end < begin) {
            throw new SafetensorsException(where + " has data_offsets [" + begin + ", " + end + "] that end before "
                    + "they begin: the file is corrupt");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long nonNegative(String where, String what, JsonNode n) {
        if (!n.isIntegralNumber()) {
            throw new SafetensorsException(where + ": " + what + " must be a non-negative integer, got " + n);
        }
        if (!n.canConvertToLong() || n.asLong() < 0) {
            throw new SafetensorsException(where + ": " + what + " = " + n + " is "
                    + (n.canConvertToLong() ? "negative" : "too large (overflow)") + ": the file is corrupt");
        }
        return n.asLong();
    }

    /** numel × dtype size, refusing an overflow (the reference's ValidationOverflow). */
    private static long byteSize(String where, DType dtype, long[] shape) {
        try {
            return Math.multiplyExact(HostTensor.numel(shape), (long) dtype.bytes);
        } catch (ArithmeticException e) {
            throw new SafetensorsException(where + ": shape " + Arrays.toString(shape) + " of " + dtype
                    + " overflows 64 bits: the file is corrupt");
        }
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
