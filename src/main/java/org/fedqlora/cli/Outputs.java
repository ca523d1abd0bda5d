package org.fedqlora.cli;

import org.fedqlora.OutputPaths;
import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Output files and folders: never overwrite what the user has unless asked, write atomically, and say why a
 * location cannot be written (a parent that is a file, no permission, a read-only or pseudo file system) before
 * any work starts. Commands call {@code check*} first and create outputs only once their inputs are validated.
 */
public final class Outputs {
    private Outputs() {
    }

    /** Fails if {@code file} exists and {@code overwrite} is false, or if it could not be written. */
    public static void checkFile(Path file, boolean overwrite) {
        if (Files.isDirectory(file)) {
            throw new UserException(file + " is a folder; --out wants a file path");
        }
        if (Files.exists(file) && !overwrite) {
            throw new UserException(file + " already exists; pass --overwrite to replace it, or choose another --out");
        }
        checkWritable(file.toAbsolutePath().getParent(), file);
    }

    /** Fails if {@code dir} is a file, exists and is not empty (unless {@code overwrite}), or cannot be written. */
    public static void checkDir(Path dir, boolean overwrite) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new UserException(dir + " is a file; --out wants a folder");
        }
        if (Files.isDirectory(dir) && !overwrite) {
            try (var s = Files.list(dir)) {
                if (s.findAny().isPresent()) {
                    throw new UserException(dir + " already exists and is not empty; pass --overwrite to write "
                            + "into it (files with the same names are replaced), or choose another --out");
                }
            } catch (IOException e) {
                throw new UserException("cannot list " + dir + ": " + why(e), e);
            }
        }
        checkWritable(dir, dir);
    }

    /** {@link #checkDir}, then creates it. */
    public static void prepareDir(Path dir, boolean overwrite) {
        checkDir(dir, overwrite);
        createDirs(dir);
    }

    /** Creates {@code dir} and its parents, saying why it cannot. */
    public static void createDirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UserException("cannot create " + dir + ": " + why(e), e);
        }
    }

    /** Refuses a {@code target} that cannot be created or written (see {@link OutputPaths#checkWritable}). */
    public static void checkWritable(Path at, Path target) {
        OutputPaths.checkWritable(at, target);
    }

    /** The reason of an I/O failure in words (see {@link OutputPaths#why}). */
    public static String why(IOException e) {
        return OutputPaths.why(e);
    }

    /** Writes text to a temporary file beside {@code file}, then renames it into place. */
    public static void writeAtomically(Path file, byte[] content) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
            try {
                Files.write(tmp, content);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UserException("cannot write " + file + ": " + why(e), e);
        }
    }
}
