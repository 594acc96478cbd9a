package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import lady.permutation.Permutation;
import lady.LadyException;
import lady.torch.Torch;
import lady.torch.TorchTargets;

/**
 * The whole-network kernel (two axes per tensor, one call): CPU == reference bit for bit ==
 * libtorch index_select on axis 0 then axis 1 (blocks expanded); the inverses restore every bit;
 * CUDA == reference on a GPU (skipped without one).
 */
class PermuteTensorsKernelTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** A tensor with its optional axis-0 and axis-1 permutations (shared between tensors by size). */
    record Item(Tensor tensor, Tensor original, long[] p0, long[] p1, long block) {}

    static List<Item> randomBatch(SplittableRandom rnd) {
        List<Item> items = new ArrayList<>();
        List<long[]> pool = new ArrayList<>();
        int count = 1 + rnd.nextInt(6);
        for (int t = 0; t < count; t++) {
            int rank = 1 + rnd.nextInt(4);
            long[] shape = new long[rank];
            for (int d = 0; d < rank; d++) {
                shape[d] = 1 + rnd.nextInt(d < 2 ? 40 : 4);
            }
            long block = 1;
            if (rank >= 2 && rnd.nextInt(3) == 0) {
                block = 1 + rnd.nextInt(5);
                shape[1] = (1 + rnd.nextInt(8)) * block;
            }
            long[] p0 = rnd.nextInt(3) > 0 ? shared(pool, rnd, (int) shape[0]) : null;
            long[] p1 = rank >= 2 && rnd.nextInt(3) > 0 ? shared(pool, rnd, (int) (shape[1] / block)) : null;
            Tensor x = torch.randn(shape);
            items.add(new Item(x, x.clone(), p0, p1, p1 == null ? 1 : block));
        }
        return items;
    }

    private static long[] shared(List<long[]> pool, SplittableRandom rnd, int n) {
        for (long[] p : pool) {
            if (p.length == n && rnd.nextBoolean()) {
                return p;
            }
        }
        long[] p = Permutation.random(n, rnd.nextLong()).longIndices();
        pool.add(p);
        return p;
    }

    static List<TensorPermutation> targets(List<Item> items, boolean inverse) {
        List<TensorPermutation> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            Item it = items.get(i);
            long[] p0 = it.p0() == null ? null : inverse ? PermuteKernelTest.inverse(it.p0()) : it.p0();
            long[] p1 = it.p1() == null ? null : inverse ? PermuteKernelTest.inverse(it.p1()) : it.p1();
            out.add(TorchTargets.tensorPermutation("t" + i, it.tensor(), p0, p1, it.block()));
        }
        return out;
    }

    static List<Item> cloneBatch(List<Item> items) {
        return items.stream().map(i -> new Item(i.original().clone(), i.original(), i.p0(), i.p1(), i.block())).toList();
    }

    @Test
    void cpuEqualsReferenceAndIndexSelectAndInverseRestores() {
        for (long seed = 1; seed <= 40; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            torch.manual_seed(seed);
            List<Item> ref = randomBatch(rnd);
            List<Item> cpu = cloneBatch(ref);
            Kernels.permuteTensors(Backend.REFERENCE, targets(ref, false));
            Kernels.permuteTensors(Backend.CPU, targets(cpu, false));
            for (int i = 0; i < ref.size(); i++) {
                Item r = ref.get(i);
                String where = "seed " + seed + ", tensor " + i + " " + java.util.Arrays.toString(r.tensor().sizes().vec().get());
                assertArrayEquals(PermuteKernelTest.values(r.tensor()), PermuteKernelTest.values(cpu.get(i).tensor()),
                        where + ": cpu vs reference");
                Tensor want = r.original();
                if (r.p0() != null) {
                    want = PermuteKernelTest.expected(want, 0, r.p0(), 1);
                }
                if (r.p1() != null) {
                    want = PermuteKernelTest.expected(want, 1, r.p1(), r.block());
                }
                assertArrayEquals(PermuteKernelTest.values(want), PermuteKernelTest.values(r.tensor()),
                        where + ": reference vs libtorch index_select");
            }
            Kernels.permuteTensors(Backend.CPU, targets(cpu, true));
            for (int i = 0; i < cpu.size(); i++) {
                assertArrayEquals(PermuteKernelTest.values(cpu.get(i).original()),
                        PermuteKernelTest.values(cpu.get(i).tensor()), "seed " + seed + ": inverse restores tensor " + i);
            }
        }
    }

    @Test
    void badInputIsRefusedWithClearMessagesAndNothingWritten() {
        Tensor w = torch.randn(4, 6);
        Tensor before = w.clone();
        LadyException wrongSize = assertThrows(LadyException.class,
                () -> TorchTargets.tensorPermutation("fc.weight", w, new long[] {0, 1, 2}, null, 1));
        assertTrue(wrongSize.getMessage().contains("fc.weight") && wrongSize.getMessage().contains("size 3"),
                wrongSize.getMessage());
        LadyException twice = assertThrows(LadyException.class, () -> Kernels.permuteTensors(Backend.CPU,
                List.of(TorchTargets.tensorPermutation("fc.weight", w, new long[] {0, 1, 2, 3}, new long[] {0, 0, 1, 2, 3, 4}, 1))));
        assertEquals(LadyException.Kind.INVALID_INPUT, twice.kind());
        assertTrue(twice.getMessage().contains("'fc.weight' axis 1") && twice.getMessage().contains("appears twice"),
                twice.getMessage());
        assertArrayEquals(PermuteKernelTest.values(before), PermuteKernelTest.values(w));
        Tensor alias = w.view(24);
        LadyException shared = assertThrows(LadyException.class, () -> Kernels.permuteTensors(Backend.CPU,
                List.of(TorchTargets.tensorPermutation("a", w, new long[] {1, 0, 2, 3}, null, 1),
                        TorchTargets.tensorPermutation("b", alias, new long[] {1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, null, 1))));
        assertTrue(shared.getMessage().contains("share memory"), shared.getMessage());
        assertArrayEquals(PermuteKernelTest.values(before), PermuteKernelTest.values(w));
    }

    @Test
    @Tag("gpu")
    void cudaEqualsReference() {
        NativeInfo info = Kernels.info();
        assumeTrue(info.gpuCount() > 0, "no GPU: " + (info.cudaCompiled() ? info.noGpuReason() : "library built without CUDA"));
        for (long seed = 1; seed <= 20; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            torch.manual_seed(seed);
            List<Item> ref = randomBatch(rnd);
            List<Item> gpu = cloneBatch(ref);
            Kernels.permuteTensors(Backend.REFERENCE, targets(ref, false));
            Kernels.permuteTensors(Backend.CUDA, targets(gpu, false));
            for (int i = 0; i < ref.size(); i++) {
                assertArrayEquals(PermuteKernelTest.values(ref.get(i).tensor()), PermuteKernelTest.values(gpu.get(i).tensor()),
                        "seed " + seed + ", tensor " + i + ": cuda vs reference");
            }
        }
    }
}
