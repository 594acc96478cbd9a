package lady.resync;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

import org.bytedeco.javacpp.FloatPointer;

import lady.LadyException;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.torch.Torch;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.util.Seeds;

/**
 * The exact assignment of a large group without its dense N x N cosine matrix (torchvision VGG16's
 * classifier.0 alone is 4096 x 4096 x 25088 x 2 = 0.84 TFLOP dense).
 *
 * <p>The group's similarity is, as in the dense path, {@code S[i, j] = sum over row sets p of
 * w_p cos(ref row i, suspect row j)} (the row sets and weights of {@link Combination}). Steps:
 * <ol>
 * <li><b>Sketch.</b> One pass over every producer's rows computes, per row, its exact squared norm
 * and a {@link #SKETCH_DIMS}-dimensional sign sketch (a count sketch: coordinate t goes to bucket
 * {@code t mod K} with a seeded random sign; sketch = x^T R for a sparse random sign matrix R, the
 * same R for reference and suspect). Divided by the row's exact norm, the inner product of two
 * sketches is an unbiased estimate {@code E[i, j]} of the cosine.</li>
 * <li><b>Estimate.</b> All estimates at once: one N x N product of the sketches (the native cosine
 * kernel on N x (P K) instead of N x D; rescaled to inner products).</li>
 * <li><b>Confirm.</b> Per reference row, the exact similarity (full rows, double accumulation) of
 * its best estimated column c1, then of every column whose estimate could still reach it:
 * {@code E[i, j] >= S[i, c1] - Z sigma_i}. The sketch error's variance is at most
 * {@code 2 sum_p f_p(i) f_p(j)} for ANY rows (with {@code f = ||bucket masses||_2 / ||x||^2}, between
 * 1/sqrt(K) for spread rows and 1 for concentrated ones), so {@code sigma_i} bounds its standard
 * deviation and {@code Z = }{@link #BOUND_SIGMAS} standard deviations bound the error (sub-Gaussian
 * tails of a Rademacher chaos, Hanson-Wright). Columns left out therefore have
 * {@code S[i, j] < ub_i <= S[i, c1]}: the row's exact maximum is among its confirmed candidates.</li>
 * <li><b>Match.</b> When every row's best confirmed column is a different column, that permutation
 * maximizes every row at once, hence the sum: it is the dense optimum. Otherwise the assignment is
 * solved on the candidate edges and accepted only with a certificate: any assignment that uses a
 * left-out edge (i, j) is worth at most {@code sum_i rowmax_i - (rowmax_i - ub_i)}, so the
 * candidate optimum V is the dense optimum when {@code sum rowmax - V < min_i (rowmax_i - ub_i)}.</li>
 * </ol>
 * The group goes back to the dense path (null result) when it is ambiguous: a row with more than
 * {@link #MAX_EXTRA_CANDIDATES} columns within reach of its best (weak or noisy matches), a zero row
 * (no direction), or a failed certificate. Exactness thus rests only on the stated error bound,
 * never on luck in the candidate list.
 *
 * <p>Confidence margins are exact, equal to the dense path's (best minus second-best similarity of each
 * reference row): where a row's best confirmed other column reaches {@code ub_i} (the bound of every column
 * left out), it is the second best; otherwise the row's similarities are computed in full with the native
 * kernel, in blocks of rows ({@link #exactMargins}). The sketch's bound (Z sigma, about 0.4 to 0.9) is far
 * wider than the gap between the second-best similarity and the rest of a row, so on real groups most rows
 * take the full computation: the margins cost about one dense similarity product per group, the match
 * still comes without the dense N x N matrix and its assignment (bench/RESULTS.md).
 */
final class PrefilteredMatch {
    private PrefilteredMatch() {}

    /** Sketch dimensions K per producer. 256 keeps the sketch error's bound (7 sigma, about 0.44 for
     * spread rows) well below a clear match's similarity while the estimate product stays about D / K
     * times cheaper than the dense one (98x for classifier.0, 16x for classifier.3). */
    static final int SKETCH_DIMS = 256;
    /** Standard deviations of the sketch error that bound it (Z): per pair about 1e-12 for Gaussian tails. */
    static final double BOUND_SIGMAS = 7.0;
    /** Columns per row, beyond the best estimated one, that may be confirmed before the group is called ambiguous. */
    static final int MAX_EXTRA_CANDIDATES = 32;
    /** {@link Prefilter#AUTO}: prefilter when the dense product 2 N^2 D (D summed over producers) reaches this
     * many FLOP (VGG16: classifier.0 0.84 TFLOP, classifier.3 137 GFLOP, features.19-28 2.4 GFLOP each,
     * features.10 0.15 GFLOP; below, the fixed costs of the sketch passes are not repaid)... */
    static final double AUTO_MIN_DENSE_FLOP = 1e8;
    /** ... and the rows are at least this many times longer than the sketch (else the sketch saves little). */
    static final int AUTO_MIN_DIM_RATIO = 4;
    /** Seed of the sketch's random signs (fixed: the result does not depend on it, only the speed). */
    static final long SIGN_SEED = 0x1ad7_5e7c_8a11_0b5eL;
    /** Row normalization floor, as torch.nn.functional.normalize and the native kernels. */
    static final double NORM_EPS = 1e-12;
    /** Certificate slack per row: the exact similarities here and the dense kernel's float sums differ
     * by rounding only; the certificate keeps this much room per row for it. */
    static final double CERTIFICATE_SLACK_PER_ROW = 1e-6;
    /** Partial sums of the exact dot products (a multiple of the vector width, so the loop vectorizes). */
    static final int DOT_LANES = 64;

    /**
     * A prefiltered group's answer: the match, the exact margins (as the dense path's), the rows' squared norms.
     */
    record Outcome(long[] match, double[] margins, double[] refNorm2, double[] susNorm2) {}

    /** Whether {@code mode} asks for the prefilter on a group of n neurons with producer rows of total length d. */
    static boolean wanted(Prefilter mode, int n, long d) {
        return switch (mode) {
            case OFF -> false;
            case ON -> n > 1;
            case AUTO -> worthIt(n, d);
        };
    }

    /** The {@link Prefilter#AUTO} rule. */
    static boolean worthIt(int n, long d) {
        return 2.0 * n * n * d >= AUTO_MIN_DENSE_FLOP && d >= (long) AUTO_MIN_DIM_RATIO * SKETCH_DIMS;
    }

    /**
     * The dense optimum of the group whose row sets are {@code refs[p]} and {@code suss[p]}
     * (contiguous float32 N x D_p each) with weights {@code weights[p]}, or null when the prefilter
     * cannot prove it (then use dense).
     */
    static Outcome solve(Backend backend, List<HostTensor> refs, List<HostTensor> suss, double[] weights, int n) {
        int producers = refs.size();
        int k = SKETCH_DIMS;
        List<Rows> refRows = new ArrayList<>();
        List<Rows> susRows = new ArrayList<>();
        float[] x = new float[n * producers * k];
        float[] y = new float[n * producers * k];
        double[] refNorm2 = new double[n];
        double[] susNorm2 = new double[n];
        double[] refSpread2 = new double[n]; // sum over producers of 2 f_p(i) g_p,max: the variance bound of row i
        double[][] refNorms = new double[producers][];
        double[][] susNorms = new double[producers][];
        for (int p = 0; p < producers; p++) {
            if (refs.get(p).numel() > Integer.MAX_VALUE) {
                return null; // rows are read through a Java buffer (int indices): dense path
            }
            Rows a = new Rows(refs.get(p), n);
            Rows b = new Rows(suss.get(p), n);
            refRows.add(a);
            susRows.add(b);
            float[] signs = signs(a.d, p);
            Sketch sa = sketch(a, signs);
            Sketch sb = sketch(b, signs);
            refNorms[p] = sa.norms();
            susNorms[p] = sb.norms();
            double gMax = 0;
            for (int j = 0; j < n; j++) {
                if (sa.norm2[j] == 0 || sb.norm2[j] == 0) {
                    return null; // zero rows have no direction: the dense path handles them
                }
                gMax = Math.max(gMax, sb.spread[j]);
            }
            for (int i = 0; i < n; i++) {
                refNorm2[i] += sa.norm2[i];
                susNorm2[i] += sb.norm2[i];
                refSpread2[i] += 2 * sa.spread[i] * gMax * weights[p] * weights[p];
                sa.normalizedInto(i, x, (i * producers + p) * k, Math.sqrt(weights[p]));
                sb.normalizedInto(i, y, (i * producers + p) * k, Math.sqrt(weights[p]));
            }
        }
        // estimates: E[i, j] = <x_i, y_j> = cosine kernel * |x_i| * |y_j|
        int dk = producers * k;
        // the N x N output stays in native memory (read in place): no Java copy of it
        HostTensor cosTensor = HostTensor.allocate(DType.FLOAT32, n, n);
        try (FloatPointer px = new FloatPointer(x); FloatPointer py = new FloatPointer(y)) {
            Kernels.cosineSimilarity(backend, px.address(), py.address(), n, n, dk, false, cosTensor.address());
        }
        FloatBuffer cos = cosTensor.floats();
        double[] xn = rowNorms(x, n, dk);
        double[] yn = rowNorms(y, n, dk);
        Exact exact = new Exact(refRows, susRows, refNorms, susNorms, weights);
        // per row, the best estimates in descending order (enough to tell an ambiguous row)
        int top = Math.min(n, MAX_EXTRA_CANDIDATES + 2);
        int[] topIndex = new int[n * top];
        double[] topValue = new double[n * top];
        parallel(n, i -> topEstimates(cos, n, xn[i], yn, i, top, topIndex, topValue));
        int[] best = new int[n];
        for (int i = 0; i < n; i++) {
            best[i] = topIndex[i * top];
        }
        double[] bestValue = exact.similarities(best);
        // candidates: every column whose estimate could reach the best estimated column's exact value;
        // every column outside the top list has an estimate at most the list's last one
        int[][] candidates = new int[n][];
        double[] ub = new double[n];
        for (int i = 0; i < n; i++) {
            double reach = BOUND_SIGMAS * Math.sqrt(refSpread2[i]);
            double threshold = bestValue[i] - reach;
            int count = 1;
            while (count < top && topValue[i * top + count] >= threshold) {
                count++;
            }
            if (count == top && top < n) {
                return null; // more columns within reach than the list holds: ambiguous
            }
            candidates[i] = Arrays.copyOfRange(topIndex, i * top, i * top + count);
            ub[i] = count < top ? topValue[i * top + count] + reach : Double.NEGATIVE_INFINITY;
        }
        double[][] values = exact.candidates(candidates, bestValue);
        long[] match = new long[n];
        double[] rowMax = new double[n];
        boolean[] taken = new boolean[n];
        boolean bijective = true;
        for (int i = 0; i < n; i++) {
            int arg = 0;
            for (int c = 1; c < candidates[i].length; c++) {
                if (values[i][c] > values[i][arg]) {
                    arg = c;
                }
            }
            rowMax[i] = values[i][arg];
            match[i] = candidates[i][arg];
            bijective &= !taken[(int) match[i]];
            taken[(int) match[i]] = true;
        }
        if (!bijective && !certifiedAssignment(backend, candidates, values, rowMax, ub, Arrays.stream(weights).sum(), match)) {
            return null;
        }
        // margins, exactly as the dense path computes them: best minus the best other column. Where the best
        // confirmed other column beats the bound of every column left out, it is the row's exact second best;
        // elsewhere the row's similarities are computed in full
        double[] margins = new double[n];
        int[] undecided = new int[n];
        int open = 0;
        for (int i = 0; i < n; i++) {
            double chosen = Double.NaN;
            double other = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < candidates[i].length; c++) {
                if (candidates[i][c] == match[i]) {
                    chosen = values[i][c];
                } else {
                    other = Math.max(other, values[i][c]);
                }
            }
            margins[i] = chosen - other;
            if (other < ub[i]) {
                undecided[open++] = i;
            }
        }
        exactMargins(backend, refs, suss, weights, n, match, Arrays.copyOf(undecided, open), margins);
        java.lang.ref.Reference.reachabilityFence(cosTensor);
        return new Outcome(match, margins, refNorm2, susNorm2);
    }

    /** Reference rows whose exact margins are computed together (a block of rows x N floats). */
    static final int MARGIN_BLOCK_ROWS = 1024;

    /**
     * The margins of {@code rows} (ascending) from their full similarity rows, as the dense path computes them
     * (per row set the native cosine kernel in float, weighted by {@code weights} and summed in double, rounded to
     * float as {@link Combination#similarity}; best minus best other column), in blocks of at most {@link #MARGIN_BLOCK_ROWS} reference rows against every suspect row. A block of
     * consecutive rows is read in place; scattered rows are gathered first.
     */
    static void exactMargins(Backend backend, List<HostTensor> refs, List<HostTensor> suss, double[] weights, int n,
            long[] match, int[] rows, double[] margins) {
        int from = 0;
        while (from < rows.length) {
            // the next block: rows[from..to) spanning at most MARGIN_BLOCK_ROWS reference rows
            int to = from + 1;
            while (to < rows.length && to - from < MARGIN_BLOCK_ROWS && rows[to] - rows[from] < MARGIN_BLOCK_ROWS) {
                to++;
            }
            int k = to - from;
            boolean consecutive = rows[to - 1] - rows[from] == k - 1;
            double[] s = new double[k * n];
            float[] part = new float[k * n];
            HostTensor out = HostTensor.allocate(DType.FLOAT32, k, n);
            for (int p = 0; p < refs.size(); p++) {
                HostTensor ref = refs.get(p);
                long d = ref.numel() / n;
                long rowBytes = d * Float.BYTES;
                HostTensor a = ref;
                long address = ref.address() + rows[from] * rowBytes;
                if (!consecutive) { // scattered rows: gathered into a block of their own
                    a = HostTensor.allocate(DType.FLOAT32, k, d);
                    for (int r = 0; r < k; r++) {
                        HostTensor.copyBytes(a.address() + r * rowBytes, ref.address() + rows[from + r] * rowBytes, rowBytes);
                    }
                    address = a.address();
                }
                HostTensor b = suss.get(p);
                Kernels.cosineSimilarity(backend, address, b.address(), k, n, d, false, out.address());
                out.floats().get(part);
                double w = weights[p];
                for (int t = 0; t < part.length; t++) {
                    s[t] += w * part[t];
                }
                java.lang.ref.Reference.reachabilityFence(a);
                java.lang.ref.Reference.reachabilityFence(ref);
                java.lang.ref.Reference.reachabilityFence(b);
            }
            java.lang.ref.Reference.reachabilityFence(out);
            for (int r = 0; r < k; r++) {
                int i = rows[from + r];
                int chosen = (int) match[i];
                float other = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    if (j != chosen && (float) s[r * n + j] > other) {
                        other = (float) s[r * n + j];
                    }
                }
                margins[i] = (double) (float) s[r * n + chosen] - other;
            }
            from = to;
        }
    }

    /** Row i's {@code top} largest estimates E[i, j] = cos[i, j] |x_i| |y_j|, descending (ties: lower j first). */
    private static void topEstimates(FloatBuffer cos, int n, double xi, double[] yn, int i, int top, int[] index,
            double[] value) {
        int base = i * top;
        int count = 0;
        int row = i * n;
        for (int j = 0; j < n; j++) {
            double e = cos.get(row + j) * xi * yn[j];
            if (count == top && e <= value[base + top - 1]) {
                continue;
            }
            int at = count == top ? top - 1 : count++;
            while (at > 0 && value[base + at - 1] < e) {
                value[base + at] = value[base + at - 1];
                index[base + at] = index[base + at - 1];
                at--;
            }
            value[base + at] = e;
            index[base + at] = j;
        }
    }

    /** The assignment on the candidate edges, into {@code match}; true when certified optimal for the dense matrix. */
    private static boolean certifiedAssignment(Backend backend, int[][] candidates, double[][] values, double[] rowMax,
            double[] ub, double totalWeight, long[] match) {
        int n = candidates.length;
        // left-out edges get a value below any weighted sum of cosines: the solver avoids them when it can
        float[] s = new float[n * n];
        Arrays.fill(s, (float) -(totalWeight + 1));
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < candidates[i].length; c++) {
                s[i * n + candidates[i][c]] = (float) values[i][c];
            }
        }
        int[] perm = Kernels.assign(backend, s, n);
        double total = 0;
        double rowMaxSum = 0;
        double minGap = Double.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            int c = indexOf(candidates[i], perm[i]);
            if (c < 0) {
                return false; // the candidate edges hold no perfect matching
            }
            total += values[i][c];
            rowMaxSum += rowMax[i];
            minGap = Math.min(minGap, rowMax[i] - ub[i]);
            match[i] = perm[i];
        }
        return rowMaxSum - total + n * CERTIFICATE_SLACK_PER_ROW < minGap;
    }

    private static int indexOf(int[] a, int v) {
        for (int c = 0; c < a.length; c++) {
            if (a[c] == v) {
                return c;
            }
        }
        return -1;
    }

    /** Seeded random signs (+1 / -1) for the coordinates of producer {@code p}'s rows. */
    private static float[] signs(int d, int p) {
        SplittableRandom r = new SplittableRandom(Seeds.derive(SIGN_SEED, "prefilter-signs", p));
        float[] s = new float[d];
        for (int t = 0; t < d; t++) {
            s[t] = r.nextBoolean() ? 1f : -1f;
        }
        return s;
    }

    private static double[] rowNorms(float[] m, int rows, int d) {
        double[] out = new double[rows];
        for (int i = 0; i < rows; i++) {
            double acc = 0;
            for (int t = 0; t < d; t++) {
                acc += (double) m[i * d + t] * m[i * d + t];
            }
            out[i] = Math.sqrt(acc);
        }
        return out;
    }

    /** Per row: sketch (K buckets), exact squared norm, spread f = ||bucket masses||_2 / ||x||^2. */
    private record Sketch(float[] sketch, double[] norm2, double[] spread) {
        /** Row norms with the normalization floor. */
        double[] norms() {
            double[] out = new double[norm2.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = Math.max(Math.sqrt(norm2[i]), NORM_EPS);
            }
            return out;
        }

        void normalizedInto(int i, float[] out, int offset, double factor) {
            double scale = factor / Math.max(Math.sqrt(norm2[i]), NORM_EPS);
            for (int c = 0; c < SKETCH_DIMS; c++) {
                out[offset + c] = (float) (sketch[i * SKETCH_DIMS + c] * scale);
            }
        }
    }

    private static Sketch sketch(Rows r, float[] signs) {
        int n = r.n;
        int d = r.d;
        int k = SKETCH_DIMS;
        float[] sk = new float[n * k];
        double[] norm2 = new double[n];
        double[] spread = new double[n];
        int full = d - d % k;
        parallelChunks(n, (from, to) -> {
            float[] row = new float[d];
            float[] acc = new float[k];
            float[] mass = new float[k];
            for (int i = from; i < to; i++) {
                r.row(i, row);
                Arrays.fill(acc, 0f);
                Arrays.fill(mass, 0f);
                for (int o = 0; o < full; o += k) {
                    for (int c = 0; c < k; c++) {
                        float w = row[o + c];
                        acc[c] += signs[o + c] * w;
                        mass[c] += w * w;
                    }
                }
                for (int t = full; t < d; t++) {
                    float w = row[t];
                    acc[t - full] += signs[t] * w;
                    mass[t - full] += w * w;
                }
                double total = 0;
                double squares = 0;
                for (int c = 0; c < k; c++) {
                    total += mass[c];
                    squares += (double) mass[c] * mass[c];
                }
                norm2[i] = total;
                // with at most one coordinate per bucket the sketch is exact (no cross terms): no error to bound
                spread[i] = total > 0 && d > k ? Math.sqrt(squares) / total : 0;
                System.arraycopy(acc, 0, sk, i * k, k);
            }
        });
        return new Sketch(sk, norm2, spread);
    }

    /** A contiguous float32 N x D tensor's rows, read from native memory (the tensor is kept alive). */
    private static final class Rows {
        final HostTensor tensor;
        final FloatBuffer buffer;
        final int n;
        final int d;

        Rows(HostTensor t, int n) {
            this.tensor = t;
            this.n = n;
            this.d = Math.toIntExact(t.numel() / n);
            this.buffer = t.floats();
        }

        void row(int i, float[] out) {
            buffer.get(i * d, out, 0, d);
        }
    }

    /** Exact summed cosines of chosen (reference row, suspect row) pairs, over all producers. */
    private static final class Exact {
        final List<Rows> refs;
        final List<Rows> suss;
        final double[][] refNorm;
        final double[][] susNorm;

        final double[] weights;

        Exact(List<Rows> refs, List<Rows> suss, double[][] refNorm, double[][] susNorm, double[] weights) {
            this.weights = weights;
            this.refs = refs;
            this.suss = suss;
            this.refNorm = refNorm;
            this.susNorm = susNorm;
        }

        /** S[i, columns[i]] for every row i. */
        double[] similarities(int[] columns) {
            int[][] one = new int[columns.length][];
            for (int i = 0; i < columns.length; i++) {
                one[i] = new int[] {columns[i]};
            }
            double[][] v = compute(one, 0);
            double[] out = new double[columns.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = v[i][0];
            }
            return out;
        }

        /** S[i, candidates[i][c]]; the first candidate of every row is already known ({@code first}). */
        double[][] candidates(int[][] candidates, double[] first) {
            double[][] v = compute(candidates, 1);
            for (int i = 0; i < v.length; i++) {
                v[i][0] = first[i];
            }
            return v;
        }

        private double[][] compute(int[][] columns, int skip) {
            int n = columns.length;
            double[][] out = new double[n][];
            int producers = refs.size();
            parallelChunks(n, (from, to) -> {
                float[][] a = new float[producers][];
                float[] b = new float[0];
                float[] acc = new float[DOT_LANES];
                for (int p = 0; p < producers; p++) {
                    a[p] = new float[refs.get(p).d];
                }
                for (int i = from; i < to; i++) {
                    out[i] = new double[columns[i].length];
                    if (columns[i].length <= skip) {
                        continue;
                    }
                    for (int p = 0; p < producers; p++) {
                        refs.get(p).row(i, a[p]);
                    }
                    for (int c = skip; c < columns[i].length; c++) {
                        int j = columns[i][c];
                        double s = 0;
                        for (int p = 0; p < producers; p++) {
                            Rows sus = suss.get(p);
                            if (b.length != sus.d) {
                                b = new float[sus.d];
                            }
                            sus.row(j, b);
                            s += weights[p] * dot(a[p], b, acc) / (refNorm[p][i] * susNorm[p][j]);
                        }
                        out[i][c] = s;
                    }
                }
            });
            return out;
        }
    }

    /** sum_t a[t] b[t]: DOT_LANES float partial sums (the inner loop vectorizes), added in double. */
    static double dot(float[] a, float[] b, float[] acc) {
        int d = a.length;
        Arrays.fill(acc, 0f);
        int full = d - d % DOT_LANES;
        for (int o = 0; o < full; o += DOT_LANES) {
            for (int c = 0; c < DOT_LANES; c++) {
                acc[c] += a[o + c] * b[o + c];
            }
        }
        double s = 0;
        for (int t = full; t < d; t++) {
            s += (double) a[t] * b[t];
        }
        for (int c = 0; c < DOT_LANES; c++) {
            s += acc[c];
        }
        return s;
    }

    private interface RowBody {
        void run(int i);
    }

    private interface RangeBody {
        void run(int from, int to);
    }

    private static void parallel(int n, RowBody body) {
        parallelChunks(n, (from, to) -> {
            for (int i = from; i < to; i++) {
                body.run(i);
            }
        });
    }

    /** Runs body over [0, n) in contiguous chunks on {@link Torch#threads()} threads (the CLI's --threads). */
    private static void parallelChunks(int n, RangeBody body) {
        int threads = Torch.threads();
        int chunks = Math.max(1, Math.min(n, CHUNKS_PER_CORE * threads));
        Runnable all = () -> IntStream.range(0, chunks).parallel().forEach(c -> body.run((int) ((long) n * c / chunks),
                (int) ((long) n * (c + 1) / chunks)));
        if (threads == 1) {
            all.run(); // a sequential stream would do the same; no pool needed
            return;
        }
        try {
            pool(threads).submit(all).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LadyException(LadyException.Kind.INTERNAL, "interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new LadyException(LadyException.Kind.INTERNAL, "prefilter worker failed: " + e.getCause(), e.getCause());
        }
    }

    private static ForkJoinPool pool;

    /** A fork-join pool of {@code threads} workers (kept while the count stays the same). */
    private static synchronized ForkJoinPool pool(int threads) {
        if (pool == null || pool.getParallelism() != threads) {
            if (pool != null) {
                pool.shutdown();
            }
            pool = new ForkJoinPool(threads);
        }
        return pool;
    }

    /** Work chunks per core (uneven rows: candidates differ per row). */
    private static final int CHUNKS_PER_CORE = 8;
}
