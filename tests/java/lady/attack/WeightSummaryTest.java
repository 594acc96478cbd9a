package lady.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** {@link WeightSummary#distinct}: the bucketed count against a hash set of the values' bits. */
class WeightSummaryTest {
    /** The plain count: a set of the bits, -0 as 0 and every NaN as one (floatToIntBits). */
    private static long reference(float[] a) {
        Set<Integer> s = new HashSet<>();
        for (float v : a) {
            s.add(Float.floatToIntBits(v == 0f ? 0f : v));
        }
        return s.size();
    }

    @Test
    void countsAsTheHashSetDoes() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 20; trial++) {
            int n = r.nextInt(0, 200_000);
            int levels = trial % 2 == 0 ? 1 + r.nextInt(40) : Integer.MAX_VALUE; // quantized, or continuous
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                double g = r.nextGaussian() * 0.02;
                a[i] = levels == Integer.MAX_VALUE ? (float) g : Math.round(g * levels) / (float) levels;
            }
            assertEquals(reference(a), WeightSummary.distinct(a), "trial " + trial + ", n " + n);
        }
    }

    @Test
    void signedZerosAndNaNPayloadsCountOnceAndBucketEdgesAreKept() {
        float[] a = {0f, -0f, Float.NaN, Float.intBitsToFloat(0x7fc00001), Float.intBitsToFloat(0xffc00000),
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x3f80ffff),
            Float.intBitsToFloat(0x3f810000), Float.intBitsToFloat(0x3f80ffff), Float.MIN_VALUE, -Float.MIN_VALUE};
        assertEquals(reference(a), WeightSummary.distinct(a));
        assertEquals(8, WeightSummary.distinct(a)); // 0, NaN, +inf, -inf, two neighbours, +min, -min
        assertEquals(0, WeightSummary.distinct(new float[0]));
    }

    /**
     * The summary of a half-precision tensor read in chunks (bitmap of its bit patterns) equals the one read whole
     * (Java array, bucketed count), with zeros of both signs, NaNs of several payloads and infinities among the values.
     */
    @Test
    void streamedHalfPrecisionSummaryEqualsTheWholeOne() {
        SplittableRandom r = new SplittableRandom(5);
        for (lady.tensor.DType dtype : java.util.List.of(lady.tensor.DType.BFLOAT16, lady.tensor.DType.FLOAT16)) {
            int n = 300_000;
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (r.nextGaussian() * 0.05);
            }
            a[1] = -0f;
            a[2] = 0f;
            a[3] = Float.intBitsToFloat(0x7fc00001);
            a[4] = Float.NaN;
            a[5] = Float.NEGATIVE_INFINITY;
            lady.tensor.HostTensor t = lady.tensor.HostTensor.ofFloats(a, 600, 500).converted(dtype);
            java.util.Map<String, Object> whole = WeightSummary.of("w", t);
            assertEquals(whole, WeightSummary.of("w", lady.tensor.IndexedTensor.of(t)), dtype.toString());
            long[] p = new long[600];
            for (int i = 0; i < p.length; i++) {
                p[i] = p.length - 1 - i;
            }
            java.util.Map<String, Object> permuted = WeightSummary.of("w", lady.tensor.IndexedTensor.of(t).permuted(0, p));
            assertEquals(whole.get("distinct"), permuted.get("distinct"));
            assertEquals(whole.get("zeros"), permuted.get("zeros"));
        }
    }
}
