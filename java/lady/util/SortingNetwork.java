package lady.util;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Batcher's odd-even merge sorting network, applied to many columns at once: {@link #sortColumns} sorts each
 * column of a slot-major block (slot s, column r at {@code first + s * across + r}) along its slots with the same
 * comparators for every column, so each comparator is one branch-free loop over contiguous columns (which the JIT
 * vectorizes) instead of a sort per column. The result equals {@link java.util.Arrays#sort(float[])} of each column
 * for finite values (-0.0 before 0.0, as there); NaN is not ordered.
 */
public final class SortingNetwork {
    private SortingNetwork() {}

    /** Longest column the network sorts; longer ones go to {@link java.util.Arrays#sort(float[])}. */
    public static final int MAX_LENGTH = 256;

    private static final ConcurrentHashMap<Integer, int[]> NETWORKS = new ConcurrentHashMap<>();

    /**
     * The comparators of the network for {@code n} values, as pairs (a, b) with a < b: after each, value a is the
     * smaller. Batcher's network for the next power of two, comparators reaching past n left out (as if padded with
     * values larger than any).
     */
    static int[] comparators(int n) {
        return NETWORKS.computeIfAbsent(n, SortingNetwork::build);
    }

    private static int[] build(int n) {
        int[] pairs = new int[16];
        int size = 0;
        for (int p = 1; p < n; p <<= 1) {
            for (int k = p; k >= 1; k >>= 1) {
                for (int j = k % p; j + k < n; j += 2 * k) {
                    for (int i = 0; i < Math.min(k, n - j - k); i++) {
                        if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
                            if (size == pairs.length) {
                                pairs = java.util.Arrays.copyOf(pairs, 2 * size);
                            }
                            pairs[size++] = i + j;
                            pairs[size++] = i + j + k;
                        }
                    }
                }
            }
        }
        return java.util.Arrays.copyOf(pairs, size);
    }

    /**
     * Sorts, for every column r < across, the values {@code v[first + s * across + r]}, s < len, ascending (finite
     * values; the network up to {@link #MAX_LENGTH} slots, a transposed sort per column beyond).
     */
    public static void sortColumns(float[] v, int first, int len, int across) {
        if (len <= 1 || across == 0) {
            return;
        }
        if (len > MAX_LENGTH) {
            sortColumnsOneByOne(v, first, len, across);
            return;
        }
        int[] c = comparators(len);
        for (int q = 0; q < c.length; q += 2) {
            int a = first + c[q] * across;
            int b = first + c[q + 1] * across;
            for (int r = 0; r < across; r++) {
                float x = v[a + r];
                float y = v[b + r];
                v[a + r] = Math.min(x, y);
                v[b + r] = Math.max(x, y);
            }
        }
    }

    private static void sortColumnsOneByOne(float[] v, int first, int len, int across) {
        float[] t = new float[len];
        for (int r = 0; r < across; r++) {
            for (int s = 0; s < len; s++) {
                t[s] = v[first + s * across + r];
            }
            java.util.Arrays.sort(t);
            for (int s = 0; s < len; s++) {
                v[first + s * across + r] = t[s];
            }
        }
    }
}
