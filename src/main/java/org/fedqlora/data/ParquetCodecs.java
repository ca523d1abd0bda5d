package org.fedqlora.data;

import io.airlift.compress.Decompressor;
import io.airlift.compress.MalformedInputException;
import io.airlift.compress.lz4.Lz4Decompressor;
import io.airlift.compress.snappy.SnappyDecompressor;
import io.airlift.compress.zstd.ZstdDecompressor;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.zip.GZIPInputStream;

/**
 * Decompresses Parquet pages in pure Java (aircompressor and java.util.zip) instead of through Hadoop's codec
 * machinery, which would need a Hadoop configuration and native libraries. Reads UNCOMPRESSED, SNAPPY (what
 * HuggingFace and pyarrow write by default), ZSTD, GZIP and LZ4_RAW pages. It never compresses: fedqlora only reads
 * Parquet.
 */
final class ParquetCodecs implements CompressionCodecFactory {
    @Override
    public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
        return switch (codec) {
            case UNCOMPRESSED -> new Raw(null);
            case SNAPPY -> new Raw(new SnappyDecompressor());
            case ZSTD -> new Raw(new ZstdDecompressor());
            case LZ4_RAW -> new Raw(new Lz4Decompressor());
            case GZIP -> new Gzip();
            default -> throw new DataException("the Parquet file is compressed with " + codec + ", which fedqlora "
                    + "cannot read; rewrite it with snappy, zstd or gzip (e.g. pyarrow.parquet.write_table(table, "
                    + "path, compression='snappy'))");
        };
    }

    @Override
    public BytesInputCompressor getCompressor(CompressionCodecName codec) {
        throw new UnsupportedOperationException("fedqlora reads Parquet files but does not write them");
    }

    @Override
    public void release() {
    }

    /** A page codec that turns compressed bytes into exactly {@code uncompressedSize} bytes. */
    private abstract static class PageDecompressor implements BytesInputDecompressor {
        abstract byte[] decompress(byte[] compressed, int uncompressedSize) throws IOException;

        @Override
        public BytesInput decompress(BytesInput bytes, int uncompressedSize) throws IOException {
            return BytesInput.from(decompress(bytes.toInputStream().readAllBytes(), uncompressedSize));
        }

        @Override
        public void decompress(ByteBuffer input, int compressedSize, ByteBuffer output, int uncompressedSize)
                throws IOException {
            byte[] compressed = new byte[compressedSize];
            input.duplicate().get(compressed);
            output.put(decompress(compressed, uncompressedSize));
        }

        @Override
        public void release() {
        }
    }

    /** Raw block codecs; a null decompressor means the page is stored uncompressed. */
    private static final class Raw extends PageDecompressor {
        private final Decompressor codec;

        Raw(Decompressor codec) {
            this.codec = codec;
        }

        @Override
        byte[] decompress(byte[] compressed, int uncompressedSize) throws IOException {
            if (codec == null) {
                return compressed;
            }
            byte[] out = new byte[uncompressedSize];
            try {
                int n = codec.decompress(compressed, 0, compressed.length, out, 0, out.length);
                if (n != uncompressedSize) {
                    throw new IOException("a page decompressed to " + n + " bytes, expected " + uncompressedSize);
                }
            } catch (MalformedInputException e) {
                throw new IOException("a page is corrupt: " + e.getMessage(), e);
            }
            return out;
        }
    }

    private static final class Gzip extends PageDecompressor {
        @Override
        byte[] decompress(byte[] compressed, int uncompressedSize) throws IOException {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(compressed))) {
                byte[] out = in.readNBytes(uncompressedSize);
                if (out.length != uncompressedSize) {
                    throw new IOException("a page decompressed to " + out.length + " bytes, expected "
                            + uncompressedSize);
                }
                return out;
            }
        }
    }
}
