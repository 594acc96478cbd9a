package lady.resync;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import lady.kernels.Backend;
import lady.kernels.Kernels;

/**
 * The numeric steps of a group's resync: cosine similarity of row sets, row norms, argmax and
 * assignment over the N x N similarity matrix (row-major float[]). Heavy lifting goes to the native
 * kernels through {@link lady.kernels.Kernels}.
 */
final class Similarity {
    private Similarity() {}

    /** s += cosine(a_i, b_j) for every i, j (a, b: N x D contiguous float32 rows), native kernel. */
    static void accumulateCosine(Backend backend, Tensor a, Tensor b, float[] s) {
        accumulateCosine(backend, a, b, false, s);
    }

    /** As {@link #accumulateCosine(Backend, Tensor, Tensor, float[])}; {@code centered}: Pearson correlation. */
    static void accumulateCosine(Backend backend, Tensor a, Tensor b, boolean centered, float[] s) {
        long n = a.size(0);
        long d = a.size(1);
        Tensor out = torch.empty(n, n);
        Kernels.cosineSimilarity(backend, a.data_ptr().address(), b.data_ptr().address(), n, n, d, centered,
                out.data_ptr().address());
        float[] part = new float[s.length];
        out.data_ptr_float().get(part);
        for (int k = 0; k < s.length; k++) {
            s[k] += part[k];
        }
        java.lang.ref.Reference.reachabilityFence(a);
        java.lang.ref.Reference.reachabilityFence(b);
    }

    /** acc[i] += squared L2 norm of row i. */
    static void accumulateSquaredNorms(Tensor rows, double[] acc) {
        Tensor sq = rows.mul(rows).sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional(torch.ScalarType.Double)).contiguous();
        double[] v = new double[acc.length];
        sq.data_ptr_double().get(v);
        for (int i = 0; i < acc.length; i++) {
            acc[i] += v[i];
        }
    }

    /** match[i] = argmax_j s[i, j] (ties: lowest j). */
    static long[] rowArgmax(float[] s, int n) {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            float bv = s[i * n];
            for (int j = 1; j < n; j++) {
                if (s[i * n + j] > bv) {
                    bv = s[i * n + j];
                    best = j;
                }
            }
            out[i] = best;
        }
        return out;
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

    /** Exact maximum-similarity assignment: always a permutation. */
    static long[] assign(Backend backend, float[] s, int n) {
        int[] perm = Kernels.assign(backend, s, n);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = perm[i];
        }
        return out;
    }

}
