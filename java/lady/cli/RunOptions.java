package lady.cli;

import java.io.PrintWriter;
import java.util.Locale;

import picocli.CommandLine.Option;

import lady.kernels.Kernels;
import lady.progress.ProgressListener;
import lady.progress.TerminalProgress;
import lady.torch.Torch;
import lady.util.Parallel;

/**
 * Options every long-running command shares ({@code --threads}, {@code --quiet}), as one picocli mixin:
 * {@code @Mixin RunOptions run;} and {@code run.progress()} for the progress listener. {@link Main} applies
 * the thread count ({@link #applyThreads()}) before the command runs, for every command with this mixin.
 */
final class RunOptions {

    @Option(names = "--threads", paramLabel = "N", description = "Threads for libtorch and the native kernels (default: LADY_THREADS or all cores).")
    Integer threads;

    @Option(names = "--quiet", description = "No progress bar on stderr.")
    boolean quiet;

    /**
     * Sets the thread count of libtorch and of Lady's CPU kernels: {@code --threads}, else {@code LADY_THREADS}
     * (or the {@code lady.threads} property), else every core; more than {@link Parallel#maxThreads()} is refused.
     */
    void applyThreads() {
        int n = threads != null ? Parallel.checkThreads(threads, "--threads") : Parallel.threads();
        Torch.setThreads(n);
        Kernels.setThreads(n);
    }

    /**
     * A listener that prints each finished stage of a job as {@code "PREFIX: what (1.23 s)"} on {@code err}, or
     * nothing with {@code --quiet}.
     */
    ProgressListener stageLines(String prefix, PrintWriter err) {
        if (quiet) {
            return ProgressListener.NONE;
        }
        return ProgressListener.stages((what, seconds) -> {
            err.printf(Locale.ROOT, "%s: %s (%.2f s)%n", prefix, what, seconds);
            err.flush();
        });
    }

    /** A progress bar on stderr, or nothing with {@code --quiet}. */
    ProgressListener progress() {
        return quiet ? ProgressListener.NONE : TerminalProgress.stderr();
    }
}
