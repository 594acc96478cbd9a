package lady.bench;

import java.lang.management.ManagementFactory;
import java.util.Arrays;

/**
 * Repeated timing of one operation: median wall time and median process CPU time (all threads,
 * native ones included) over the repetitions. On a shared machine the CPU time says how much work
 * was done; the wall time how long it took with the cores this process got.
 *
 * @param wallSeconds median wall-clock seconds
 * @param cpuSeconds  median process CPU seconds (all threads)
 * @param reps        repetitions timed
 */
public record Measure(double wallSeconds, double cpuSeconds, int reps) {

    /** Something to time; {@link #prepare} runs before each repetition, untimed. */
    public interface Body {
        void prepare();

        void run();
    }

    /** Times {@code reps} runs of {@code body} (each after an untimed {@code prepare}). */
    public static Measure of(int reps, Body body) {
        double[] wall = new double[reps];
        double[] cpu = new double[reps];
        for (int r = 0; r < reps; r++) {
            body.prepare();
            long c0 = processCpuNanos();
            long t0 = System.nanoTime();
            body.run();
            wall[r] = (System.nanoTime() - t0) / 1e9;
            cpu[r] = (processCpuNanos() - c0) / 1e9;
        }
        return new Measure(median(wall), median(cpu), reps);
    }

    /** Times {@code reps} runs of {@code run}, nothing to prepare. */
    public static Measure of(int reps, Runnable run) {
        return of(reps, new Body() {
            @Override
            public void prepare() {}

            @Override
            public void run() {
                run.run();
            }
        });
    }

    /** The median of {@code values} (mean of the two middle ones for an even count). */
    public static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /** CPU time of the whole process (every thread) in nanoseconds, or 0 where the JVM cannot tell. */
    static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return Math.max(0, os.getProcessCpuTime());
        }
        return 0;
    }
}
