package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.tensor.HostTensor;

/**
 * The bfloat16 cosine kernel (lady.h {@code lady_cosine_similarity_bf16_*}) against the double reference, on both
 * CPU dispatch paths: the default (vdpbf16ps where the CPU has AVX512-BF16) and the widening to float32 (forced),
 * so the test is the same on every CPU; which one the CPU picks by default is never asserted.
 */
class Bf16SimilarityKernelTest {

    @AfterEach
    void restoreDispatch() {
        Kernels.forceBf16Widening(false);
    }

    static short[] bf16(float[] x) {
        short[] out = new short[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = HostTensor.floatToBfloat16(x[i]);
        }
        return out;
    }

    static float[] widen(short[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = HostTensor.bfloat16ToFloat(x[i]);
        }
        return out;
    }

    private static void checkBothPaths(short[] a, short[] b, int n, int m, int d, String where) {
        double[] ia = Kernels.inverseNormsBf16(a, n, d);
        double[] ib = Kernels.inverseNormsBf16(b, m, d);
        float[] ref = Kernels.cosineSimilarityBf16(Backend.REFERENCE, a, b, n, m, d, ia, ib);
        for (boolean widened : new boolean[] {false, true}) {
            Kernels.forceBf16Widening(widened);
            ResyncTestData.assertClose(ref, Kernels.cosineSimilarityBf16(Backend.CPU, a, b, n, m, d, ia, ib),
                    Tolerances.F32_MAX_REL_ERR, where + (widened ? ", widened" : ", default"));
        }
    }

    @Test
    void cpuEqualsReferenceOnRandomShapesBothPaths() {
        // edges of the tiles: 12 x 32 (dot product), 12 x 32 / 6 x 16 / 4 x 8 (float), depth 256, odd depth
        int[][] fixed = {{1, 1, 1}, {12, 32, 256}, {13, 33, 257}, {11, 31, 255}, {25, 65, 2}, {7, 5, 0}, {250, 40, 513},
            {3, 2049, 9}};
        for (int[] s : fixed) {
            SplittableRandom rnd = new SplittableRandom(s[0] * 31L + s[1] * 7L + s[2]);
            checkBothPaths(bf16(ResyncTestData.gaussian(rnd, s[0], s[2])), bf16(ResyncTestData.gaussian(rnd, s[1], s[2])),
                    s[0], s[1], s[2], s[0] + " x " + s[1] + " x " + s[2]);
        }
        for (long seed = 1; seed <= 20; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(60), m = 1 + rnd.nextInt(90), d = rnd.nextInt(700);
            checkBothPaths(bf16(ResyncTestData.gaussian(rnd, n, d)), bf16(ResyncTestData.gaussian(rnd, m, d)), n, m, d,
                    "seed " + seed + ", " + n + " x " + m + " x " + d);
        }
    }

    /** Rows far outside [2^-20, 2^20] (scaled by a power of two while packed) and subnormal values. */
    @Test
    void hugeTinyAndSubnormalRows() {
        SplittableRandom rnd = new SplittableRandom(11);
        int n = 14, m = 35, d = 77;
        float[] a = ResyncTestData.gaussian(rnd, n, d);
        float[] b = ResyncTestData.gaussian(rnd, m, d);
        float[] scales = {1e30f, 1e-30f, 1e-38f, 3e-39f, 1f};
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < d; t++) {
                a[i * d + t] *= scales[i % scales.length];
            }
        }
        for (int j = 0; j < m; j++) {
            for (int t = 0; t < d; t++) {
                b[j * d + t] *= scales[(j + 2) % scales.length];
            }
        }
        a[3 * d + 5] = 0; // a zero value and a zero row
        for (int t = 0; t < d; t++) {
            b[t] = 0;
        }
        checkBothPaths(bf16(a), bf16(b), n, m, d, "huge, tiny, subnormal and zero rows");
    }

    /** Products of bfloat16 values are exact in float32: the float32 kernel on the widened rows gives the same. */
    @Test
    void equalsTheFloatKernelOnWidenedRows() {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = 40, m = 70, d = 600;
        short[] a = bf16(ResyncTestData.gaussian(rnd, n, d));
        short[] b = bf16(ResyncTestData.gaussian(rnd, m, d));
        float[] f = Kernels.cosineSimilarity(Backend.CPU, widen(a), widen(b), n, m, d, false);
        ResyncTestData.assertClose(f, Kernels.cosineSimilarityBf16(Backend.CPU, a, b, n, m, d,
                Kernels.inverseNormsBf16(a, n, d), Kernels.inverseNormsBf16(b, m, d)), Tolerances.F32_MAX_REL_ERR,
                "bf16 vs float32 kernel");
    }

    @Test
    void knownValues() {
        // (3, 4) . (4, 3) / 25 = 24 / 25; (3, 4) . (-3, -4) / 25 = -1
        short[] a = bf16(new float[] {3, 4});
        short[] b = bf16(new float[] {4, 3, -3, -4});
        float[] s = Kernels.cosineSimilarityBf16(Backend.CPU, a, b, 1, 2, 2, Kernels.inverseNormsBf16(a, 1, 2),
                Kernels.inverseNormsBf16(b, 2, 2));
        ResyncTestData.assertClose(new float[] {0.96f, -1f}, s, Tolerances.F32_MAX_REL_ERR, "known values");
        assertTrue(!Kernels.bf16KernelName().isEmpty());
    }

    @Test
    void invalidInputRefusedWithClearMessages() {
        double[] one = {1}, two = {1, 1};
        LadyException e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarityBf16(Backend.CPU, new short[4], new short[4], -2, 2, 2, two, two));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
        e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarityBf16(Backend.CPU, null, new short[4], 2, 2, 2, two, two));
        assertTrue(e.getMessage().contains("null"), e.getMessage());
        e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarityBf16(Backend.CPU, new short[4], new short[4], 2, 2, 2, one, two));
        assertTrue(e.getMessage().contains("inverse norms of a"), e.getMessage());
        e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarityBf16(Backend.CPU, 0L, 0L, 2, 2, 2, 0L, 0L, 0L));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("null address"), e.getMessage());
    }

    @Tag("gpu")
    @Test
    void cudaEqualsReference() {
        NativeInfo info = Kernels.info();
        assumeTrue(info.gpuCount() > 0, "no GPU: " + (info.cudaCompiled() ? info.noGpuReason() : "library built without CUDA"));
        for (int[] s : new int[][] {{1, 1, 1}, {129, 130, 257}, {300, 64, 31}}) {
            SplittableRandom rnd = new SplittableRandom(s[0] + s[1] + s[2]);
            short[] a = bf16(ResyncTestData.gaussian(rnd, s[0], s[2]));
            short[] b = bf16(ResyncTestData.gaussian(rnd, s[1], s[2]));
            double[] ia = Kernels.inverseNormsBf16(a, s[0], s[2]), ib = Kernels.inverseNormsBf16(b, s[1], s[2]);
            ResyncTestData.assertClose(Kernels.cosineSimilarityBf16(Backend.REFERENCE, a, b, s[0], s[1], s[2], ia, ib),
                    Kernels.cosineSimilarityBf16(Backend.CUDA, a, b, s[0], s[1], s[2], ia, ib),
                    Tolerances.F32_MAX_REL_ERR, "cuda " + s[0] + " x " + s[1] + " x " + s[2]);
        }
    }
}
