package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.permutation.Permutation;
import lady.permutation.Role;
import lady.tensor.HostTensor;
import lady.torch.Torch;

/**
 * The dense path's shortcuts give, bit for bit, what the straightforward computation gives: the blocked combined
 * similarity against one cosine product per contribution summed in double; the verdict's sampled rows against
 * the subset product; the in-place reads of a lazily permuted suspect (diagonal cosines, squared norms) against
 * the gathered rows; the argmax permutation against the assignment kernel.
 */
class DenseSimilarityTest {
    private static final SplittableRandom RND = new SplittableRandom(41);

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static float[] gaussian(int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            out[i] = (float) RND.nextGaussian();
        }
        return out;
    }

    @Test
    void blockedCombinationIsTheSumOfWholeProducts() {
        int n = 700; // several blocks of rows of DENSE_BLOCK_BYTES / (4 n) and a partial one
        int[] dims = {33, 300, 1};
        List<Contribution> cs = new java.util.ArrayList<>();
        for (int d : dims) {
            cs.add(Contribution.rows("producer_rows", "t" + d, HostTensor.ofFloats(gaussian(n * d), n, d),
                    HostTensor.ofFloats(gaussian(n * d), n, d)));
        }
        float[] ready = gaussian(n * n);
        cs.add(Contribution.matrix("activations", "probe", ready));
        double[] w = Combination.weights(cs, ResyncOptions.defaults().weighting());
        double[] acc = new double[n * n];
        for (int k = 0; k < cs.size(); k++) {
            Contribution c = cs.get(k);
            float[] s = c.isRows() ? Kernels.cosineSimilarity(Backend.CPU, floats(c.rows().reference()),
                    floats(c.rows().suspect()), n, n, (int) c.dimension(), false) : c.similarity();
            for (int t = 0; t < acc.length; t++) {
                acc[t] += w[k] * s[t];
            }
        }
        float[] expected = new float[n * n];
        for (int t = 0; t < expected.length; t++) {
            expected[t] = (float) acc[t];
        }
        long[] sample = {0, 5, 299, 300, 699};
        float[][] sampled = new float[cs.size()][];
        float[] got = Combination.similarity(cs, w, ResyncOptions.defaults(), n, sample, sampled);
        assertArrayEquals(expected, got);
        // both orders of the work give those bits: every contribution's rows at once, or one contribution at a time
        float[][] sampledTogether = new float[cs.size()][];
        float[][] sampledOneByOne = new float[cs.size()][];
        assertArrayEquals(expected, Combination.similarityTogether(cs, w, ResyncOptions.defaults(), n, sample,
                sampledTogether));
        assertArrayEquals(expected, Combination.similarityOneByOne(cs, w, ResyncOptions.defaults(), n, sample,
                sampledOneByOne));
        for (int k = 0; k < dims.length; k++) {
            assertArrayEquals(sampledTogether[k], sampledOneByOne[k], "the verdict's sampled rows of contribution " + k);
        }
        long[] columns = {3, 1, 698, 0, 42};
        for (int k = 0; k < dims.length; k++) { // the verdict's block, as the subset product computes it
            float[] block = Combination.block(List.of(cs.get(k)), new double[] {1}, ResyncOptions.defaults(), n, sample,
                    columns);
            for (int a = 0; a < sample.length; a++) {
                for (int b = 0; b < columns.length; b++) {
                    org.junit.jupiter.api.Assertions.assertEquals(block[a * columns.length + b],
                            sampled[k][a * n + (int) columns[b]], "contribution " + k);
                }
            }
        }
        assertNull(sampled[dims.length], "a ready matrix has no rows to sample");
    }

    private static float[] floats(HostTensor t) {
        float[] out = new float[(int) t.numel()];
        t.floats().get(out);
        return out;
    }

    /** The assignment's shortcut on {@code s}, uploaded once for the row maxima and the shortcut, as a resync does. */
    private static long[] shortcut(float[] s, int n) {
        try (lady.kernels.Kernels.Uploaded u = lady.kernels.Kernels.upload("matrix", s, n, n)) {
            return Similarity.argmaxPermutation(Similarity.rowTop2(Backend.CPU, u), u);
        }
    }

    @Test
    void argmaxPermutationIsWhatTheAssignmentKernelReturns() {
        int n = 300;
        float[] s = gaussian(n * n);
        long[] p = Permutation.random(n, 9).longIndices();
        for (int i = 0; i < n; i++) {
            s[i * n + (int) p[i]] += 10; // every row's maximum in a different column
        }
        long[] shortcut = shortcut(s, n);
        assertNotNull(shortcut);
        assertArrayEquals(Similarity.assign(Backend.CPU, s, n), shortcut);
        s[5 * n + (int) p[7]] += 20; // rows 5 and 7 now share their argmax: the kernel decides
        assertNull(shortcut(s, n));
        s[5 * n + (int) p[7]] -= 20;
        s[1] = Float.NEGATIVE_INFINITY;
        assertNull(shortcut(s, n), "an infinite value goes to the kernel, which refuses it");
        assertThrows(lady.LadyException.class, () -> Similarity.assign(Backend.CPU, s, n));
        s[0] = Float.NaN;
        assertThrows(lady.LadyException.class, () -> Similarity.rowTop2(Backend.CPU, s, n),
                "a NaN is refused before the shortcut is tried");
    }
}
