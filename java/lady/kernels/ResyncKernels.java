package lady.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

import lady.LadyException;
import lady.kernels.bridge.LadyNative;

/**
 * The resync kernels of native/include/lady.h (kernels 2-4): row normalization and cosine similarity,
 * ranking (argmax with second best, top-k, canonical sort) and exact linear assignment, each with a
 * reference, CPU and CUDA backend.
 *
 * <p>Two forms of every call: one over raw host addresses and sizes (zero copy, e.g. from a contiguous
 * libtorch float32 tensor's {@code data_ptr().address()}; the caller keeps the memory alive), and a
 * convenient one over Java arrays (copied to native memory and back). Arguments are validated here
 * first, with messages naming the problem, then natively again; statuses become
 * {@link LadyException}s through {@link Kernels#check}. Public entry points are also reachable from
 * {@link Kernels}.
 */
public final class ResyncKernels {
    private ResyncKernels() {}

    // ---- similarity ------------------------------------------------------------------------------

    /** out[n x m] = cosine similarity of the rows of a[n x d] and b[m x d] (centered: Pearson). */
    public static void cosineSimilarity(Backend backend, long a, long b, long n, long m, long d, boolean centered,
            long out) {
        requireSize("rows of a", n);
        requireSize("rows of b", m);
        requireSize("row dimension", d);
        requireAddress("matrix a", a, n * d);
        requireAddress("matrix b", b, m * d);
        requireAddress("output", out, n * m);
        Kernels.ensureLoaded();
        int c = centered ? 1 : 0;
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_cosine_similarity_ref(a, b, n, m, d, c, out);
            case CPU -> LadyNative.lady_cosine_similarity_cpu(a, b, n, m, d, c, out);
            case CUDA -> LadyNative.lady_cosine_similarity_cuda(a, b, n, m, d, c, out);
        };
        Kernels.check(status, "cosine similarity");
    }

    /** The n x m cosine similarity of the rows of a (n x d) and b (m x d), row-major. */
    public static float[] cosineSimilarity(Backend backend, float[] a, float[] b, int n, int m, int d,
            boolean centered) {
        requireMatrix("matrix a", a, n, d);
        requireMatrix("matrix b", b, m, d);
        long outLength = requireElements("similarity", n, m);
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b);
                FloatPointer po = new FloatPointer(Math.max(1, outLength))) {
            cosineSimilarity(backend, pa.address(), pb.address(), n, m, d, centered, po.address());
            float[] out = new float[(int) outLength];
            po.get(out);
            return out;
        }
    }

    /** out = rows of in[rows x d] divided by max(L2 norm, 1e-12), after centering if asked. */
    public static void normalizeRows(Backend backend, long in, long out, long rows, long d, boolean centered) {
        requireSize("rows", rows);
        requireSize("row dimension", d);
        requireAddress("input", in, rows * d);
        requireAddress("output", out, rows * d);
        Kernels.ensureLoaded();
        int c = centered ? 1 : 0;
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_normalize_rows_ref(in, out, rows, d, c);
            case CPU -> LadyNative.lady_normalize_rows_cpu(in, out, rows, d, c);
            case CUDA -> LadyNative.lady_normalize_rows_cuda(in, out, rows, d, c);
        };
        Kernels.check(status, "normalize rows");
    }

    public static float[] normalizeRows(Backend backend, float[] x, int rows, int d, boolean centered) {
        requireMatrix("input", x, rows, d);
        try (FloatPointer p = new FloatPointer(x)) {
            normalizeRows(backend, p.address(), p.address(), rows, d, centered);
            float[] out = new float[x.length];
            p.get(out);
            return out;
        }
    }

    // ---- ranking ---------------------------------------------------------------------------------

    /** Per row of s[n x m]: argmax column (int32), best and second-best values (float32). */
    public static void argmaxTop2(Backend backend, long s, long n, long m, long index, long best, long second) {
        requireSize("rows", n);
        requireSize("columns", m);
        if (n > 0 && m == 0) {
            throw LadyException.invalidInput("argmax: the " + n + " rows have no columns");
        }
        requireAddress("matrix", s, n * m);
        requireAddress("index output", index, n);
        requireAddress("best output", best, n);
        requireAddress("second output", second, n);
        Kernels.ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_argmax_top2_ref(s, n, m, index, best, second);
            case CPU -> LadyNative.lady_argmax_top2_cpu(s, n, m, index, best, second);
            case CUDA -> LadyNative.lady_argmax_top2_cuda(s, n, m, index, best, second);
        };
        Kernels.check(status, "argmax");
    }

    public static ArgmaxTop2 argmaxTop2(Backend backend, float[] s, int n, int m) {
        requireMatrix("matrix", s, n, m);
        requireNoNaN("matrix", s, m, false);
        try (FloatPointer ps = new FloatPointer(s); IntPointer pi = new IntPointer(Math.max(1, n));
                FloatPointer pb = new FloatPointer(Math.max(1, n)); FloatPointer p2 = new FloatPointer(Math.max(1, n))) {
            argmaxTop2(backend, ps.address(), n, m, pi.address(), pb.address(), p2.address());
            int[] index = new int[n];
            float[] best = new float[n];
            float[] second = new float[n];
            pi.get(index);
            pb.get(best);
            p2.get(second);
            return new ArgmaxTop2(index, best, second);
        }
    }

    /** Per row of s[n x m], the k best columns in order: indices[n x k] (int32), values[n x k]. */
    public static void topK(Backend backend, long s, long n, long m, long k, long indices, long values) {
        requireSize("rows", n);
        requireSize("columns", m);
        if (n > 0 && (k < 1 || k > m)) {
            throw LadyException.invalidInput("top-k: k = " + k + " is outside 1.." + m + " (the number of columns)");
        }
        requireAddress("matrix", s, n * m);
        requireAddress("indices output", indices, n * k);
        requireAddress("values output", values, n * k);
        Kernels.ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_topk_ref(s, n, m, k, indices, values);
            case CPU -> LadyNative.lady_topk_cpu(s, n, m, k, indices, values);
            case CUDA -> LadyNative.lady_topk_cuda(s, n, m, k, indices, values);
        };
        Kernels.check(status, "top-k");
    }

    public static TopK topK(Backend backend, float[] s, int n, int m, int k) {
        requireMatrix("matrix", s, n, m);
        if (n > 0 && (k < 1 || k > m)) {
            throw LadyException.invalidInput("top-k: k = " + k + " is outside 1.." + m + " (the number of columns)");
        }
        requireNoNaN("matrix", s, m, false);
        int outLength = (int) requireElements("top-k output", n, k);
        try (FloatPointer ps = new FloatPointer(s); IntPointer pi = new IntPointer(Math.max(1, outLength));
                FloatPointer pv = new FloatPointer(Math.max(1, outLength))) {
            topK(backend, ps.address(), n, m, k, pi.address(), pv.address());
            int[] indices = new int[outLength];
            float[] values = new float[outLength];
            pi.get(indices);
            pv.get(values);
            return new TopK(n, k, indices, values);
        }
    }

    /** order[n] (int32): indices of scores[n] by score descending, ties by lower index. */
    public static void sortDescending(Backend backend, long scores, long n, long order) {
        requireSize("scores", n);
        requireAddress("scores", scores, n);
        requireAddress("order output", order, n);
        Kernels.ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_sort_desc_ref(scores, n, order);
            case CPU -> LadyNative.lady_sort_desc_cpu(scores, n, order);
            case CUDA -> LadyNative.lady_sort_desc_cuda(scores, n, order);
        };
        Kernels.check(status, "sort");
    }

    /** The canonical order (method.md section 5): indices sorted by score descending, stable. */
    public static int[] sortDescending(Backend backend, float[] scores) {
        if (scores == null) {
            throw LadyException.invalidInput("sort: scores are missing (null)");
        }
        requireNoNaN("scores", scores, Math.max(1, scores.length), false);
        try (FloatPointer ps = new FloatPointer(scores); IntPointer po = new IntPointer(Math.max(1, scores.length))) {
            sortDescending(backend, ps.address(), scores.length, po.address());
            int[] order = new int[scores.length];
            po.get(order);
            return order;
        }
    }

    // ---- assignment ------------------------------------------------------------------------------

    /** perm[n] (int32): a permutation maximizing sum_i s[i, perm[i]] over the square s[n x n]. */
    public static void assign(Backend backend, long s, long n, long perm) {
        requireSize("assignment size", n);
        requireAddress("matrix", s, n * n);
        requireAddress("permutation output", perm, n);
        Kernels.ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_assign_ref(s, n, perm);
            case CPU -> LadyNative.lady_assign_cpu(s, n, perm);
            case CUDA -> LadyNative.lady_assign_cuda(s, n, perm);
        };
        Kernels.check(status, "assignment");
    }

    /**
     * The exact maximum-weight assignment of a square row-major matrix: row i goes to column
     * result[i]; always a permutation. NaN or infinite values are refused.
     */
    public static int[] assign(Backend backend, float[] matrix, int n) {
        requireMatrix("assignment matrix", matrix, n, n);
        requireNoNaN("assignment matrix", matrix, Math.max(1, n), true);
        try (FloatPointer ps = new FloatPointer(matrix); IntPointer pp = new IntPointer(Math.max(1, n))) {
            assign(backend, ps.address(), n, pp.address());
            int[] perm = new int[n];
            pp.get(perm);
            return perm;
        }
    }

    /** sum_i s[i, perm[i]] in double. */
    public static double objective(float[] matrix, int n, int[] perm) {
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += matrix[i * n + perm[i]];
        }
        return total;
    }

    // ---- validation ------------------------------------------------------------------------------

    private static void requireSize(String what, long size) {
        if (size < 0) {
            throw LadyException.invalidInput(what + " is negative (" + size + ")");
        }
    }

    private static void requireAddress(String what, long address, long elements) {
        if (elements > 0 && address == 0) {
            throw LadyException.invalidInput(what + " has a null address");
        }
    }

    private static long requireElements(String what, long rows, long cols) {
        long count = rows * cols;
        if (count > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput(what + " of " + rows + " x " + cols
                    + " does not fit a Java array: use the address form");
        }
        return count;
    }

    private static void requireMatrix(String what, float[] x, int rows, int cols) {
        if (x == null) {
            throw LadyException.invalidInput(what + " is missing (null)");
        }
        if (rows < 0 || cols < 0) {
            throw LadyException.invalidInput(what + " has a negative size (" + rows + " x " + cols + ")");
        }
        long expected = (long) rows * cols;
        if (x.length != expected) {
            throw LadyException.invalidInput(what + " has " + x.length + " values but " + rows + " x " + cols
                    + " = " + expected + " were expected");
        }
    }

    private static void requireNoNaN(String what, float[] x, int cols, boolean rejectInfinite) {
        for (int g = 0; g < x.length; g++) {
            float v = x[g];
            if (Float.isNaN(v) || (rejectInfinite && Float.isInfinite(v))) {
                throw LadyException.invalidInput(String.format("%s has a %s value at row %d, column %d", what,
                        Float.isNaN(v) ? "NaN" : "infinite", g / cols, g % cols));
            }
        }
    }
}
