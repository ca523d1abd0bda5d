package org.fedqlora.cli;

import org.fedqlora.UserException;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Output files and folders: never overwrite what the user has unless asked, write atomically, and say why a
 * location cannot be written (a parent that is a file, no permission, a read-only or pseudo file system) before
 * any work starts. Commands call {@code check*} first and create outputs only once their inputs are validated.
 */
public final class Outputs {
    private static final List<String> PSEUDO_FS = List.of("proc", "sysfs", "devtmpfs", "cgroup", "cgroup2", "debugfs",
            "securityfs", "tracefs", "configfs", "fusectl", "pstore", "bpf");

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

    /**
     * Refuses a {@code target} that cannot be created or written: checks the nearest existing folder among
     * {@code at} and its parents.
     */
    public static void checkWritable(Path at, Path target) {
        Path p = at.toAbsolutePath();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        if (p == null) {
            throw new UserException("cannot create " + target + ": none of its parent folders exists");
        }
        if (!Files.isDirectory(p)) {
            throw new UserException("cannot create " + target + ": " + p + " is a file, not a folder");
        }
        String reason = unwritable(p);
        if (reason != null) {
            throw new UserException("cannot write " + target + ": " + reason);
        }
    }

    /** Why folder {@code p} cannot be written into, or null if it can. */
    private static String unwritable(Path p) {
        try {
            FileStore store = Files.getFileStore(p);
            if (PSEUDO_FS.contains(store.type())) {
                return p + " is on the " + store.type() + " pseudo file system, which holds no user files; "
                        + "choose a folder on a disk";
            }
            if (store.isReadOnly()) {
                return p + " is on a read-only file system; choose a writable folder";
            }
        } catch (IOException e) {
            // fall through to the permission check
        }
        if (!Files.isWritable(p)) {
            return "no permission to write in " + p + "; choose a folder you own or fix its permissions";
        }
        return null;
    }

    /** The reason of an I/O failure in words ("permission denied", "read-only file system", ...). */
    public static String why(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException f) {
            return f.getFile() + " exists and is not a folder";
        }
        if (e instanceof java.nio.file.NoSuchFileException f) {
            return f.getFile() + " does not exist";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            String r = f.getReason();
            return r.substring(0, 1).toLowerCase(java.util.Locale.ROOT) + r.substring(1)
                    + (r.toLowerCase(java.util.Locale.ROOT).contains("no space") ? " (free some disk space)" : "");
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m.replaceAll("\\s*\\R\\s*", " ");
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
