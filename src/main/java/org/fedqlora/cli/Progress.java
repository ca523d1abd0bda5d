package org.fedqlora.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress line on stderr: redrawn in place on a terminal, printed every ~10% otherwise (logs, CI).
 * Shows done/total, rate and an ETA; callers may add a status (loss, accuracy).
 */
public final class Progress implements AutoCloseable {
    private final String label;
    private final long total;
    private final String unit;
    private final PrintStream out;
    private final boolean tty;
    private final long start = System.nanoTime();
    private long done;
    private long lastDraw;
    private int lastDecile = -1;

    public Progress(String label, long total, String unit) {
        this(label, total, unit, System.err, System.console() != null);
    }

    Progress(String label, long total, String unit, PrintStream out, boolean tty) {
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.out = out;
        this.tty = tty;
    }

    public void advance(long n) {
        advance(n, "");
    }

    public void advance(long n, String status) {
        done += n;
        long now = System.nanoTime();
        int decile = total > 0 ? (int) (10 * done / total) : 0;
        if (tty ? now - lastDraw > 100_000_000L || done >= total : decile != lastDecile) {
            lastDraw = now;
            lastDecile = decile;
            draw(status);
        }
    }

    private void draw(String status) {
        double secs = (System.nanoTime() - start) / 1e9;
        double rate = done / Math.max(secs, 1e-9);
        String eta = total > 0 && rate > 0 ? String.format(Locale.ROOT, " eta %s", time((total - done) / rate)) : "";
        int width = 24;
        int filled = total > 0 ? (int) (width * Math.min(1.0, (double) done / total)) : 0;
        String bar = "#".repeat(filled) + "-".repeat(width - filled);
        String line = String.format(Locale.ROOT, "%s [%s] %d/%d %s  %s%s%s", label, bar, done, total, unit,
                speed(rate, unit), eta, status.isEmpty() ? "" : "  " + status);
        out.print(tty ? "\r" + line + "\u001b[K" : line + "\n");
        out.flush();
    }

    /** "3.2 step/s", or "45 s/round" when slower than one unit per 20 s (a rate would read 0.0). */
    static String speed(double perSecond, String unit) {
        if (perSecond > 0 && perSecond < 0.05) {
            return String.format(Locale.ROOT, "%.0f s/%s", 1 / perSecond, unit);
        }
        return String.format(Locale.ROOT, "%.1f %s/s", perSecond, unit);
    }

    static String time(double secs) {
        long s = Math.round(secs);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }

    @Override
    public void close() {
        if (tty && done > 0) {
            out.println();
        }
    }
}
