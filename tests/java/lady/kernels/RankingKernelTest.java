package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.LadyException;

/** CPU ranking (argmax + second best, top-k, canonical sort) vs the reference: exactly equal. */
class RankingKernelTest {

    @Test
    void cpuEqualsReferenceExactly() {
        for (long seed = 1; seed <= 30; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(60), m = 1 + rnd.nextInt(150);
            float[] s = seed % 2 == 0 ? ResyncTestData.tied(rnd, n, m) : ResyncTestData.gaussian(rnd, n, m);
            String where = "seed " + seed + ", " + n + " x " + m + ", cpu";
            ArgmaxTop2 r = Kernels.argmaxTop2(Backend.REFERENCE, s, n, m), c = Kernels.argmaxTop2(Backend.CPU, s, n, m);
            assertArrayEquals(r.index(), c.index(), "argmax " + where);
            assertArrayEquals(r.best(), c.best(), "best " + where);
            assertArrayEquals(r.second(), c.second(), "second " + where);
            int k = 1 + rnd.nextInt(m);
            TopK tr = Kernels.topK(Backend.REFERENCE, s, n, m, k), tc = Kernels.topK(Backend.CPU, s, n, m, k);
            assertArrayEquals(tr.indices(), tc.indices(), "top-" + k + " " + where);
            assertArrayEquals(tr.values(), tc.values(), "top-" + k + " values " + where);
            assertArrayEquals(Kernels.sortDescending(Backend.REFERENCE, s),
                    Kernels.sortDescending(Backend.CPU, s), "sort " + where);
        }
    }

    @Test
    void tieRulesAndMargin() {
        float[] s = {1, 3, 3, 2, /* row 2 */ 5, 4, 0, 4};
        ArgmaxTop2 a = Kernels.argmaxTop2(Backend.CPU, s, 2, 4);
        assertArrayEquals(new int[] {1, 0}, a.index(), "ties go to the lower column");
        assertEquals(0f, a.margin(0), "the maximum repeats: margin 0");
        assertEquals(1f, a.margin(1));
        assertArrayEquals(new int[] {4, 5, 7, 1, 2, 3, 0, 6}, Kernels.sortDescending(Backend.CPU, s),
                "stable descending");
        TopK t = Kernels.topK(Backend.CPU, s, 2, 4, 2);
        assertArrayEquals(new int[] {1, 2, 0, 1}, t.indices());
        assertEquals(Float.NEGATIVE_INFINITY, Kernels.argmaxTop2(Backend.CPU, new float[] {2}, 1, 1).second()[0]);
    }

    @Test
    void invalidInputRefused() {
        LadyException e = assertThrows(LadyException.class,
                () -> Kernels.argmaxTop2(Backend.CPU, new float[] {1, Float.NaN}, 1, 2));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("column 1"), e.getMessage());
        e = assertThrows(LadyException.class, () -> Kernels.topK(Backend.CPU, new float[] {1, 2}, 1, 2, 3));
        assertTrue(e.getMessage().contains("k = 3"), e.getMessage());
        assertThrows(LadyException.class, () -> Kernels.sortDescending(Backend.CPU, new float[] {Float.NaN}));
        // the native check behind the address form names the problem too
        try (org.bytedeco.javacpp.FloatPointer p = new org.bytedeco.javacpp.FloatPointer(1f, Float.NaN);
                org.bytedeco.javacpp.IntPointer o = new org.bytedeco.javacpp.IntPointer(2L)) {
            e = assertThrows(LadyException.class,
                    () -> Kernels.sortDescending(Backend.CPU, p.address(), 2, o.address()));
            assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
            assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        }
    }
}
