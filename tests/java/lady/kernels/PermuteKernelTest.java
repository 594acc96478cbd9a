package lady.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.permutation.Permutation;
import lady.LadyException;
import lady.torch.Torch;
import lady.torch.TorchTargets;

/** The batched permutation kernel: CPU == reference == libtorch index_select; inverse restores bits. */
class PermuteKernelTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** A random shape whose axis {@code axis} has n * block entries. */
    static long[] randomShape(SplittableRandom rnd, int axis, long n, long block) {
        int rank = axis + 1 + rnd.nextInt(3);
        long[] shape = new long[rank];
        for (int i = 0; i < rank; i++) {
            shape[i] = 1 + rnd.nextInt(5);
        }
        shape[axis] = n * block;
        return shape;
    }

    static long[] inverse(long[] p) {
        long[] q = new long[p.length];
        for (int j = 0; j < p.length; j++) {
            q[(int) p[j]] = j;
        }
        return q;
    }

    static float[] values(Tensor t) {
        Tensor c = t.contiguous();
        float[] out = new float[(int) c.numel()];
        c.data_ptr_float().get(out);
        return out;
    }

    /** libtorch's own answer: index_select along axis with the permutation expanded to blocks. */
    static Tensor expected(Tensor original, int axis, long[] perm, long block) {
        long[] idx = new long[(int) (perm.length * block)];
        for (int j = 0; j < perm.length; j++) {
            for (int k = 0; k < block; k++) {
                idx[(int) (j * block + k)] = perm[j] * block + k;
            }
        }
        Tensor index = torch.from_blob(new LongPointer(idx), new long[] {idx.length}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long)).clone();
        return original.index_select(axis, index).contiguous();
    }

    record Case(List<Tensor> tensors, List<Tensor> originals, List<Integer> axes, List<Long> blocks) {}

    static Case randomCase(SplittableRandom rnd, int n) {
        List<Tensor> tensors = new ArrayList<>();
        List<Tensor> originals = new ArrayList<>();
        List<Integer> axes = new ArrayList<>();
        List<Long> blocks = new ArrayList<>();
        int count = 1 + rnd.nextInt(5);
        for (int t = 0; t < count; t++) {
            int axis = rnd.nextInt(2);
            long block = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(6) : 1;
            Tensor x = torch.randn(randomShape(rnd, axis, n, block));
            tensors.add(x);
            originals.add(x.clone());
            axes.add(axis);
            blocks.add(block);
        }
        return new Case(tensors, originals, axes, blocks);
    }

    static List<PermuteTarget> targets(Case c, int n) {
        List<PermuteTarget> targets = new ArrayList<>();
        for (int i = 0; i < c.tensors().size(); i++) {
            targets.add(TorchTargets.permuteTarget("t" + i, c.tensors().get(i), c.axes().get(i), c.blocks().get(i), n));
        }
        return targets;
    }

    @Test
    void cpuEqualsReferenceAndIndexSelectAndInverseRestores() {
        for (long seed = 1; seed <= 25; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            torch.manual_seed(seed);
            int n = 1 + rnd.nextInt(64);
            long[] p = Permutation.random(n, rnd.nextLong()).longIndices();
            Case ref = randomCase(rnd, n);
            Case cpu = new Case(ref.originals().stream().map(Tensor::clone).toList(), ref.originals(), ref.axes(),
                    ref.blocks());
            Kernels.permute(Backend.REFERENCE, p, targets(ref, n));
            Kernels.permute(Backend.CPU, p, targets(cpu, n));
            for (int i = 0; i < ref.tensors().size(); i++) {
                String where = "seed " + seed + ", n " + n + ", tensor " + i;
                float[] r = values(ref.tensors().get(i));
                assertArrayEquals(r, values(cpu.tensors().get(i)), where + ": cpu vs reference");
                assertArrayEquals(values(expected(ref.originals().get(i), ref.axes().get(i), p, ref.blocks().get(i))), r,
                        where + ": reference vs libtorch index_select");
            }
            Kernels.permute(Backend.CPU, inverse(p), targets(cpu, n));
            for (int i = 0; i < cpu.tensors().size(); i++) {
                assertTrue(torch.equal(cpu.tensors().get(i), ref.originals().get(i)),
                        "seed " + seed + ": inverse permutation must restore tensor " + i + " bit for bit");
            }
        }
    }

    @Test
    void vgg16ClassifierBlocksOf49() {
        // conv -> flatten -> linear: 8 channels of 7x7 feed a Linear(392 -> 5): blocks of 49 columns.
        SplittableRandom rnd = new SplittableRandom(7);
        long[] p = Permutation.random(8, rnd.nextLong()).longIndices();
        Tensor w = torch.randn(5, 8 * 49);
        Tensor original = w.clone();
        Kernels.permute(Backend.CPU, p, List.of(TorchTargets.permuteTarget("classifier.0.weight", w, 1, 49, 8)));
        assertArrayEquals(values(expected(original, 1, p, 49)), values(w));
    }

    @Test
    void repeatedIndexIsAClearErrorAndNothingIsWritten() {
        Tensor w = torch.randn(4, 3);
        Tensor original = w.clone();
        LadyException e = assertThrows(LadyException.class, () -> Kernels.permute(Backend.CPU, new long[] {0, 2, 2, 1},
                List.of(TorchTargets.permuteTarget("w", w, 0, 1, 4))));
        assertEquals(LadyException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().contains("index 2 appears twice"), e.getMessage());
        assertTrue(torch.equal(w, original));
    }

    @Test
    void wrongTensorSizeIsAClearError() {
        Tensor w = torch.randn(5, 3);
        LadyException e = assertThrows(LadyException.class,
                () -> Kernels.permute(Backend.CPU, new long[] {1, 0, 3, 2}, List.of(TorchTargets.permuteTarget("fc.weight", w, 0, 1, 4))));
        assertTrue(e.getMessage().contains("fc.weight") && e.getMessage().contains("axis 0 has size 5"), e.getMessage());
    }

    @Test
    void outOfRangeIndexIsAClearError() {
        LadyException e = assertThrows(LadyException.class, () -> Kernels.validatePermutation(new long[] {0, 3, 1}));
        assertTrue(e.getMessage().contains("outside 0..2"), e.getMessage());
    }

    @Test
    void nativeValidationAlsoRefusesBadInput() {
        // bypass the Java validation: the native side must refuse too (defence in depth), never crash
        Tensor w = torch.randn(3);
        long[] addr = {w.data_ptr().address()};
        int status = lady.kernels.bridge.LadyNative.lady_permute_cpu(1, addr, new long[] {1}, new long[] {4},
                new long[] {0, 0, 1}, 3);
        assertEquals(lady.kernels.bridge.LadyNative.LADY_ERR_NOT_PERMUTATION, status);
        assertTrue(lady.kernels.bridge.LadyNative.lady_last_error().contains("appears twice"));
        status = lady.kernels.bridge.LadyNative.lady_permute_cpu(1, new long[] {0}, new long[] {1}, new long[] {4},
                new long[] {2, 0, 1}, 3);
        assertEquals(lady.kernels.bridge.LadyNative.LADY_ERR_INVALID_ARGUMENT, status);
    }
}
