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

    /** acc[i] += squared L2 norm of row i of a contiguous float32 N x D tensor (read in place, rows in parallel;
     * {@link PrefilteredMatch#dot} partial sums, added in double). */
    static void accumulateSquaredNorms(Tensor rows, double[] acc) {
        int n = acc.length;
        long numel = rows.numel();
        if (n == 0 || numel == 0) {
            return;
        }
        if (numel > Integer.MAX_VALUE) { // beyond a Java buffer's int positions: libtorch reduces it
            Tensor sq = rows.mul(rows).sum(new long[] {1}, false,
                    new org.bytedeco.pytorch.ScalarTypeOptional(torch.ScalarType.Double)).contiguous();
            double[] v = new double[n];
            sq.data_ptr_double().get(v);
            for (int i = 0; i < n; i++) {
                acc[i] += v[i];
            }
            return;
        }
        int d = Math.toIntExact(numel / n);
        java.nio.FloatBuffer buffer = new org.bytedeco.javacpp.FloatPointer(rows.data_ptr_float()).capacity(numel).asBuffer();
        double[] v = new double[n];
        int chunks = Math.min(n, NORM_CHUNKS_PER_CORE * Runtime.getRuntime().availableProcessors());
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            float[] row = new float[d];
            float[] lanes = new float[PrefilteredMatch.DOT_LANES];
            java.nio.FloatBuffer view = buffer.duplicate();
            for (int i = (int) ((long) n * c / chunks); i < (int) ((long) n * (c + 1) / chunks); i++) {
                view.position(i * d);
                view.get(row, 0, d);
                v[i] = PrefilteredMatch.dot(row, row, lanes);
            }
        });
        for (int i = 0; i < n; i++) {
            acc[i] += v[i];
        }
        java.lang.ref.Reference.reachabilityFence(rows);
    }

    /** cos(a_i, b_i) for every row i of two contiguous float32 N x D tensors (the matched pairs of an aligned
     * group), with the kernels' normalization floor. */
    static double[] diagonalCosine(Tensor a, Tensor b, int n) {
        long numel = a.numel();
        double[] out = new double[n];
        if (n == 0) {
            return out;
        }
        if (numel > Integer.MAX_VALUE) {
            Tensor dots = a.mul(b).sum(new long[] {1}, false,
                    new org.bytedeco.pytorch.ScalarTypeOptional(torch.ScalarType.Double)).contiguous();
            dots.data_ptr_double().get(out);
            double[] na = new double[n];
            double[] nb = new double[n];
            accumulateSquaredNorms(a, na);
            accumulateSquaredNorms(b, nb);
            for (int i = 0; i < n; i++) {
                out[i] /= Math.max(Math.sqrt(na[i]), PrefilteredMatch.NORM_EPS) * Math.max(Math.sqrt(nb[i]),
                        PrefilteredMatch.NORM_EPS);
            }
            return out;
        }
        int d = Math.toIntExact(numel / n);
        java.nio.FloatBuffer fa = new org.bytedeco.javacpp.FloatPointer(a.data_ptr_float()).capacity(numel).asBuffer();
        java.nio.FloatBuffer fb = new org.bytedeco.javacpp.FloatPointer(b.data_ptr_float()).capacity(numel).asBuffer();
        int chunks = Math.min(n, NORM_CHUNKS_PER_CORE * Runtime.getRuntime().availableProcessors());
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            float[] x = new float[d];
            float[] y = new float[d];
            float[] lanes = new float[PrefilteredMatch.DOT_LANES];
            java.nio.FloatBuffer va = fa.duplicate();
            java.nio.FloatBuffer vb = fb.duplicate();
            for (int i = (int) ((long) n * c / chunks); i < (int) ((long) n * (c + 1) / chunks); i++) {
                va.position(i * d);
                va.get(x, 0, d);
                vb.position(i * d);
                vb.get(y, 0, d);
                double xx = Math.max(Math.sqrt(PrefilteredMatch.dot(x, x, lanes)), PrefilteredMatch.NORM_EPS);
                double yy = Math.max(Math.sqrt(PrefilteredMatch.dot(y, y, lanes)), PrefilteredMatch.NORM_EPS);
                out[i] = PrefilteredMatch.dot(x, y, lanes) / (xx * yy);
            }
        });
        java.lang.ref.Reference.reachabilityFence(a);
        java.lang.ref.Reference.reachabilityFence(b);
        return out;
    }

    /** {@link #diagonalCosine} of rows stored as (outer, n, k) contiguous float32 tensors: row i is the k values
     * of neuron i under every outer index (a consumer's column). Outer rows in parallel, per-chunk partial sums. */
    static double[] diagonalCosineStrided(Tensor a, Tensor b, int n) {
        long outer = a.size(0);
        long numel = a.numel();
        if (numel > Integer.MAX_VALUE) {
            return diagonalCosine(a.transpose(0, 1).reshape(n, -1).contiguous(),
                    b.transpose(0, 1).reshape(n, -1).contiguous(), n);
        }
        int k = Math.toIntExact(numel / outer / n);
        java.nio.FloatBuffer fa = new org.bytedeco.javacpp.FloatPointer(a.data_ptr_float()).capacity(numel).asBuffer();
        java.nio.FloatBuffer fb = new org.bytedeco.javacpp.FloatPointer(b.data_ptr_float()).capacity(numel).asBuffer();
        int chunks = (int) Math.min(outer, NORM_CHUNKS_PER_CORE * Runtime.getRuntime().availableProcessors());
        double[][] parts = new double[chunks][];
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            double[] part = new double[3 * n]; // per neuron: a.b, a.a, b.b
            float[] x = new float[n * k];
            float[] y = new float[n * k];
            java.nio.FloatBuffer va = fa.duplicate();
            java.nio.FloatBuffer vb = fb.duplicate();
            for (long o = outer * c / chunks; o < outer * (c + 1) / chunks; o++) {
                int at = (int) (o * n * k);
                va.position(at);
                va.get(x, 0, n * k);
                vb.position(at);
                vb.get(y, 0, n * k);
                for (int i = 0; i < n; i++) {
                    float ab = 0;
                    float aa = 0;
                    float bb = 0;
                    for (int t = i * k; t < (i + 1) * k; t++) {
                        ab += x[t] * y[t];
                        aa += x[t] * x[t];
                        bb += y[t] * y[t];
                    }
                    part[3 * i] += ab;
                    part[3 * i + 1] += aa;
                    part[3 * i + 2] += bb;
                }
            }
            parts[c] = part;
        });
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double ab = 0;
            double aa = 0;
            double bb = 0;
            for (double[] part : parts) {
                ab += part[3 * i];
                aa += part[3 * i + 1];
                bb += part[3 * i + 2];
            }
            out[i] = ab / (Math.max(Math.sqrt(aa), PrefilteredMatch.NORM_EPS) * Math.max(Math.sqrt(bb),
                    PrefilteredMatch.NORM_EPS));
        }
        java.lang.ref.Reference.reachabilityFence(a);
        java.lang.ref.Reference.reachabilityFence(b);
        return out;
    }

    /** Work chunks per core of {@link #accumulateSquaredNorms}. */
    private static final int NORM_CHUNKS_PER_CORE = 4;

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

    /** Gathers along {@code axis} in blocks (new block j = old block match[j]); used when the match
     * is not a permutation (argmax duplicates). */
    static Tensor gatherBlocks(Tensor t, int axis, long block, long[] match) {
        long[] idx = new long[(int) (match.length * block)];
        for (int j = 0; j < match.length; j++) {
            for (int k = 0; k < block; k++) {
                idx[(int) (j * block + k)] = match[j] * block + k;
            }
        }
        Tensor index = torch.from_blob(new LongPointer(idx), new long[] {idx.length}, new TensorOptions(torch.ScalarType.Long)).clone();
        return t.index_select(axis, index).contiguous();
    }
}
