package lady.util;

import java.nio.charset.StandardCharsets;

/**
 * Derives independent seeds for separate purposes from one user seed, so that every random draw
 * of Lady is explicit and reproducible (architecture habit 4): the same seed and purpose always give
 * the same stream, different purposes or indices give unrelated streams.
 */
public final class Seeds {
    private Seeds() {}

    /** A seed for {@code purpose} (e.g. "shuffle", "noise") derived from {@code seed}. */
    public static long derive(long seed, String purpose) {
        long h = 0xcbf29ce484222325L; // FNV-1a 64 over the UTF-8 bytes of the purpose
        for (byte b : purpose.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix64(seed ^ mix64(h));
    }

    /** A seed for the {@code index}-th use (e.g. an epoch) of {@code purpose} under {@code seed}. */
    public static long derive(long seed, String purpose, long index) {
        return mix64(derive(seed, purpose) + 0x9E3779B97F4A7C15L * (index + 1));
    }

    /** Stafford's variant 13 of the MurmurHash3 finalizer (the mixer of SplittableRandom). */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
