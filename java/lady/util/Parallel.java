package lady.util;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

import lady.LadyException;

/**
 * Lady's thread count (the CLI's {@code --threads}, the {@code lady.threads} property, {@code LADY_THREADS}) and
 * the one way Java code runs a loop on it.
 *
 * <p>A Java parallel stream started from an ordinary thread runs on the JVM's common pool, which has a worker
 * per processor but one: on two cores {@code --threads 1} would still use both. Every parallel loop of Lady goes
 * through {@link #forEach}, which runs inline (in order, on the calling thread) for one thread and otherwise in a
 * pool of exactly {@link #threads()} workers.
 */
public final class Parallel {
    private Parallel() {
    }

    /** Threads per processor that {@link #maxThreads()} allows (oversubscription beyond that only slows down). */
    public static final int MAX_THREADS_PER_PROCESSOR = 4;

    /** The most threads Lady accepts: {@link #MAX_THREADS_PER_PROCESSOR} x the processors of this machine (a
     * thread count of 100000 made libtorch's first parallel region hang). */
    public static int maxThreads() {
        return MAX_THREADS_PER_PROCESSOR * Runtime.getRuntime().availableProcessors();
    }

    /** {@code n} if it is a usable thread count (1 to {@link #maxThreads()}), else a USAGE error naming {@code source}. */
    public static int checkThreads(long n, String source) {
        if (n < 1 || n > maxThreads()) {
            int cpus = Runtime.getRuntime().availableProcessors();
            throw new LadyException(LadyException.Kind.USAGE, source + " must be between 1 and " + maxThreads() + " ("
                    + MAX_THREADS_PER_PROCESSOR + " x the " + cpus + " processor" + (cpus == 1 ? "" : "s")
                    + " of this machine), got " + n);
        }
        return (int) n;
    }

    /** Threads for libtorch, the CPU kernels and Java loops: the {@code lady.threads} property, else
     * {@code LADY_THREADS}, else every processor. */
    public static int threads() {
        Long n = Settings.integer("lady.threads", "LADY_THREADS", "a positive integer");
        return n != null ? checkThreads(n, "lady.threads / LADY_THREADS") : Runtime.getRuntime().availableProcessors();
    }

    /** The body of {@link #forParts}: part {@code part} covers [from, to). */
    public interface PartBody {
        void run(int part, long from, long to);
    }

    /**
     * Runs {@code body} over [0, total) cut into {@code parts} contiguous parts (part p: [total p / parts,
     * total (p + 1) / parts)), one task each, on {@link #threads()} threads ({@link #forEach}): the parts depend on
     * {@code total} and {@code parts} only, so per-part sums added in part order do not depend on the thread count.
     */
    public static void forParts(long total, int parts, PartBody body) {
        forEach(parts, p -> body.run(p, total * p / parts, total * (p + 1) / parts));
    }

    /** Runs {@code body(i)} for every i in [0, count) on {@link #threads()} threads. */
    public static void forEach(int count, IntConsumer body) {
        forEach(threads(), count, body);
    }

    /**
     * Runs {@code body(i)} for every i in [0, count) on {@code threads} threads: in order on the calling thread
     * when there is one thread (or one item), else as a parallel stream in a pool of {@code threads} workers
     * while the caller waits (called from one of that pool's workers, on the same pool). The bodies must write
     * disjoint results; a body's unchecked exception is thrown here.
     */
    public static void forEach(int threads, int count, IntConsumer body) {
        if (threads <= 1 || count <= 1) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        ForkJoinPool p = pool(threads);
        if (Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == p) {
            IntStream.range(0, count).parallel().forEach(body); // nested: runs in the current pool
            return;
        }
        await(p.submit(() -> IntStream.range(0, count).parallel().forEach(body)), "a worker");
    }

    /**
     * The result of {@code future}, waiting for it: what it threw is rethrown as it was (a {@link RuntimeException}
     * such as a {@link LadyException}, or an {@link Error}), anything else and an interruption become an INTERNAL
     * error naming {@code what} ran ("a worker", "batch assembly").
     */
    public static <T> T await(java.util.concurrent.Future<T> future, String what) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LadyException(LadyException.Kind.INTERNAL, "interrupted while waiting for " + what, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new LadyException(LadyException.Kind.INTERNAL, what + " failed: " + e.getCause(), e.getCause());
        }
    }

    private static ForkJoinPool pool;

    /** A fork-join pool of {@code threads} workers (kept while the count stays the same). */
    private static synchronized ForkJoinPool pool(int threads) {
        if (pool == null || pool.getParallelism() != threads) {
            if (pool != null) {
                pool.shutdown();
            }
            pool = new ForkJoinPool(threads);
        }
        return pool;
    }
}
