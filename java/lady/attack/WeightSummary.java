package lady.attack;

import java.util.LinkedHashMap;
import java.util.Map;

import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

/** What an attack left in a weight: its entries, zeros, distinct values and spread (lady attack's report). */
public final class WeightSummary {
    private WeightSummary() {}

    /**
     * Entries, zeros, distinct values and population std of a float tensor, as the JSON object {@code lady attack}
     * prints per changed weight: name, entries, zeros, distinct, std. A bfloat16 or float16 tensor is read in
     * chunks (its distinct values marked in a bitmap of its 2^16 bit patterns), whatever its size, lazy index
     * maps and value change included; a float32 one is gathered and read whole ({@link #distinct}).
     */
    public static Map<String, Object> of(String name, IndexedTensor t) {
        DType d = t.dtype();
        if (d != DType.BFLOAT16 && d != DType.FLOAT16) {
            return of(name, t.materialize());
        }
        boolean bf16 = d == DType.BFLOAT16;
        int parts = PARTS;
        long[][] seen = new long[parts][];
        long[] zeros = new long[parts];
        double[] sum = new double[parts];
        try {
            t.streamValues(parts, part -> {
                seen[part] = new long[(1 << 16) / 64];
                long[] marks = seen[part];
                return (v, n) -> {
                    long z = 0;
                    double acc = sum[part];
                    for (int i = 0; i < n; i++) {
                        float x = v[i];
                        z += x == 0f ? 1 : 0;
                        acc += x;
                        int h = bits(x);
                        h = bf16 ? h >>> 16 : HostTensor.floatToFloat16(Float.intBitsToFloat(h)) & 0xFFFF; // exact: read from that dtype
                        marks[h >>> 6] |= 1L << h;
                    }
                    zeros[part] += z;
                    sum[part] = acc;
                };
            });
            long entries = t.numel();
            long zero = 0;
            double total = 0;
            long[] all = new long[(1 << 16) / 64];
            for (int p = 0; p < parts; p++) { // in part order: the same sums whatever the threads
                zero += zeros[p];
                total += sum[p];
                if (seen[p] != null) {
                    for (int w = 0; w < all.length; w++) {
                        all[w] |= seen[p][w];
                    }
                }
            }
            double mean = entries == 0 ? 0 : total / entries;
            double[] ss = new double[parts];
            t.streamValues(parts, part -> (v, n) -> {
                double acc = ss[part];
                for (int i = 0; i < n; i++) {
                    acc += (v[i] - mean) * (v[i] - mean);
                }
                ss[part] = acc;
            });
            double squares = 0;
            for (double x : ss) {
                squares += x;
            }
            long distinct = 0;
            for (long w : all) {
                distinct += Long.bitCount(w);
            }
            return summary(name, entries, zero, distinct, entries == 0 ? 0.0 : Math.sqrt(squares / entries));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // the sinks above do no IO
        }
    }

    /** Parts a half-precision tensor is read in, on the threads: fixed, so the sums do not depend on the thread count. */
    static final int PARTS = 8;

    /**
     * Entries, zeros, distinct values and population std of a float tensor (read whole into a Java array), as
     * {@link #of(String, IndexedTensor)}.
     */
    public static Map<String, Object> of(String name, HostTensor t) {
        float[] a = t.readFloats();
        long n = a.length;
        long zeros = 0;
        double sum = 0;
        for (int p = 0; p < PARTS; p++) { // summed per part, the parts in order: the streamed path's sums, bit for bit
            double acc = 0;
            for (int i = (int) (n * p / PARTS); i < (int) (n * (p + 1) / PARTS); i++) {
                zeros += a[i] == 0f ? 1 : 0;
                acc += a[i];
            }
            sum += acc;
        }
        long distinct = distinct(a);
        double mean = n == 0 ? 0 : sum / n;
        double ss = 0;
        for (int p = 0; p < PARTS; p++) {
            double acc = 0;
            for (int i = (int) (n * p / PARTS); i < (int) (n * (p + 1) / PARTS); i++) {
                acc += (a[i] - mean) * (a[i] - mean);
            }
            ss += acc;
        }
        return summary(name, n, zeros, distinct, n == 0 ? 0.0 : Math.sqrt(ss / n));
    }

    private static Map<String, Object> summary(String name, long entries, long zeros, long distinct, double std) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("entries", entries);
        m.put("zeros", zeros);
        m.put("distinct", distinct);
        m.put("std", std);
        return m;
    }

    /**
     * Distinct values of {@code a} (-0 counted as 0, every NaN as one value): the float bits bucketed by their upper
     * 16 bits (a counting pass and a scatter of the lower 16 bits, two bytes per value), then each bucket's lower
     * halves marked in a bitmap of 65536 bits and counted. Sorting all 102 M values of VGG16's classifier.0 as ints
     * took about 10 s and most of {@code lady attack nso}'s time; the bitmap stays in cache.
     */
    static long distinct(float[] a) {
        int[] start = new int[BUCKETS + 1];
        for (float v : a) {
            start[(bits(v) >>> 16) + 1]++;
        }
        for (int b = 0; b < BUCKETS; b++) {
            start[b + 1] += start[b];
        }
        int[] next = java.util.Arrays.copyOf(start, BUCKETS);
        char[] low = new char[a.length];
        for (float v : a) {
            int x = bits(v);
            low[next[x >>> 16]++] = (char) x;
        }
        long distinct = 0;
        long[] seen = new long[(1 << 16) / 64]; // one bucket's lower halves, 8 KB: stays in cache
        for (int b = 0; b < BUCKETS; b++) {
            int from = start[b];
            int to = start[b + 1];
            if (to == from) {
                continue;
            }
            for (int i = from; i < to; i++) {
                seen[low[i] >>> 6] |= 1L << low[i];
            }
            for (int w = 0; w < seen.length; w++) {
                distinct += Long.bitCount(seen[w]);
            }
            java.util.Arrays.fill(seen, 0L);
        }
        return distinct;
    }

    /** Buckets of {@link #distinct}: one per value of the upper 16 bits of a float. */
    private static final int BUCKETS = 1 << 16;

    /** The bits a value is counted by: -0 as 0, every NaN as the canonical NaN. */
    private static int bits(float v) {
        return Float.floatToIntBits(v == 0f ? 0f : v);
    }
}
