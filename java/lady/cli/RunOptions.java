package lady.cli;

import picocli.CommandLine.Option;

import lady.kernels.Kernels;
import lady.progress.ProgressListener;
import lady.progress.TerminalProgress;
import lady.torch.Torch;

/**
 * Options every long-running command shares ({@code --threads}, {@code --quiet}), as one picocli mixin:
 * {@code @Mixin RunOptions run;} then {@code run.applyThreads()} before any libtorch work and
 * {@code run.progress()} for the progress listener.
 */
final class RunOptions {

    @Option(names = "--threads", paramLabel = "N", description = "Threads for libtorch and the native kernels (default: LADY_THREADS or all cores).")
    Integer threads;

    @Option(names = "--quiet", description = "No progress bar on stderr.")
    boolean quiet;

    /** Sets the thread count of libtorch and of the native kernels when {@code --threads} was given. */
    void applyThreads() {
        if (threads != null) {
            Torch.setThreads(threads);
            Kernels.setThreads(threads);
        }
    }

    /** A progress bar on stderr, or nothing with {@code --quiet}. */
    ProgressListener progress() {
        return quiet ? ProgressListener.NONE : TerminalProgress.stderr();
    }
}
