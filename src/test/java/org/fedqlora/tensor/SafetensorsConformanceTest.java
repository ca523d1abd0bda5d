package org.fedqlora.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The reader refuses every header the reference implementation refuses (huggingface/safetensors,
 * safetensors/src/tensor.rs, {@code read_metadata} and {@code Metadata::validate}), with a message naming the
 * file and the tensor; files are built byte by byte here so that each rule is hit alone.
 */
class SafetensorsConformanceTest {
    @TempDir
    Path dir;

    /** 8-byte little-endian length, the header text, then {@code body} bytes of data. */
    private Path file(String header, int body) throws IOException {
        return raw(header.getBytes(StandardCharsets.UTF_8), header.getBytes(StandardCharsets.UTF_8).length, body);
    }

    private Path raw(byte[] header, long declaredLength, int body) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + body).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        for (int i = 0; i < body; i++) {
            b.put((byte) i);
        }
        Path f = dir.resolve("t.safetensors");
        Files.write(f, b.array());
        return f;
    }

    private void refused(Path f, String... fragments) {
        assertThatThrownBy(() -> SafetensorsFile.open(f)).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining(f.toString())
                .satisfies(e -> {
                    for (String s : fragments) {
                        assertThat(e.getMessage()).contains(s);
                    }
                    assertThat(e.getMessage()).doesNotContain("\n");
                });
    }

    @Test
    void overlappingOffsetsAreRefusedNamingTheTensor() throws IOException {
        // b reads a's bytes: the bug the issue found (silently wrong weights)
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        refused(f, "tensor 'b'", "overlaps by 4 bytes", "tensor 'a'");
    }

    @Test
    void twoTensorsOnTheSameBytesAreRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        refused(f, "overlaps by 8 bytes");
    }

    @Test
    void aGapBetweenTensorsIsRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
        refused(f, "tensor 'b'", "gap of 4 bytes", "after tensor 'a'");
    }

    @Test
    void aFirstTensorNotAtOffsetZeroIsRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4);
        refused(f, "tensor 'a'", "gap of 2 bytes after the start of the data section");
    }

    @Test
    void trailingBytesAfterTheLastTensorAreRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6);
        refused(f, "cover 4 bytes but the data section has 6", "trailing bytes");
    }

    @Test
    void aTruncatedBodyIsRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10);
        refused(f, "cover 16 bytes but the data section has 10", "truncated");
    }

    @Test
    void shapeTimesDtypeMustEqualTheByteLength() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        refused(f, "tensor 'a'", "(8 bytes) but F32[3] needs 12 bytes");
    }

    @Test
    void endBeforeBeginIsRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4);
        refused(f, "tensor 'a'", "end before they begin");
    }

    @Test
    void anOverflowingShapeIsRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
        refused(f, "tensor 'a'", "overflows");
    }

    @Test
    void offsetsBeyondSixtyFourBitsAreRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999999]}}", 1);
        refused(f, "tensor 'a'", "data_offsets[1]", "too large");
    }

    @Test
    void negativeOrFractionalDimensionsAreRefused() throws IOException {
        refused(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0), "shape[0]", "negative");
        refused(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,0]}}", 0), "shape[0]",
                "non-negative integer");
        refused(file("{\"a\":{\"dtype\":\"U8\",\"shape\":\"2\",\"data_offsets\":[0,2]}}", 2), "shape must be a list");
    }

    @Test
    void anUnknownDtypeIsRefusedWithTheSupportedOnes() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        refused(f, "tensor 'a'", "unsupported dtype 'F33'", "F32");
    }

    @Test
    void dataOffsetsMustBeAPair() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1);
        refused(f, "tensor 'a'", "data_offsets must be [begin, end]");
    }

    @Test
    void metadataMustMapStringsToStrings() throws IOException {
        refused(file("{\"__metadata__\":{\"format\":1}}", 0), "__metadata__ value of 'format' must be a string");
        refused(file("{\"__metadata__\":[\"x\"]}", 0), "__metadata__ must be a map of string to string");
    }

    @Test
    void aHeaderLargerThanTheReferenceLimitIsRefused() throws IOException {
        Path f = raw("{}".getBytes(StandardCharsets.UTF_8), SafetensorsFile.MAX_HEADER + 1, 0);
        refused(f, "larger than the limit of 100000000 bytes");
    }

    @Test
    void aHeaderLengthBeyondTheFileIsRefused() throws IOException {
        Path f = raw("{}".getBytes(StandardCharsets.UTF_8), 4000, 0);
        refused(f, "header length 4000 does not fit a file of 10 bytes");
    }

    @Test
    void aHeaderThatIsNotUtf8IsRefused() throws IOException {
        byte[] h = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        refused(raw(h, h.length, 0), "not valid UTF-8");
    }

    @Test
    void aHeaderThatIsNotJsonOrNotAnObjectIsRefused() throws IOException {
        refused(file("{\"a\": ", 0), "not valid JSON");
        refused(file("[1, 2]  ", 0), "does not start with '{'");
        refused(file("{} {}", 0), "not valid JSON");
    }

    @Test
    void aTensorNamedTwiceIsRefused() throws IOException {
        Path f = file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);
        refused(f, "not valid JSON", "Duplicate field 'a'");
    }

    @Test
    void headerOrderMayDifferFromOffsetOrderAsInTheReference() throws IOException {
        Path f = file("{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}    ", 4);

        SafetensorsFile s = SafetensorsFile.open(f);

        assertThat(s.names()).containsExactly("b", "a");
        assertThat(s.get("a").toLongs()).containsExactly(0, 1);
        assertThat(s.get("b").toLongs()).containsExactly(2, 3);
    }

    @Test
    void anEmptyFileOfTensorsAndEmptyTensorsAreValid() throws IOException {
        assertThat(SafetensorsFile.open(file("{}      ", 0)).names()).isEmpty();
        SafetensorsFile s = SafetensorsFile.open(file("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        assertThat(s.get("e").numel()).isZero();
        assertThat(s.get("a").toLongs()).containsExactly(0);
    }
}
