package lady.resync;

import java.nio.FloatBuffer;
import java.util.stream.IntStream;

import lady.kernels.ArgmaxTop2;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

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
        IntStream.range(0, n).parallel().forEach(i -> acc[i] += squaredNorm(f, (int) (i * d), (int) d));
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

    /**
     * cos(neuron i's slice in {@code a}, neuron i's slice in {@code b}) for every neuron i of member {@code m} of a
     * group of {@code n}: the same pairs as {@link MemberSlices#rows} of both tensors row by row, read in the
     * tensors' own layout without gathering them (a consumer's columns stay where they are).
     */
    static double[] diagonalCosine(HostTensor a, HostTensor b, Member m, long n) {
        MemberSlices.Layout layout = MemberSlices.layout(a.shape(), m, n);
        return diagonalCosine(a.toFloat32(), b.toFloat32(), layout, Math.toIntExact(n));
    }

    /** The diagonal cosines of neurons laid out as {@code layout} in two float32 tensors of the same shape. */
    private static double[] diagonalCosine(HostTensor a, HostTensor b, MemberSlices.Layout layout, int n) {
        double[] out = new double[n];
        boolean small = a.byteSize() <= Integer.MAX_VALUE - 8;
        FloatBuffer fa = small ? a.floats() : null;
        FloatBuffer fb = small ? b.floats() : null;
        int run = Math.toIntExact(layout.run());
        IntStream.range(0, n).parallel().forEach(i -> {
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

    /** match[i] = argmax_j s[i, j] (ties: lowest j), through the native kernel. */
    static long[] rowArgmax(Backend backend, float[] s, int n) {
        return widen(rowTop2(backend, s, n).index());
    }

    /**
     * A float32 tensor read in place through its index maps ({@link IndexedTensor}): element {@code f} of the
     * logical tensor (row-major) is {@code floats[index(f)]} of the base. What lets a later pass's certificate and
     * the integrity check read a lazily permuted suspect without gathering it into fresh memory.
     */
    private record Mapped(FloatBuffer floats, long[] rowMap, long[] colMap, long rowValues, long inner) {
        /** The tensor as read in place, or null when it cannot be (another dtype, a base beyond one buffer). */
        static Mapped of(IndexedTensor t) {
            HostTensor base = t.base();
            if (base.dtype() != DType.FLOAT32 || base.byteSize() > Integer.MAX_VALUE - 8) {
                return null;
            }
            long[] shape = base.shape();
            long inner = 1;
            for (int a = 2; a < shape.length; a++) {
                inner *= shape[a];
            }
            long columns = shape.length > 1 ? shape[1] : 1;
            return new Mapped(base.floats(), t.rowMap(), t.columnMap(), columns * inner, inner);
        }

        /** The base's index of row {@code r}'s first element. */
        long rowStart(long r) {
            return (rowMap == null ? r : rowMap[(int) r]) * rowValues;
        }

        /** The base's offset of column {@code c} within a row. */
        long columnStart(long c) {
            return (colMap == null ? c : colMap[(int) c]) * inner;
        }

        /** The base's index of logical element {@code f}. */
        int index(long f) {
            if (rowMap == null && colMap == null) {
                return (int) f;
            }
            long r = f / rowValues;
            long rem = f - r * rowValues;
            long c = rem / inner;
            long t = rem - c * inner;
            long br = rowMap == null ? r : rowMap[(int) r];
            long bc = colMap == null ? c : colMap[(int) c];
            return (int) (br * rowValues + bc * inner + t);
        }
    }

    /** Whether {@link #diagonalCosine(IndexedTensor, IndexedTensor, Member, long)} and
     * {@link #accumulateSquaredNorms(IndexedTensor, Member, long, double[])} read {@code t} in place. */
    static boolean readsInPlace(IndexedTensor t) {
        return Mapped.of(t) != null;
    }

    /**
     * As {@link #diagonalCosine(HostTensor, HostTensor, int)} on {@code MemberSlices.rows} of both tensors, read in
     * place through their index maps (both {@link #readsInPlace}): the same values in the same order, no gathered
     * copy.
     */
    static double[] diagonalCosine(IndexedTensor a, IndexedTensor b, Member m, long n) {
        Mapped ma = Mapped.of(a);
        Mapped mb = Mapped.of(b);
        MemberSlices.Layout layout = MemberSlices.layout(a.shape(), m, n);
        double[] out = new double[Math.toIntExact(n)];
        PrefilteredMatch.parallelChunks(out.length, (from, to) -> {
            FloatBuffer fa = ma.floats();
            FloatBuffer fb = mb.floats();
            long run = layout.inner();
            if (m.axis() == 1 && layout.block() == 1) { // columns: row by row, the chunk's neurons side by side
                int c = to - from;
                double[] ab = new double[c];
                double[] aa = new double[c];
                double[] bb = new double[c];
                for (long o = 0; o < layout.outer(); o++) { // each neuron's order stays: row, then inner elements
                    long ra = ma.rowStart(o);
                    long rb = mb.rowStart(o);
                    for (int i = from; i < to; i++) {
                        int xa = (int) (ra + ma.columnStart(layout.offset() + i));
                        int xb = (int) (rb + mb.columnStart(layout.offset() + i));
                        for (int t = 0; t < run; t++) {
                            double u = fa.get(xa + t);
                            double v = fb.get(xb + t);
                            ab[i - from] += u * v;
                            aa[i - from] += u * u;
                            bb[i - from] += v * v;
                        }
                    }
                }
                for (int i = from; i < to; i++) {
                    out[i] = ab[i - from] / (Math.max(Math.sqrt(aa[i - from]), PrefilteredMatch.NORM_EPS)
                            * Math.max(Math.sqrt(bb[i - from]), PrefilteredMatch.NORM_EPS));
                }
                return;
            }
            for (int i = from; i < to; i++) {
                double ab = 0;
                double aa = 0;
                double bb = 0;
                // MemberSlices.rows order: the neuron's block index, then every outer index, then the inner elements
                for (long k = 0; k < layout.block(); k++) {
                    for (long o = 0; o < layout.outer(); o++) {
                        long start = (o * layout.axisLength() + layout.offset() + i * layout.block() + k) * run;
                        for (long t = start; t < start + run; t++) {
                            double u = fa.get(ma.index(t));
                            double v = fb.get(mb.index(t));
                            ab += u * v;
                            aa += u * u;
                            bb += v * v;
                        }
                    }
                }
                out[i] = ab / (Math.max(Math.sqrt(aa), PrefilteredMatch.NORM_EPS) * Math.max(Math.sqrt(bb),
                        PrefilteredMatch.NORM_EPS));
            }
        });
        java.lang.ref.Reference.reachabilityFence(a);
        java.lang.ref.Reference.reachabilityFence(b);
        return out;
    }

    /**
     * As {@link #accumulateSquaredNorms(HostTensor, double[])} on {@code MemberSlices.rows(t, m, n)}, read in place
     * through the index maps ({@link #readsInPlace}): same values, same order, no gathered copy.
     */
    static void accumulateSquaredNorms(IndexedTensor t, Member m, long n, double[] acc) {
        Mapped mt = Mapped.of(t);
        MemberSlices.Layout layout = MemberSlices.layout(t.shape(), m, n);
        PrefilteredMatch.parallelChunks(acc.length, (from, to) -> {
            FloatBuffer f = mt.floats();
            long run = layout.inner();
            if (m.axis() == 1 && layout.block() == 1) { // columns: row by row, as in diagonalCosine
                double[] sums = new double[to - from];
                for (long o = 0; o < layout.outer(); o++) {
                    long r = mt.rowStart(o);
                    for (int i = from; i < to; i++) {
                        int x = (int) (r + mt.columnStart(layout.offset() + i));
                        for (int e = 0; e < run; e++) {
                            float v = f.get(x + e);
                            sums[i - from] += v * v;
                        }
                    }
                }
                for (int i = from; i < to; i++) {
                    acc[i] += sums[i - from];
                }
                return;
            }
            for (int i = from; i < to; i++) {
                double sum = 0;
                for (long k = 0; k < layout.block(); k++) { // MemberSlices.rows order, as above
                    for (long o = 0; o < layout.outer(); o++) {
                        long start = (o * layout.axisLength() + layout.offset() + i * layout.block() + k) * run;
                        for (long e = start; e < start + run; e++) {
                            float v = f.get(mt.index(e));
                            sum += v * v;
                        }
                    }
                }
                acc[i] += sum;
            }
        });
        java.lang.ref.Reference.reachabilityFence(t);
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
     * The exact assignment's answer when it needs no search: every row's maximum (the lowest column on ties) is a
     * different column. That permutation puts every row on its maximum, so it maximizes the sum, and it is what
     * the assignment kernel returns for such a matrix (its greedy start takes each row's argmax, lowest column
     * on ties, and leaves nothing to augment). Null when two rows share their argmax or a value is not finite
     * (then {@link #assign}: the kernel resolves the collisions, or refuses the matrix).
     */
    static long[] argmaxPermutation(float[] s, int n) {
        long[] out = new long[n];
        boolean[] bad = new boolean[1];
        PrefilteredMatch.parallelChunks(n, (from, to) -> {
            for (int i = from; i < to && !bad[0]; i++) {
                int row = i * n;
                int best = 0;
                float bv = s[row];
                boolean finite = Float.isFinite(bv);
                for (int j = 1; j < n; j++) {
                    float v = s[row + j];
                    finite &= Float.isFinite(v);
                    if (v > bv) {
                        bv = v;
                        best = j;
                    }
                }
                if (!finite) {
                    bad[0] = true;
                }
                out[i] = best;
            }
        });
        if (bad[0]) {
            return null;
        }
        boolean[] taken = new boolean[n];
        for (int i = 0; i < n; i++) {
            if (taken[(int) out[i]]) {
                return null;
            }
            taken[(int) out[i]] = true;
        }
        return out;
    }

    /** Exact maximum-similarity assignment: always a permutation. */
    static long[] assign(Backend backend, float[] s, int n) {
        return widen(Kernels.assign(backend, s, n));
    }

    private static long[] widen(int[] indices) {
        long[] out = new long[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = indices[i];
        }
        return out;
    }

}
