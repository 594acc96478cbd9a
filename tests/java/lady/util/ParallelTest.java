package lady.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import lady.LadyException;

/** {@link Parallel}: --threads bounds every Java loop (a parallel stream alone would use the common pool). */
class ParallelTest {
    private String property;

    @BeforeEach
    void save() {
        property = System.getProperty("lady.threads");
    }

    @AfterEach
    void restore() {
        if (property == null) {
            System.clearProperty("lady.threads");
        } else {
            System.setProperty("lady.threads", property);
        }
    }

    @Test
    void oneThreadRunsInOrderOnTheCallingThread() {
        System.setProperty("lady.threads", "1");
        List<Integer> seen = new ArrayList<>();
        Set<Thread> threads = ConcurrentHashMap.newKeySet();
        Parallel.forEach(1000, i -> {
            threads.add(Thread.currentThread());
            seen.add(i); // not thread-safe on purpose: one thread must be all there is
        });
        assertEquals(Set.of(Thread.currentThread()), threads);
        for (int i = 0; i < 1000; i++) {
            assertEquals(i, seen.get(i));
        }
    }

    @Test
    void twoThreadsVisitEveryIndexOnceOnTwoWorkersAtMost() {
        AtomicIntegerArray visits = new AtomicIntegerArray(10_000);
        Set<Thread> threads = ConcurrentHashMap.newKeySet();
        Parallel.forEach(2, visits.length(), i -> {
            threads.add(Thread.currentThread());
            visits.incrementAndGet(i);
            busy();
        });
        for (int i = 0; i < visits.length(); i++) {
            assertEquals(1, visits.get(i), "index " + i);
        }
        assertTrue(threads.size() <= 2, threads.size() + " threads for a count of 2");
        assertTrue(threads.stream().noneMatch(t -> t.getName().contains("commonPool")), threads.toString());
    }

    @Test
    void nestedLoopsRunOnTheSamePoolAndFinish() {
        AtomicIntegerArray visits = new AtomicIntegerArray(64 * 64);
        Parallel.forEach(2, 64, i -> Parallel.forEach(2, 64, j -> visits.incrementAndGet(i * 64 + j)));
        for (int k = 0; k < visits.length(); k++) {
            assertEquals(1, visits.get(k));
        }
    }

    @Test
    void aBodysExceptionComesOutAsItself() {
        LadyException thrown = new LadyException(LadyException.Kind.INVALID_INPUT, "row 7 is bad");
        for (int threads : new int[] {1, 2}) {
            LadyException e = assertThrows(LadyException.class, () -> Parallel.forEach(threads, 100, i -> {
                if (i == 7) {
                    throw thrown;
                }
            }));
            assertSame(thrown, e);
        }
    }

    @Test
    void theThreadCountIsReadAndBounded() {
        System.setProperty("lady.threads", "3");
        assertEquals(3, Parallel.threads());
        System.setProperty("lady.threads", Integer.toString(Parallel.maxThreads() + 1));
        LadyException e = assertThrows(LadyException.class, Parallel::threads);
        assertEquals(LadyException.Kind.USAGE, e.kind());
        System.setProperty("lady.threads", "two");
        assertEquals(LadyException.Kind.USAGE, assertThrows(LadyException.class, Parallel::threads).kind());
    }

    @Test
    void awaitRethrowsWhatTheTaskThrewAndNamesItOtherwise() {
        assertEquals(42, Parallel.await(java.util.concurrent.CompletableFuture.completedFuture(42), "x"));
        LadyException bad = LadyException.invalidInput("bad");
        assertSame(bad, assertThrows(LadyException.class,
                () -> Parallel.await(java.util.concurrent.CompletableFuture.failedFuture(bad), "x")));
        OutOfMemoryError oom = new OutOfMemoryError("test");
        assertSame(oom, assertThrows(OutOfMemoryError.class,
                () -> Parallel.await(java.util.concurrent.CompletableFuture.failedFuture(oom), "x")));
        LadyException wrapped = assertThrows(LadyException.class, () -> Parallel.await(
                java.util.concurrent.CompletableFuture.failedFuture(new java.io.IOException("disk")), "batch assembly"));
        assertEquals(LadyException.Kind.INTERNAL, wrapped.kind());
        assertTrue(wrapped.getMessage().startsWith("batch assembly failed: ") && wrapped.getMessage().contains("disk"),
                wrapped.getMessage());
    }

    private static double sink;

    /** A little work per index, so both workers take part. */
    private static void busy() {
        double s = 0;
        for (int k = 0; k < 200; k++) {
            s += Math.sqrt(k);
        }
        sink += s;
    }
}
