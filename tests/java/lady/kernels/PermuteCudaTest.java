package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.permutation.Permutation;
import lady.torch.Torch;

/** CUDA batched permutation vs the reference, exact bytes. Skipped (not passed) without a GPU. */
@Tag("gpu")
class PermuteCudaTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** Per test (not per class), so that every CUDA test is reported as skipped, by name. */
    @BeforeEach
    void requireGpu() {
        NativeInfo info = Kernels.info();
        assumeTrue(info.gpuCount() > 0, "no GPU: " + (info.cudaCompiled() ? info.noGpuReason() : "library built without CUDA"));
    }

    @Test
    void cudaEqualsReference() {
        for (long seed = 1; seed <= 20; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            torch.manual_seed(seed);
            int n = 1 + rnd.nextInt(500);
            long[] p = Permutation.random(n, rnd.nextLong()).longIndices();
            PermuteKernelTest.Case ref = PermuteKernelTest.randomCase(rnd, n);
            PermuteKernelTest.Case gpu = new PermuteKernelTest.Case(ref.originals().stream().map(Tensor::clone).toList(),
                    ref.originals(), ref.axes(), ref.blocks());
            Kernels.permute(Backend.REFERENCE, p, PermuteKernelTest.targets(ref, n));
            Kernels.permute(Backend.CUDA, p, PermuteKernelTest.targets(gpu, n));
            for (int i = 0; i < ref.tensors().size(); i++) {
                assertArrayEquals(PermuteKernelTest.values(ref.tensors().get(i)), PermuteKernelTest.values(gpu.tensors().get(i)),
                        "seed " + seed + ", n " + n + ", tensor " + i + ": cuda vs reference");
            }
        }
    }
}
