package lady.util;

import java.util.Locale;

import lady.LadyException;

/**
 * The machine's available memory (MemAvailable), and the refusal of work that would not fit in it: a process that
 * allocates past it is killed by the system without a word, so the commands whose memory grows with the model
 * check first and answer with the sizes and what to do.
 */
public final class Memory {
    private Memory() {}

    /** MemAvailable of /proc/meminfo in bytes; 0 when unknown (other systems: no check). */
    public static long available() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return 1024 * Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /**
     * Refuses (usage error) work that needs about {@code bytes} when less is available: "{@code what}: about X GB for
     * N parameters, and this machine has Y GB available; {@code advice}".
     */
    public static void require(double bytes, long parameters, String what, String advice) {
        long available = available();
        if (available > 0 && bytes > available) {
            throw new LadyException(LadyException.Kind.USAGE, String.format(Locale.ROOT,
                    "%s: about %.1f GB for %,d parameters, and this machine has %.1f GB available; %s", what, bytes / 1e9,
                    parameters, available / 1e9, advice));
        }
    }
}
