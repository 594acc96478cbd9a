package lady.resync;

import java.nio.FloatBuffer;

import lady.kernels.ArgmaxTop2;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.permutation.MemberSlices;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.util.Parallel;

/**
 * The numeric steps of a group's resync: cosine similarity of row sets, row norms, argmax (with the
 * second best) and assignment over the N x N similarity matrix (row-major float[]). Heavy lifting goes to the native
 * kernels through {@link lady.kernels.Kernels}.
 */
final class Similarity {
    private Similarity() {}

    /** s += cosine(a_i, b_j) for every i, j (a, b: N x D contiguous float32 rows), native kernel. */
    static void accumulateCosine(Backend backend, HostTensor a, HostTensor b, float[] s) {
        accumulateCosine(backend, a, b, false, s);
    }

    /** As {@link #accumulateCosine(Backend, HostTensor, HostTensor, float[])}; {@code centered}: Pearson correlation. */
    static void accumulateCosine(Backend backend, HostTensor a, HostTensor b, boolean centered, float[] s) {
        long n = a.size(0);
        long d = a.size(1);
        HostTensor out = HostTensor.allocate(DType.FLOAT32, n, n);
        Kernels.cosineSimilarity(backend, a.address(), b.address(), n, n, d, centered, out.address());
        FloatBuffer part = out.floats();
        for (int k = 0; k < s.length; k++) {
            s[k] += part.get(k);
        }
        out.memory().close();
        java.lang.ref.Reference.reachabilityFence(a);
        java.lang.ref.Reference.reachabilityFence(b);
    }

    /** acc[i] += squared L2 norm of row i of the contiguous float32 N x D rows (squares in float, sums in double). */
    static void accumulateSquaredNorms(HostTensor rows, double[] acc) {
        int n = acc.length;
        long d = rows.numel() / Math.max(n, 1);
        if (rows.byteSize() > Integer.MAX_VALUE - 8) { // row by row through windows of one row each
            for (int i = 0; i < n; i++) {
                acc[i] += squaredNorm(rows.bytes(i * d * 4, (int) (d * 4)).asFloatBuffer(), 0, (int) d);
            }
            return;
        }
        FloatBuffer f = rows.floats();
        Parallel.forEach(n, i -> acc[i] += squaredNorm(f, (int) (i * d), (int) d));
        java.lang.ref.Reference.reachabilityFence(rows);
    }

    private static double squaredNorm(FloatBuffer f, int from, int d) {
        double sum = 0;
        for (int k = from; k < from + d; k++) {
            float v = f.get(k);
            sum += v * v;
        }
        return sum;
    }

    /**
     * cos(a_i, b_i) for every row i of two contiguous float32 n x d tensors (the matched pairs of an aligned
     * group), sums in double, with the kernels' normalization floor.
     */
    static double[] diagonalCosine(HostTensor a, HostTensor b, int n) {
        long d = n == 0 ? 0 : a.numel() / n;
        return diagonalCosine(a, b, new MemberSlices.Layout(1, n, d, 0, 1), n);
    }

    /** The diagonal cosines of neurons laid out as {@code layout} in two float32 tensors of the same shape. */
    private static double[] diagonalCosine(HostTensor a, HostTensor b, MemberSlices.Layout layout, int n) {
        double[] out = new double[n];
        boolean small = a.byteSize() <= Integer.MAX_VALUE - 8;
        FloatBuffer fa = small ? a.floats() : null;
        FloatBuffer fb = small ? b.floats() : null;
        int run = Math.toIntExact(layout.run());
        Parallel.forEach(n, i -> {
            double ab = 0;
            double aa = 0;
            double bb = 0;
            for (long o = 0; o < layout.outer(); o++) {
                long start = layout.start(o, i);
                FloatBuffer x = small ? fa : a.bytes(start * Float.BYTES, run * Float.BYTES).asFloatBuffer();
                FloatBuffer y = small ? fb : b.bytes(start * Float.BYTES, run * Float.BYTES).asFloatBuffer();
                int from = small ? (int) start : 0;
                for (int t = from; t < from + run; t++) {
                    double u = x.get(t);
                    double v = y.get(t);
                    ab += u * v;
                    aa += u * u;
                    bb += v * v;
                }
            }
            out[i] = ab / (Math.max(Math.sqrt(aa), PrefilteredMatch.NORM_EPS) * Math.max(Math.sqrt(bb),
                    PrefilteredMatch.NORM_EPS));
        });
        java.lang.ref.Reference.reachabilityFence(a);
        java.lang.ref.Reference.reachabilityFence(b);
        return out;
    }

    /**
     * Per row i of the n x n {@code s}: the argmax column (ties: lowest j), its value and the best value of
     * the other columns, through the native kernel.
     */
    static ArgmaxTop2 rowTop2(Backend backend, float[] s, int n) {
        return Kernels.argmaxTop2(backend, s, n, n);
    }

    /** As {@link #rowTop2(Backend, float[], int)} on a matrix already in native memory. */
    static ArgmaxTop2 rowTop2(Backend backend, Kernels.Uploaded s) {
        return s.argmaxTop2(backend);
    }

    /** match[i] = argmax_j s[i, j] (ties: lowest j), through the native kernel. */
    static long[] rowArgmax(Backend backend, float[] s, int n) {
        return widen(rowTop2(backend, s, n).index());
    }

    /** origin[j] = argmax_i s[i, j] (ties: lowest i): the paper's per-suspect-neuron count. */
    static long[] columnArgmax(float[] s, int n) {
        long[] out = new long[n];
        float[] best = new float[n];
        java.util.Arrays.fill(best, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (s[i * n + j] > best[j]) {
                    best[j] = s[i * n + j];
                    out[j] = i;
                }
            }
        }
        return out;
    }

    /**
     * The exact assignment's answer when it needs no search: every row's maximum (the lowest column on ties,
     * {@code top} from {@link #rowTop2}) is a different column. That permutation puts every row on its maximum, so
     * it maximizes the sum, and it is what the assignment kernel returns for such a matrix (its greedy start takes
     * each row's argmax, lowest column on ties, and leaves nothing to augment). Null when two rows share their
     * argmax or a value of {@code s} is infinite (then {@link #assign}: the kernel resolves the collisions, or
     * refuses the matrix; a NaN was already refused by the upload).
     */
    static long[] argmaxPermutation(ArgmaxTop2 top, Kernels.Uploaded s) {
        if (s.hasInfinite()) { // (the upload's scan found one)
            return null;
        }
        int n = top.rows();
        boolean[] taken = new boolean[n];
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            int j = top.index()[i];
            if (taken[j]) {
                return null;
            }
            taken[j] = true;
            out[i] = j;
        }
        return out;
    }

    /** Exact maximum-similarity assignment: always a permutation. */
    static long[] assign(Backend backend, float[] s, int n) {
        return widen(Kernels.assign(backend, s, n));
    }

    /** As {@link #assign(Backend, float[], int)} on a matrix already in native memory. */
    static long[] assign(Backend backend, Kernels.Uploaded s) {
        return widen(s.assign(backend));
    }

    private static long[] widen(int[] indices) {
        long[] out = new long[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = indices[i];
        }
        return out;
    }

}
