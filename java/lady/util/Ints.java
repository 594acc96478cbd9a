package lady.util;

/** Integer arithmetic the permutation layouts and the kernels' tilings share. */
public final class Ints {
    private Ints() {}

    /** The greatest common divisor of {@code a} and {@code b} (Euclid; gcd(a, 0) = a). */
    public static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    /** The least common multiple of positive {@code a} and {@code b}. */
    public static long lcm(long a, long b) {
        return a / gcd(a, b) * b;
    }
}
