package org.fedqlora.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the CLI in-process and checks the contract for bad input: exit 2, one error line, nothing changed. */
final class Cli {
    private Cli() {
    }

    record Result(int code, String out, String err) {
        /** The lines of stderr that start with "error: ". */
        List<String> errorLines() {
            return err.lines().filter(l -> l.startsWith("error: ")).toList();
        }
    }

    static Result run(String... args) {
        PrintStream oldErr = System.err;
        PrintStream oldOut = System.out;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(oldErr);
            System.setOut(oldOut);
        }
    }

    /**
     * Asserts a user error: exit code 2, exactly one "error: ..." line containing every fragment, no stack trace,
     * and returns that line.
     */
    static String assertUserError(Result r, String... fragments) {
        assertThat(r.code()).as("exit code; stderr:%n%s", r.err()).isEqualTo(2);
        assertThat(r.err()).as("stderr").doesNotContain("\tat ").doesNotContain("internal error")
                .doesNotContain("Exception").doesNotContain("[Source:");
        assertThat(r.errorLines()).as("error lines in stderr:%n%s", r.err()).hasSize(1);
        String line = r.errorLines().get(0);
        for (String f : fragments) {
            assertThat(line).contains(f);
        }
        return line;
    }

    /** Every regular file under {@code root} (relative path → SHA-256), to show nothing was changed or added. */
    static Map<String, String> snapshot(Path root) {
        Map<String, String> files = new TreeMap<>();
        if (!Files.exists(root)) {
            return files;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                files.put(root.relativize(p).toString(), HexFormat.of().formatHex(md.digest(Files.readAllBytes(p))));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return files;
    }
}
