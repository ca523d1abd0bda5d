package org.fedqlora;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Why an output location cannot be written, said before any work starts (used by the CLI and the simulation). */
public final class OutputPaths {
    private static final List<String> PSEUDO_FS = List.of("proc", "sysfs", "devtmpfs", "cgroup", "cgroup2", "debugfs",
            "securityfs", "tracefs", "configfs", "fusectl", "pstore", "bpf");

    private OutputPaths() {
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

}
