package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.LadyException;

/** CPU exact assignment (Jonker-Volgenant) vs the reference Hungarian: permutation, same optimum. */
class AssignKernelTest {

    static void assertOptimal(Backend backend, float[] s, int n, String where) {
        int[] ref = Kernels.assign(Backend.REFERENCE, s, n);
        int[] got = Kernels.assign(backend, s, n);
        assertTrue(ResyncTestData.isPermutation(got), where + ": not a permutation");
        double o = Kernels.objective(s, n, ref), g = Kernels.objective(s, n, got);
        double tol = Tolerances.ASSIGN_OBJECTIVE_REL_ERR * n * Math.max(1.0, Math.abs(o));
        if (backend == Backend.CUDA) {
            float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
            for (float v : s) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            double levels = Math.min(Math.floor(Tolerances.AUCTION_LEVELS_RANGE / (n + 1)), 1 << 30);
            tol += n * ((double) hi - lo) / levels;  // documented quantization bound
        }
        assertTrue(g >= o - tol && g <= o + Tolerances.ASSIGN_OBJECTIVE_REL_ERR * n * Math.max(1.0, Math.abs(o)),
                where + ": objective " + g + " vs reference " + o + " (tolerance " + tol + ")");
    }

    static void checkBackend(Backend backend, int seeds) {
        for (long seed = 1; seed <= seeds; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(100);
            String where = "seed " + seed + ", n " + n + ", " + backend;
            assertOptimal(backend, ResyncTestData.gaussian(rnd, n, n), n, "random dense " + where);
            assertOptimal(backend, ResyncTestData.tied(rnd, n, n), n, "ties " + where);
            assertOptimal(backend, ResyncTestData.nearPermutation(rnd, n, 24, 1.5, new int[n]), n,
                    "near permutation " + where);
        }
    }

    @Test
    void cpuIsOptimalPermutation() {
        checkBackend(Backend.CPU, 40);
    }

    /**
     * A matrix uploaded once serves the row maxima and the assignment with the same answers as the two calls that copy
     * it each; a NaN is refused on upload, an infinite value by the assignment only (as before).
     */
    @Test
    void oneUploadServesBothKernels() {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 37;
        float[] s = ResyncTestData.gaussian(rnd, n, n);
        try (Kernels.Uploaded u = Kernels.upload("matrix", s, n, n)) {
            ArgmaxTop2 top = u.argmaxTop2(Backend.CPU);
            ArgmaxTop2 alone = Kernels.argmaxTop2(Backend.CPU, s, n, n);
            assertArrayEquals(alone.index(), top.index());
            assertArrayEquals(alone.best(), top.best());
            assertArrayEquals(alone.second(), top.second());
            assertArrayEquals(Kernels.assign(Backend.CPU, s, n), u.assign(Backend.CPU));
        }
        float[] nan = s.clone();
        nan[5 * n + 3] = Float.NaN;
        LadyException e = assertThrows(LadyException.class, () -> Kernels.upload("matrix", nan, n, n));
        assertTrue(e.getMessage().contains("NaN value at row 5, column 3"), e.getMessage());
        float[] inf = s.clone();
        inf[2 * n + 1] = Float.POSITIVE_INFINITY;
        try (Kernels.Uploaded u = Kernels.upload("matrix", inf, n, n)) {
            assertEquals(1, u.argmaxTop2(Backend.CPU).index()[2]);
            e = assertThrows(LadyException.class, () -> u.assign(Backend.CPU));
            assertTrue(e.getMessage().contains("infinite value at row 2, column 1"), e.getMessage());
        }
    }

    /** A resync problem: where argmax has duplicates, the assignment is a permutation and recovers more. */
    @Test
    void assignmentResolvesArgmaxDuplicates() {
        float[] s = {0.9f, 0.8f, 0.1f, /**/ 0.95f, 0.2f, 0.3f, /**/ 0.1f, 0.3f, 0.7f};
        ArgmaxTop2 a = Kernels.argmaxTop2(Backend.CPU, s, 3, 3);
        assertArrayEquals(new int[] {0, 0, 2}, a.index(), "argmax picks column 0 twice");
        assertEquals(1, a.duplicates());
        assertArrayEquals(new int[] {1, 0, 2}, Kernels.assign(Backend.CPU, s, 3));

        SplittableRandom rnd = new SplittableRandom(42);
        int n = 300;
        int[] perm = new int[n];
        float[] sim = ResyncTestData.nearPermutation(rnd, n, 48, 2.2, perm);
        int[] inv = new int[n];
        for (int j = 0; j < n; j++) {
            inv[perm[j]] = j;
        }
        int[] match = Kernels.assign(Backend.CPU, sim, n);
        ArgmaxTop2 am = Kernels.argmaxTop2(Backend.CPU, sim, n, n);
        int okAssign = 0, okArgmax = 0;
        for (int i = 0; i < n; i++) {
            okAssign += match[i] == inv[i] ? 1 : 0;
            okArgmax += am.index()[i] == inv[i] ? 1 : 0;
        }
        assertTrue(ResyncTestData.isPermutation(match));
        assertTrue(am.duplicates() > 0, "the constructed case must give argmax duplicates");
        assertTrue(okAssign >= okArgmax, "assignment recovers " + okAssign + ", argmax " + okArgmax);
    }

    @Test
    void invalidInputRefused() {
        LadyException e = assertThrows(LadyException.class,
                () -> Kernels.assign(Backend.CPU, new float[] {1, 2, Float.NaN, 4}, 2));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("row 1, column 0"), e.getMessage());
        e = assertThrows(LadyException.class,
                () -> Kernels.assign(Backend.CPU, new float[] {1, Float.POSITIVE_INFINITY, 3, 4}, 2));
        assertTrue(e.getMessage().contains("infinite"), e.getMessage());
        e = assertThrows(LadyException.class, () -> Kernels.assign(Backend.CPU, new float[4], -2));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
        e = assertThrows(LadyException.class, () -> Kernels.assign(Backend.CPU, null, 2));
        assertTrue(e.getMessage().contains("null"), e.getMessage());
        // the native check names the value too (address form, no Java-side scan)
        try (org.bytedeco.javacpp.FloatPointer p = new org.bytedeco.javacpp.FloatPointer(1f, 2f, 3f, Float.NaN);
                org.bytedeco.javacpp.IntPointer o = new org.bytedeco.javacpp.IntPointer(2L)) {
            e = assertThrows(LadyException.class, () -> Kernels.assign(Backend.CPU, p.address(), 2, o.address()));
            assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
            assertTrue(e.getMessage().contains("row 1, column 1"), e.getMessage());
        }
        assertArrayEquals(new int[0], Kernels.assign(Backend.CPU, new float[0], 0));
    }
}
