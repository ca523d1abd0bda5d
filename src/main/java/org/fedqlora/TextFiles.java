package org.fedqlora;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Text inputs must be UTF-8: one streaming pass finds the first bad byte, reported with its line and offset. */
public final class TextFiles {
    private TextFiles() {
    }

    /**
     * Refuses a file that is not valid UTF-8, naming the file, the line (1-based), the byte offset (0-based) and
     * the offending byte, e.g. {@code data.csv line 3 (byte offset 41): byte 0xE9 is not valid UTF-8; ...}.
     *
     * @param what the role of the file in the message ("--input", "the config file"), or empty
     */
    public static void requireUtf8(Path file, String what) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.allocate(1 << 16);
        CharBuffer out = CharBuffer.allocate(1 << 16);
        long consumed = 0;   // bytes before in's position 0
        long line = 1;
        try (InputStream s = Files.newInputStream(file)) {
            boolean eof = false;
            while (true) {
                if (!eof) {
                    int n = s.read(in.array(), in.position(), in.remaining());
                    if (n < 0) {
                        eof = true;
                    } else {
                        in.position(in.position() + n);
                    }
                }
                in.flip();
                int start = in.position();
                CoderResult r = dec.decode(in, out, eof);
                for (int i = start; i < in.position(); i++) {
                    if (in.get(i) == '\n') {
                        line++;
                    }
                }
                if (r.isError()) {
                    long offset = consumed + in.position();
                    int bad = in.get(in.position()) & 0xFF;
                    throw new UserException(file + (what.isEmpty() ? "" : " (" + what + ")") + " line " + line
                            + " (byte offset " + offset + "): byte 0x" + String.format("%02X", bad) + " is not valid"
                            + " UTF-8; the file must be UTF-8 text: convert it, e.g. iconv -f latin1 -t utf-8");
                }
                out.clear();
                consumed += in.position();
                in.compact();
                if (eof && in.position() == 0) {
                    return;
                }
                if (eof) {
                    // an incomplete sequence at the very end
                    dec.decode(in.flip(), out, true);
                    throw new UserException(file + (what.isEmpty() ? "" : " (" + what + ")") + " line " + line
                            + " (byte offset " + consumed + "): the file ends inside a UTF-8 character; the file must "
                            + "be UTF-8 text");
                }
            }
        } catch (IOException e) {
            throw new UserException("cannot read " + file + ": " + OutputPaths.why(e), e);
        }
    }
}
