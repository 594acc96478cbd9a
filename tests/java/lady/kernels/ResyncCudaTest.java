package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** CUDA resync kernels vs the reference. Skipped (not passed) without a GPU. */
@Tag("gpu")
class ResyncCudaTest {

    /** Per test, so that every CUDA test is reported as skipped, by name. */
    @BeforeEach
    void requireGpu() {
        NativeInfo info = Kernels.info();
        assumeTrue(info.gpuCount() > 0, "no GPU: " + (info.cudaCompiled() ? info.noGpuReason() : "library built without CUDA"));
    }

    @Test
    void similarityWithinTolerance() {
        for (long seed = 1; seed <= 15; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(300), m = 1 + rnd.nextInt(300), d = rnd.nextInt(700);
            boolean centered = seed % 2 == 0;
            float[] a = ResyncTestData.gaussian(rnd, n, d), b = ResyncTestData.gaussian(rnd, m, d);
            ResyncTestData.assertClose(Kernels.cosineSimilarity(Backend.REFERENCE, a, b, n, m, d, centered),
                    Kernels.cosineSimilarity(Backend.CUDA, a, b, n, m, d, centered), Tolerances.F32_MAX_REL_ERR,
                    "seed " + seed + ", " + n + " x " + m + " x " + d + ", cuda");
        }
    }

    @Test
    void rankingExact() {
        for (long seed = 1; seed <= 15; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = 1 + rnd.nextInt(100), m = 1 + rnd.nextInt(400);
            float[] s = seed % 2 == 0 ? ResyncTestData.tied(rnd, n, m) : ResyncTestData.gaussian(rnd, n, m);
            String where = "seed " + seed + ", " + n + " x " + m + ", cuda";
            ArgmaxTop2 r = Kernels.argmaxTop2(Backend.REFERENCE, s, n, m), c = Kernels.argmaxTop2(Backend.CUDA, s, n, m);
            assertArrayEquals(r.index(), c.index(), "argmax " + where);
            assertArrayEquals(r.second(), c.second(), "second " + where);
            int k = 1 + rnd.nextInt(m);
            assertArrayEquals(Kernels.topK(Backend.REFERENCE, s, n, m, k).indices(),
                    Kernels.topK(Backend.CUDA, s, n, m, k).indices(), "top-" + k + " " + where);
            assertArrayEquals(Kernels.sortDescending(Backend.REFERENCE, s),
                    Kernels.sortDescending(Backend.CUDA, s), "sort " + where);
        }
    }

    @Test
    void auctionOptimalWithinQuantizationBound() {
        AssignKernelTest.checkBackend(Backend.CUDA, 20);
    }
}
