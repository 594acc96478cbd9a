package lady.progress;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A progress bar for the CLI, on stderr:
 * {@code train epoch 1/3 [#########-----------]  4200/8495 img  312 img/s  ETA 0:14  loss=0.532}.
 * On a terminal the line is redrawn in place ({@code \r}, at most 10 times a second); otherwise
 * (a pipe, a CI log) one full line is printed every {@link #LOG_INTERVAL_SECONDS} seconds and at
 * the end, so logs stay readable. Thread-safe.
 */
public final class TerminalProgress implements ProgressListener {
    /** Seconds between two lines when the output is not a terminal. */
    public static final double LOG_INTERVAL_SECONDS = 5.0;
    private static final double REDRAW_INTERVAL_SECONDS = 0.1;
    private static final int BAR_WIDTH = 24;

    private final PrintStream out;
    private final boolean tty;
    private final LongSupplier nanoClock;

    private String task = "";
    private long total;
    private String unit = "";
    private long done;
    private long startNanos;
    private long lastDrawNanos;
    private int lastLength;
    private boolean active;
    private final Map<String, Object> metrics = new LinkedHashMap<>();

    /**
     * @param out       where to draw (stderr in the CLI)
     * @param tty       redraw in place ({@code true}) or print periodic lines ({@code false})
     * @param nanoClock a monotonic clock in nanoseconds ({@code System::nanoTime}; tests pass a fake)
     */
    public TerminalProgress(PrintStream out, boolean tty, LongSupplier nanoClock) {
        this.out = out;
        this.tty = tty;
        this.nanoClock = nanoClock;
    }

    /** A bar on {@code System.err}, redrawn in place when the process has a terminal. */
    public static TerminalProgress stderr() {
        String term = System.getenv("TERM");
        boolean tty = System.console() != null && !"dumb".equals(term) && System.getenv("CI") == null;
        return new TerminalProgress(System.err, tty, System::nanoTime);
    }

    @Override
    public synchronized void start(String task, long total, String unit) {
        if (active) {
            finish();
        }
        this.task = task == null ? "" : task;
        this.total = Math.max(0, total);
        this.unit = unit == null ? "" : unit;
        this.done = 0;
        this.metrics.clear();
        this.startNanos = nanoClock.getAsLong();
        this.lastDrawNanos = startNanos;
        this.lastLength = 0;
        this.active = true;
        if (tty) {
            draw(startNanos);
        }
    }

    @Override
    public synchronized void advance(long units, Map<String, ?> live) {
        if (!active) {
            return;
        }
        done += units;
        if (live != null) {
            metrics.putAll(live);
        }
        long now = nanoClock.getAsLong();
        double sinceDraw = (now - lastDrawNanos) / 1e9;
        if (sinceDraw >= (tty ? REDRAW_INTERVAL_SECONDS : LOG_INTERVAL_SECONDS)) {
            draw(now);
        }
    }

    @Override
    public synchronized void finish() {
        if (!active) {
            return;
        }
        draw(nanoClock.getAsLong());
        if (tty) {
            out.print('\n');
        }
        out.flush();
        active = false;
    }

    private void draw(long now) {
        lastDrawNanos = now;
        String line = line(task, done, total, unit, (now - startNanos) / 1e9, metrics);
        if (tty) {
            StringBuilder sb = new StringBuilder("\r").append(line);
            for (int i = line.length(); i < lastLength; i++) {
                sb.append(' '); // wipe the rest of a longer previous line
            }
            lastLength = line.length();
            out.print(sb);
        } else {
            out.println(line);
        }
        out.flush();
    }

    /**
     * One progress line: task, bar (when the total is known), count/total and unit, rate, ETA
     * (when the total is known), metrics as key=value.
     */
    public static String line(String task, long done, long total, String unit, double elapsedSeconds,
            Map<String, ?> metrics) {
        StringBuilder sb = new StringBuilder(task);
        double rate = elapsedSeconds > 0 ? done / elapsedSeconds : Double.NaN;
        if (total > 0) {
            sb.append(' ').append(bar((double) done / total, BAR_WIDTH));
            sb.append("  ").append(done).append('/').append(total);
        } else {
            sb.append("  ").append(done);
        }
        if (!unit.isEmpty()) {
            sb.append(' ').append(unit);
        }
        sb.append("  ").append(formatRate(rate, unit));
        if (total > 0) {
            double eta = done >= total ? 0 : rate > 0 ? (total - done) / rate : Double.NaN;
            sb.append(done >= total ? "  in " + formatDuration(elapsedSeconds) : "  ETA " + formatDuration(eta));
        } else {
            sb.append("  ").append(formatDuration(elapsedSeconds));
        }
        if (metrics != null) {
            for (Map.Entry<String, ?> e : metrics.entrySet()) {
                sb.append("  ").append(e.getKey()).append('=').append(formatValue(e.getValue()));
            }
        }
        return sb.toString();
    }

    /** {@code [#########-----------]}: {@code fraction} (clamped to [0, 1]) of {@code width} cells. */
    public static String bar(double fraction, int width) {
        double f = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
        int filled = (int) Math.floor(f * width);
        StringBuilder sb = new StringBuilder(width + 2).append('[');
        for (int i = 0; i < width; i++) {
            sb.append(i < filled ? '#' : '-');
        }
        return sb.append(']').toString();
    }

    /** "0:05", "12:34", "1:02:05"; "--:--" when unknown (NaN, infinite or negative). */
    public static String formatDuration(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds) || seconds < 0) {
            return "--:--";
        }
        long s = Math.round(seconds);
        long h = s / 3600;
        long m = (s % 3600) / 60;
        long sec = s % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec)
                : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }

    /** "312 img/s", "12.3 img/s", "0.50 img/s", "12.3k img/s", "4.56M img/s"; "- img/s" when unknown. */
    public static String formatRate(double perSecond, String unit) {
        String u = (unit == null || unit.isEmpty() ? "" : " " + unit) + "/s";
        if (Double.isNaN(perSecond) || Double.isInfinite(perSecond) || perSecond < 0) {
            return "-" + u;
        }
        return compact(perSecond) + u;
    }

    private static String compact(double v) {
        String suffix = "";
        if (v >= 1e6) {
            v /= 1e6;
            suffix = "M";
        } else if (v >= 1e4) {
            v /= 1e3;
            suffix = "k";
        }
        String digits = v >= 100 ? String.format(Locale.ROOT, "%.0f", v)
                : v >= 10 ? String.format(Locale.ROOT, "%.1f", v) : String.format(Locale.ROOT, "%.2f", v);
        return digits + suffix;
    }

    /** Numbers with 4 significant digits ("0.5321", "12.35", "1.235e+04"), the rest as text. */
    public static String formatValue(Object v) {
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                return String.valueOf(d);
            }
            double a = Math.abs(d);
            if (a != 0 && (a >= 1e5 || a < 1e-3)) {
                return String.format(Locale.ROOT, "%.3e", d);
            }
            String s = new java.math.BigDecimal(d).round(new java.math.MathContext(4)).stripTrailingZeros()
                    .toPlainString();
            return s;
        }
        return String.valueOf(v);
    }
}
