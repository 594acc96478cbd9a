package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.LadyException;
import lady.torch.Torch;

/** CPU cosine similarity and row normalization vs the double-precision reference. */
class SimilarityKernelTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void cpuEqualsReferenceOnRandomShapes() {
        for (long seed = 1; seed <= 25; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(70), m = 1 + rnd.nextInt(70), d = rnd.nextInt(300);
            boolean centered = seed % 2 == 0;
            float[] a = ResyncTestData.gaussian(rnd, n, d), b = ResyncTestData.gaussian(rnd, m, d);
            String where = "seed " + seed + ", " + n + " x " + m + " x " + d + ", centered " + centered + ", cpu";
            ResyncTestData.assertClose(Kernels.cosineSimilarity(Backend.REFERENCE, a, b, n, m, d, centered),
                    Kernels.cosineSimilarity(Backend.CPU, a, b, n, m, d, centered), Tolerances.F32_MAX_REL_ERR, where);
            ResyncTestData.assertClose(Kernels.normalizeRows(Backend.REFERENCE, a, n, d, centered),
                    Kernels.normalizeRows(Backend.CPU, a, n, d, centered), Tolerances.F32_MAX_REL_ERR,
                    "normalize " + where);
        }
    }

    @Test
    void knownValues() {
        // rows (3, 4) and (0, 0): unit row (0.6, 0.8), zero row stays zero (eps floor)
        float[] u = Kernels.normalizeRows(Backend.CPU, new float[] {3, 4, 0, 0}, 2, 2, false);
        ResyncTestData.assertClose(new float[] {0.6f, 0.8f, 0, 0}, u, Tolerances.F32_MAX_REL_ERR, "normalize");
        // centered: (1, 2, 3) and (10, 20, 30) are perfectly correlated; (3, 2, 1) anti-correlated
        float[] s = Kernels.cosineSimilarity(Backend.CPU, new float[] {1, 2, 3}, new float[] {10, 20, 30, 3, 2, 1}, 1, 2,
                3, true);
        ResyncTestData.assertClose(new float[] {1, -1}, s, Tolerances.F32_MAX_REL_ERR, "pearson");
    }

    /** Zero copy from libtorch tensors, compared with libtorch's own normalize + mm. */
    @Test
    void addressFormOnTensorsMatchesLibtorch() {
        torch.manual_seed(7);
        int n = 37, m = 53, d = 300;
        Tensor a = torch.randn(n, d), b = torch.randn(m, d), out = torch.empty(n, m);
        Kernels.cosineSimilarity(Backend.CPU, a.data_ptr().address(), b.data_ptr().address(), n, m, d, false,
                out.data_ptr().address());
        Tensor ua = a.div(a.norm(new org.bytedeco.pytorch.ScalarOptional(new org.bytedeco.pytorch.Scalar(2.0)),
                new long[] {1}, true));
        Tensor ub = b.div(b.norm(new org.bytedeco.pytorch.ScalarOptional(new org.bytedeco.pytorch.Scalar(2.0)),
                new long[] {1}, true));
        Tensor expected = ua.mm(ub.t()).contiguous();
        float[] e = new float[n * m], got = new float[n * m];
        expected.data_ptr_float().get(e);
        out.data_ptr_float().get(got);
        ResyncTestData.assertClose(e, got, Tolerances.F32_MAX_REL_ERR, "cpu vs libtorch normalize + mm");
    }

    @Test
    void invalidInputRefusedWithClearMessages() {
        LadyException e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarity(Backend.CPU, new float[4], new float[4], -2, 2, 2, false));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
        e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarity(Backend.CPU, null, new float[4], 2, 2, 2, false));
        assertTrue(e.getMessage().contains("null"), e.getMessage());
        e = assertThrows(LadyException.class,
                () -> Kernels.cosineSimilarity(Backend.CPU, new float[5], new float[4], 2, 2, 2, false));
        assertTrue(e.getMessage().contains("5 values"), e.getMessage());
        e = assertThrows(LadyException.class, () -> Kernels.cosineSimilarity(Backend.CPU, 0L, 0L, 2, 2, 2, false, 0L));
        assertTrue(e.getMessage().contains("null address"), e.getMessage());
    }
}
