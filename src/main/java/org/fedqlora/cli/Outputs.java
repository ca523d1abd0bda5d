package org.fedqlora.cli;

import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Output files and folders: never overwrite what the user has unless asked, write atomically. */
public final class Outputs {
    private Outputs() {
    }

    /** Fails if {@code file} exists and {@code overwrite} is false. */
    public static void checkFile(Path file, boolean overwrite) {
        if (Files.isDirectory(file)) {
            throw new UserException(file + " is a folder; --out wants a file path");
        }
        if (Files.exists(file) && !overwrite) {
            throw new UserException(file + " already exists; pass --overwrite to replace it, or choose another --out");
        }
    }

    /** Fails if {@code dir} exists and is not empty, unless {@code overwrite}. Creates it otherwise. */
    public static void prepareDir(Path dir, boolean overwrite) {
        try {
            if (Files.exists(dir) && !Files.isDirectory(dir)) {
                throw new UserException(dir + " is a file; --out wants a folder");
            }
            if (Files.isDirectory(dir) && !overwrite) {
                try (var s = Files.list(dir)) {
                    if (s.findAny().isPresent()) {
                        throw new UserException(dir + " already exists and is not empty; pass --overwrite to write "
                                + "into it (files with the same names are replaced), or choose another --out");
                    }
                }
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UserException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Writes text to a temporary file beside {@code file}, then renames it into place. */
    public static void writeAtomically(Path file, byte[] content) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
            Files.write(tmp, content);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UserException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
