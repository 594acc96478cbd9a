package lady.resync;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import lady.LadyException;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.util.Parallel;
import lady.util.Seeds;

/**
 * The exact assignment of a large group without its dense N x N cosine matrix (torchvision VGG16's
 * classifier.0 alone is 4096 x 4096 x 25088 x 2 = 0.84 TFLOP dense).
 *
 * <p>The group's similarity is, as in the dense path, {@code S[i, j] = sum over row sets p of
 * w_p cos(ref row i, suspect row j)} (the row sets and weights of {@link Combination}; a row set's sketch is
 * scaled by sqrt(w_p), so sketch products estimate the weighted sum). Steps:
 * <ol>
 * <li><b>Sketch.</b> One pass over every producer's rows ({@link NeuronRows}: read where they lie, a
 * mapped checkpoint's float32 / bfloat16 / float16 bytes through the suspect's lazy index maps; members
 * on axis 1, such as embedding columns, row by row) computes, per neuron, its exact squared norm and a
 * K-dimensional sign sketch (a count sketch: coordinate t goes to bucket {@code t mod K} with a seeded
 * random sign; sketch = x^T R for a sparse random sign matrix R, the same R for reference and suspect).
 * Divided by the row's exact norm, the inner product of two sketches is an unbiased estimate
 * {@code E[i, j]} of the cosine. K per producer is {@link #sketchDims}: {@link #SKETCH_DIMS} for one producer,
 * fewer for several (a stream read from every layer), about {@link #SKETCH_TOTAL_DIMS} in all (never more
 * than a row set's length: there the sketch is exact); a group that this sketch leaves ambiguous is tried
 * again before the dense path, with about {@link #RETRY_TOTAL_DIMS}, or as wide as its rows' reach asks
 * when that stays a fraction of the dense product ({@link #widerSketch}: a derived copy under heavy noise).</li>
 * <li><b>Estimate.</b> The N x N estimates, a block of reference rows at a time ({@link #ESTIMATE_BLOCK_BYTES}) (the
 * native cosine kernel on the sketches, rescaled to inner products); only each row's best
 * estimates are kept, never the N x N matrix. When the suspect's sketch rows are the reference's, bit for bit, in
 * another order (a pure permutation), {@link CopyEstimates} gives the same per-row results from about half the
 * product.</li>
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
 * solved on the candidate edges ({@link SparseAssignment}: no N x N matrix) and accepted only with a
 * certificate: any assignment that uses a left-out edge (i, j) is worth at most
 * {@code sum_i rowmax_i - (rowmax_i - ub_i)}, so the candidate optimum V is the dense optimum when
 * {@code sum rowmax - V < min_i (rowmax_i - ub_i)}.</li>
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
 * take the full computation: the margins cost about one dense similarity product per group (half of one when the
 * suspect is an exact permuted copy: {@link CopyMargins}), the match still comes without the dense N x N matrix and
 * its assignment (bench/RESULTS.md). With
 * {@link Margins#BOUND} ({@code lady resync --margins bound}, or {@link Margins#AUTO} on a resync whose dense
 * margin work exceeds its budget) they are the lower bounds instead: the best other confirmed candidate or
 * {@code ub_i}, whichever is larger; only the rows whose bound is below the low-margin threshold get the full
 * computation, so the low-margin count is exact in every mode (and the minimum whenever a row is low).
 */
final class PrefilteredMatch {
    private PrefilteredMatch() {}

    /** Largest sketch dimension K of one producer. 256 keeps the sketch error's bound (7 sigma, about 0.44
     * for spread rows) well below a clear match's similarity while the estimate product stays about D / K
     * times cheaper than the dense one (98x for classifier.0, 16x for classifier.3). */
    static final int SKETCH_DIMS = 256;
    /** Sketch dimensions of a group in all, shared by its producers ({@link #sketchDims}): with P producers
     * the error's bound grows like sqrt(P / K) while a clear match's summed similarity grows like P, so P K
     * of a few hundred keeps them apart; more would only make the estimate product dearer. */
    static final int SKETCH_TOTAL_DIMS = 256;
    /** Sketch dimensions in all of the second attempt at a group the first found ambiguous (with K per
     * producer up to {@link #SKETCH_DIMS}: about twice the first attempt's for one to four producers). */
    static final int RETRY_TOTAL_DIMS = 1024;
    /** Sketch dimensions in all of a group whose margins are to be lower bounds ({@link Margins#BOUND}): the bound
     * (Z sigma, sigma about sqrt(2 / (P K)) for P producers of spread rows) must leave a clear match's lower bound
     * above the low-margin threshold, or the row's margin is computed densely (the rows below the threshold
     * are exact in every mode). With {@link #SKETCH_TOTAL_DIMS} a Llama MLP group's three producers get K = 64
     * each: bound about 0.7-0.9, nearly every lower bound under 0.05, so nearly every row took its dense margin
     * (the Llama-3.2-1B pair's default resync: 145 s wall). With K = 256 each the bound is about half (lower
     * bounds 0.37-0.46 where the exact margins are about 0.93) and the estimate product (2 N^2 P K) stays about
     * D / K = 8 times cheaper than the dense one (bench/RESULTS.md). */
    static final int BOUND_TOTAL_DIMS = 1024;
    /** Smallest K of one producer. */
    static final int MIN_SKETCH_DIMS = 16;
    /** Bytes of one block of the estimate product (a block of reference rows against every suspect row: only
     * the block's estimates are held, never the N x N ones; 2048 rows of a 8192-unit MLP). */
    static final long ESTIMATE_BLOCK_BYTES = 64L << 20;
    /** Standard deviations of the sketch error that bound it (Z): per pair about 1e-12 for Gaussian tails. */
    static final double BOUND_SIGMAS = 7.0;
    /** Columns per row, beyond the best estimated one, that may be confirmed before the group is called ambiguous. */
    static final int MAX_EXTRA_CANDIDATES = 32;
    /** {@link Prefilter#AUTO}: prefilter when the dense product 2 N^2 D (D summed over producers) reaches this
     * many FLOP (VGG16: classifier.0 0.84 TFLOP, classifier.3 137 GFLOP, features.19-28 2.4 GFLOP each,
     * features.10 0.15 GFLOP; below, the fixed costs of the sketch passes are not repaid)... */
    static final double AUTO_MIN_DENSE_FLOP = 1e8;
    /** ... and the rows are at least this many times longer than the sketch (else the sketch saves little)... */
    static final int AUTO_MIN_DIM_RATIO = 4;
    /** ... or the group is so large that its dense N x N matrix is itself the problem (4096: 64 MB; a
     * Llama-3-8B MLP's 14336: 822 MB). */
    static final int AUTO_MIN_LARGE_GROUP = 4096;
    /** Seed of the sketch's random signs (fixed: the result does not depend on it, only the speed). */
    static final long SIGN_SEED = 0x1ad7_5e7c_8a11_0b5eL;
    /** Row normalization floor, as torch.nn.functional.normalize and the native kernels. */
    static final double NORM_EPS = 1e-12;
    /** Certificate slack per row: the exact similarities here and the dense kernel's float sums differ
     * by rounding only; the certificate keeps this much room per row for it. */
    static final double CERTIFICATE_SLACK_PER_ROW = 1e-6;
    /** Partial sums of the exact dot products (a multiple of the vector width, so the loop vectorizes). */
    private static final int DOT_LANES = 64;

    /**
     * Native buffers of the estimate product (sketches, one block of estimates), kept by each thread from one
     * group to the next: touching fresh memory for every group of a large model costs more than the product
     * on some virtual machines (bench/RESULTS.md, checkpoint IO). Released with the thread.
     */
    private static final ThreadLocal<HostMemory[]> BUFFERS = ThreadLocal.withInitial(() -> new HostMemory[3]);

    /** Buffer {@code slot} of {@code buffers}, at least {@code bytes} long (a longer one replaces a shorter one). */
    static HostMemory buffer(HostMemory[] buffers, int slot, long bytes) {
        if (buffers[slot] == null || buffers[slot].length() < bytes) {
            if (buffers[slot] != null) {
                buffers[slot].close();
            }
            buffers[slot] = HostMemory.allocate(Math.max(bytes, 1));
        }
        return buffers[slot];
    }

    /**
     * A prefiltered group's answer: the match, the margins (exact as the dense path's, or their lower bounds:
     * {@link Margins}).
     *
     * @param bounds per row, whether its margin is a lower bound (only with {@link Margins#BOUND}); null when every
     *               margin is exact
     */
    record Outcome(long[] match, double[] margins, boolean[] bounds) {}

    /**
     * Whether {@code mode} asks for the prefilter on a group of n neurons with producer rows of total length d,
     * when the margins are to be {@code margins}. Unless they are {@link Margins#BOUND} (exact margins; an
     * unresolved {@link Margins#AUTO} counts as exact), {@link Prefilter#AUTO} takes
     * only groups of at least {@link #AUTO_MIN_LARGE_GROUP} neurons: the exact margins cost a dense similarity
     * product for every row the sketch cannot settle, which on real groups is every row (ResNet50, ViT-B/16:
     * bench/RESULTS.md), so below that size the sketch passes only add to the dense path's work; above it the
     * prefilter still spares the N x N matrix and its assignment. Same match and margins either way.
     */
    static boolean wanted(Prefilter mode, int n, long d, Margins margins) {
        return switch (mode) {
            case OFF -> false;
            case ON -> n > 1;
            case AUTO -> margins == Margins.BOUND ? worthIt(n, d) : n >= AUTO_MIN_LARGE_GROUP;
        };
    }

    /** The {@link Prefilter#AUTO} rule. */
    static boolean worthIt(int n, long d) {
        return n >= AUTO_MIN_LARGE_GROUP
                || (2.0 * n * n * d >= AUTO_MIN_DENSE_FLOP && d >= (long) AUTO_MIN_DIM_RATIO * SKETCH_DIMS);
    }

    /** K of each of {@code producers} producers: a power of two near SKETCH_TOTAL_DIMS / P, within [MIN, SKETCH_DIMS]. */
    static int sketchDims(int producers) {
        return sketchDims(producers, SKETCH_TOTAL_DIMS);
    }

    /** K of each of {@code producers} producers for {@code total} sketch dimensions in all. */
    static int sketchDims(int producers, int total) {
        int k = Integer.highestOneBit(Math.max(1, total / Math.max(producers, 1)));
        return Math.max(MIN_SKETCH_DIMS, Math.min(SKETCH_DIMS, k));
    }

    /**
     * The dense optimum of the group whose row sets are {@code refs[p]} and {@code suss[p]} (contiguous
     * float32 N x D_p each) with weights {@code weights[p]}, or null when the prefilter cannot prove it (then
     * use dense).
     */
    static Outcome solve(Backend backend, List<HostTensor> refs, List<HostTensor> suss, double[] weights, int n) {
        return solveRows(backend, refs.stream().map(t -> NeuronRows.dense(t, n)).toList(),
                suss.stream().map(t -> NeuronRows.dense(t, n)).toList(), weights, n, Margins.EXACT, 0);
    }

    /**
     * As {@link #solve} over row sets read where they lie ({@link NeuronRows}), with margins as {@code margins} says
     * ({@link Margins#BOUND}: lower bounds, except the rows whose bound is below {@code lowMargin}; any other mode:
     * exact).
     */
    static Outcome solveRows(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            Margins margins, double lowMargin) {
        return solveRows(backend, refs, suss, weights, n, margins, lowMargin, true);
    }

    /**
     * As {@link #solveRows(Backend, List, List, double[], int, Margins, double)}; {@code copyProduct} false keeps an
     * exact copy's estimates on the full-row path ({@link CopyEstimates} gives the same outcome: tests compare them).
     */
    static Outcome solveRows(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            Margins margins, double lowMargin, boolean copyProduct) {
        return solveRows(backend, refs, suss, weights, n, margins, lowMargin, copyProduct, null);
    }

    /**
     * As {@link #solveRows(Backend, List, List, double[], int, Margins, double, boolean)}; when it gives up on an
     * ambiguous group (null), {@code bestEstimated[0]} (when given) holds each reference row's pick of the last
     * attempt ({@link #picks}: {@link RelationScreen} tests them), or null when no sketch was compared (a zero row).
     */
    static Outcome solveRows(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            Margins margins, double lowMargin, boolean copyProduct, int[][] bestEstimated) {
        int producers = refs.size();
        long d = 0;
        for (NeuronRows r : refs) {
            d += r.d;
        }
        int k = sketchDims(producers, margins == Margins.BOUND ? BOUND_TOTAL_DIMS : SKETCH_TOTAL_DIMS);
        int retry = sketchDims(producers, RETRY_TOTAL_DIMS);
        Attempt a = attempt(backend, refs, suss, weights, n, k, margins, lowMargin, copyProduct);
        for (int tries = 1; a.outcome == null && a.ambiguous && tries < MAX_ATTEMPTS; tries++) {
            // a sharper estimate before the dense path: as wide as the rows' reach asks, within the cost cap
            int next = widerSketch(refs, n, d, k, retry, a.reachRatio);
            if (next <= k) {
                break;
            }
            k = next;
            a = attempt(backend, refs, suss, weights, n, k, margins, lowMargin, copyProduct);
        }
        if (bestEstimated != null) { // the picks cost exact similarities: only the last attempt's, when it gave up
            bestEstimated[0] = a.outcome == null && a.ambiguous ? a.picks.get() : null;
        }
        return a.outcome;
    }

    /** Sketch attempts of one group at most (the first and the wider ones {@link #widerSketch} allows). */
    static final int MAX_ATTEMPTS = 3;
    /** A wider attempt aims at a bound of the sketch error ({@code Z sigma_i}, the reach) of at most this fraction of
     * a row's best exact similarity (the median row's): then columns within reach of the best are few for a row whose
     * match stands out (the estimates of unrelated columns spread about sigma / sqrt(2) around zero). */
    static final double TARGET_REACH_FRACTION = 0.5;
    /** The estimate product of a wider attempt (beyond the fixed retry's width) costs at most this fraction of the
     * group's dense product: per neuron, the sketch dimensions in all at most the rows' length in all over 4. */
    static final int WIDER_COST_DIVISOR = 4;
    /** Sketch values of one side of a wider attempt at most (n x the sketch dimensions in all; 256 MB of float32). */
    static final long MAX_SKETCH_VALUES = 64L << 20;
    /** Largest K of one producer in a wider attempt. */
    static final int MAX_WIDER_SKETCH_DIMS = 8192;

    /**
     * K per producer of the next attempt after one with K = {@code k} left the group ambiguous, or {@code k} when
     * none is worth it. The sketch error's bound shrinks like 1 / sqrt(K), so the reach falls to
     * {@link #TARGET_REACH_FRACTION} of the best similarity at {@code K (ratio / fraction)^2} ({@code ratio}: the
     * median row's reach over its best exact similarity); at least the fixed retry's {@code retry} and four times
     * {@code k}. Beyond the fixed retry, the attempt must fit {@link #WIDER_COST_DIVISOR} and
     * {@link #MAX_SKETCH_VALUES}; when the width asked for is more than twice what fits (an unrelated group: its best
     * similarities are noise, its ratio large) no attempt is made: the group goes to the relation screen and the
     * dense path at once.
     */
    static int widerSketch(List<NeuronRows> refs, int n, long d, int k, int retry, double ratio) {
        double factor = Math.max(4, Math.pow(ratio / TARGET_REACH_FRACTION, 2));
        double wanted = Math.max(retry, k * factor);
        if (wanted <= retry) {
            return Math.max(k, retry);
        }
        // the widest K that fits: sum over producers of min(K, d_p) within the cost and memory caps
        long cap = Math.min(d / WIDER_COST_DIVISOR, MAX_SKETCH_VALUES / Math.max(n, 1));
        int fits = k;
        for (int c = Math.max(k, retry); c <= MAX_WIDER_SKETCH_DIMS; c += MIN_SKETCH_DIMS) {
            if (sketchWidth(refs, c) > cap) {
                break;
            }
            fits = c;
        }
        if (fits < 2 * k || wanted > 2.0 * fits) {
            return Math.max(k, retry);
        }
        int next = (int) Math.min(fits, Math.ceil(wanted / MIN_SKETCH_DIMS) * MIN_SKETCH_DIMS);
        return Math.max(next, retry);
    }

    /** The sketch dimensions of the row set {@code rows} for K = {@code k}: never more than its length (there the
     * sketch is exact already: one coordinate per bucket). */
    static int sketchDims(NeuronRows rows, int k) {
        return Math.min(k, rows.d);
    }

    /** Sketch dimensions in all of {@code refs} at K = {@code k}. */
    static long sketchWidth(List<NeuronRows> refs, int k) {
        long w = 0;
        for (NeuronRows r : refs) {
            w += sketchDims(r, k);
        }
        return w;
    }

    /**
     * One sketch attempt's answer: the outcome, or null with {@code ambiguous} when a wider sketch might answer; the
     * median row's reach over its best exact similarity ({@link #widerSketch}); each row's pick ({@link #picks}) on
     * demand.
     */
    private record Attempt(Outcome outcome, boolean ambiguous, double reachRatio, java.util.function.Supplier<int[]> picks) {}

    /**
     * Per row, of its {@link RelationScreen#REFINED_CANDIDATES} largest estimates (the best column first, its exact
     * similarity {@code bestValue}), the column of largest exact similarity: what {@link RelationScreen} tests when the
     * prefilter gives up.
     */
    private static int[] picks(Exact exact, Scan scan, int[] best, double[] bestValue) {
        int n = best.length;
        int[][] candidates = new int[n][];
        for (int i = 0; i < n; i++) {
            int at = i * scan.keep;
            Integer[] order = new Integer[scan.keep];
            for (int c = 0; c < order.length; c++) {
                order[c] = c;
            }
            Arrays.sort(order, (a, b) -> Float.compare(scan.keptValue[at + b], scan.keptValue[at + a]));
            int[] c = new int[Math.min(RelationScreen.REFINED_CANDIDATES, scan.keep)];
            int count = 0;
            c[count++] = best[i];
            for (int t = 0; t < order.length && count < c.length; t++) {
                int column = scan.keptColumn[at + order[t]];
                if (column != best[i]) {
                    c[count++] = column;
                }
            }
            candidates[i] = Arrays.copyOf(c, count);
        }
        double[][] values = exact.candidates(candidates, bestValue);
        int[] picked = new int[n];
        for (int i = 0; i < n; i++) {
            int arg = argmax(values[i]);
            picked[i] = candidates[i][arg];
        }
        return picked;
    }

    /** The first index of the largest value of {@code v} (non-empty). */
    private static int argmax(double[] v) {
        int arg = 0;
        for (int c = 1; c < v.length; c++) {
            if (v[c] > v[arg]) {
                arg = c;
            }
        }
        return arg;
    }

    /**
     * One attempt with K = {@code k} per row set (at most its rows' length: {@link #sketchDims(NeuronRows, int)}).
     */
    private static Attempt attempt(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights,
            int n, int k, Margins marginMode, double lowMargin, boolean copyProduct) {
        boolean[] ambiguous = new boolean[1];
        int producers = refs.size();
        int[] at = new int[producers + 1]; // producer p's sketch at [at[p], at[p + 1]) of a neuron's dk values
        for (int p = 0; p < producers; p++) {
            at[p + 1] = at[p] + sketchDims(refs.get(p), k);
        }
        int dk = at[producers];
        float[] x = new float[Math.multiplyExact(n, dk)];
        float[] y = new float[Math.multiplyExact(n, dk)];
        double[] refSpread2 = new double[n]; // sum over producers of 2 f_p(i) g_p,max: the variance bound of row i
        double[][] refNorms = new double[producers][];
        double[][] susNorms = new double[producers][];
        for (int p = 0; p < producers; p++) {
            NeuronRows a = refs.get(p);
            NeuronRows b = suss.get(p);
            float[] signs = signs(a.d, p);
            int kp = at[p + 1] - at[p];
            Sketch sa = sketch(a, signs, kp);
            Sketch sb = sketch(b, signs, kp);
            refNorms[p] = sa.norms();
            susNorms[p] = sb.norms();
            double gMax = 0;
            for (int j = 0; j < n; j++) {
                if (sa.norm2[j] == 0 || sb.norm2[j] == 0) {
                    // zero rows have no direction: the dense path handles them
                    return new Attempt(null, false, Double.NaN, null);
                }
                gMax = Math.max(gMax, sb.spread[j]);
            }
            for (int i = 0; i < n; i++) {
                refSpread2[i] += 2 * sa.spread[i] * gMax * weights[p] * weights[p];
                sa.normalizedInto(i, x, i * dk + at[p], Math.sqrt(weights[p]));
                sb.normalizedInto(i, y, i * dk + at[p], Math.sqrt(weights[p]));
            }
        }
        // estimates E[i, j] = <x_i, y_j> = cosine kernel * |x_i| * |y_j|, a block of reference rows at a time; kept
        // per row: the maximum of each block of SCAN_BLOCK columns (of cos * |y_j|) and the best column
        double[] xn = rowNorms(x, n, dk);
        double[] yn = rowNorms(y, n, dk);
        float[] ynf = new float[n];
        for (int j = 0; j < n; j++) {
            ynf[j] = (float) yn[j];
        }
        int blocks = (n + SCAN_BLOCK - 1) / SCAN_BLOCK;
        Scan scan = new Scan(n, n, ynf);
        float[] blockMax = scan.blockMax;
        int[] best = scan.best;
        int keep = scan.keep; // per row, the largest float estimates and their columns (a min-heap)
        float[] keptValue = scan.keptValue;
        int[] keptColumn = scan.keptColumn;
        int blockRows = (int) Math.max(1, Math.min(n, ESTIMATE_BLOCK_BYTES / 4 / n));
        // an exact copy (every suspect sketch row, bit for bit, a reference one): the same scans from half the product
        int band = copyProduct && backend == Backend.CPU ? CopyEstimates.bandRows(n) : 0;
        int[] sources = band > 0 ? CopyEstimates.sources(x, y, n, dk) : null;
        HostMemory[] buffers = BUFFERS.get();
        HostMemory my = buffer(buffers, 1, 4L * y.length);
        try {
            my.buffer(0, 4 * y.length).asFloatBuffer().put(y);
            if (sources == null || !CopyEstimates.scan(backend, my, buffer(buffers, 2, 4L * Math.min(band, n) * n), n,
                    dk, band, sources, scan)) {
                HostMemory mx = buffer(buffers, 0, 4L * x.length);
                HostMemory mcos = buffer(buffers, 2, 4L * blockRows * n);
                mx.buffer(0, 4 * x.length).asFloatBuffer().put(x);
                FloatBuffer cos = mcos.buffer(0, 4 * blockRows * n).asFloatBuffer();
                for (int i0 = 0; i0 < n; i0 += blockRows) {
                    int rows = Math.min(blockRows, n - i0);
                    Kernels.cosineSimilarity(backend, mx.address() + 4L * i0 * dk, my.address(), rows, n, dk, false,
                            mcos.address());
                    int from = i0;
                    parallelChunks(rows, (ra, rb) -> {
                        float[] row = new float[n];
                        for (int r = ra; r < rb; r++) {
                            cos.get(r * n, row, 0, n);
                            scan.contiguous(from + r, row, 0, 0, n);
                        }
                    });
                }
            }
        } finally {
            java.lang.ref.Reference.reachabilityFence(buffers);
        }
        Exact exact = new Exact(refs, suss, refNorms, susNorms, weights);
        double[] bestValue = exact.similarities(best);
        // candidates: every column whose estimate could reach the best estimated column's exact value
        // (threshold = bestValue - reach); only the blocks whose maximum reaches it are looked at, their
        // estimates recomputed from the sketches in double (the row's kept largest estimates only, when they
        // provably decide the row: scanRow); ub bounds every other column's similarity
        int[][] candidates = new int[n][];
        double[] ub = new double[n];
        parallelChunks(n, (ra, rb) -> {
            int[] found = new int[MAX_EXTRA_CANDIDATES + 1];
            int[] columns = new int[keep];
            for (int i = ra; i < rb && !ambiguous[0]; i++) {
                double reach = BOUND_SIGMAS * Math.sqrt(refSpread2[i]);
                double threshold = bestValue[i] - reach;
                float scaled = (float) (threshold / xn[i]) - (float) ESTIMATE_ROUNDING;
                double others = scanKept(i, n, blocks, blockMax, keep, keptValue, keptColumn, columns, best[i], x, y, dk,
                        xn[i], threshold, scaled, found, ambiguous);
                if (Double.isNaN(others)) { // the kept estimates do not decide the row: every reaching block
                    others = scanRow(i, n, blocks, blockMax, best[i], x, y, dk, xn[i], threshold, scaled, found, ambiguous);
                }
                int count = found[MAX_EXTRA_CANDIDATES];
                int[] c = new int[count + 1];
                c[0] = best[i];
                System.arraycopy(found, 0, c, 1, count);
                candidates[i] = c;
                ub[i] = others == Double.NEGATIVE_INFINITY ? others : others + reach;
            }
        });
        if (ambiguous[0]) {
            return gaveUp(exact, scan, best, bestValue, refSpread2);
        }
        double[][] values = exact.candidates(candidates, bestValue);
        long[] match = new long[n];
        double[] rowMax = new double[n];
        boolean[] taken = new boolean[n];
        boolean bijective = true;
        for (int i = 0; i < n; i++) {
            int arg = argmax(values[i]);
            rowMax[i] = values[i][arg];
            match[i] = candidates[i][arg];
            bijective &= !taken[(int) match[i]];
            taken[(int) match[i]] = true;
        }
        if (!bijective && !certifiedAssignment(candidates, values, rowMax, ub, match)) {
            return gaveUp(exact, scan, best, bestValue, refSpread2);
        }
        // margins, exactly as the dense path computes them: best minus the best other column. Where the best
        // confirmed other column beats the bound of every column left out, it is the row's exact second best;
        // elsewhere the row's similarities are computed in full, or, with bounds asked for, the bound stands in
        // unless it falls below the low-margin threshold (then the row is computed in full: the low count is exact)
        double[] margins = new double[n];
        boolean[] bounds = null;
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
            if (other < ub[i]) {
                if (marginMode == Margins.BOUND && chosen - ub[i] >= lowMargin) {
                    other = ub[i];
                    if (bounds == null) {
                        bounds = new boolean[n];
                    }
                    bounds[i] = true;
                } else {
                    undecided[open++] = i;
                }
            }
            margins[i] = chosen - other;
        }
        exactMargins(backend, refs, suss, weights, n, match, Arrays.copyOf(undecided, open), margins);
        return new Attempt(new Outcome(match, margins, bounds), false, Double.NaN, null);
    }

    /** An attempt that left the group ambiguous: the median row's reach over its best exact similarity, the picks. */
    private static Attempt gaveUp(Exact exact, Scan scan, int[] best, double[] bestValue, double[] refSpread2) {
        double[] ratio = new double[best.length];
        for (int i = 0; i < ratio.length; i++) {
            double reach = BOUND_SIGMAS * Math.sqrt(refSpread2[i]);
            ratio[i] = bestValue[i] > 0 ? reach / bestValue[i] : Double.POSITIVE_INFINITY;
        }
        Arrays.sort(ratio);
        return new Attempt(null, true, ratio[ratio.length / 2], () -> picks(exact, scan, best, bestValue));
    }

    /** Reference rows whose exact margins are computed together (a block of rows x N floats). */
    static final int MARGIN_BLOCK_ROWS = 1024;

    /**
     * The margins of {@code rows} (ascending), exact as the dense path computes them (per row set the cosine, weighted
     * by {@code weights} and summed, rounded to float as {@link Combination#similarity}; best minus best other column),
     * from full similarity rows, in blocks of at most {@link #MARGIN_BLOCK_ROWS} reference rows against every
     * suspect row. Row sets stored as bfloat16 in both models take the bfloat16 kernel
     * ({@link Kernels#cosineSimilarityBf16}) on their stored values, gathered without a float copy: products of
     * bfloat16 values are exact in float32, so these cosines are the float32 kernel's up to summation order, at about
     * 1.7 times its rate where the CPU has AVX512-BF16 (bench/RESULTS.md). Other row sets take the float32 kernel:
     * the bfloat16 screen of float32 rows ({@link #exactMargins(Backend, List, List, double[], int, long[], int[],
     * double[], boolean)}) is exact too but was measured slower than the float32 kernel on torchvision VGG16's
     * classifier.0 (its refinement reads about 30 suspect rows per reference row), so it is not the default. When
     * every suspect row is, bit for bit, the reference row it is matched to (a pure permutation), {@link CopyMargins}
     * gives the same margins from the reference's symmetric product at about half the cost.
     */
    static void exactMargins(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            long[] match, int[] rows, double[] margins) {
        exactMargins(backend, refs, suss, weights, n, match, rows, margins, false);
    }

    /**
     * As {@link #exactMargins(Backend, List, List, double[], int, long[], int[], double[])}; with {@code screenFloat32}
     * float32 (and float16) row sets are screened on rows rounded to bfloat16, with the proven per-pair error bound of
     * {@link Bf16Screen}; per row, the matched column and every other column the bound cannot rule out as the second
     * best are then computed exactly (full rows, double sums, as the prefilter's confirmations), so the margins are
     * exact. A row left with more than {@link #REFINE_MAX_COLUMNS} such columns (or a row set with a value that is
     * not finite) is computed in full with the float32 kernel instead.
     */
    static void exactMargins(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            long[] match, int[] rows, double[] margins, boolean screenFloat32) {
        if (rows.length == 0) {
            return;
        }
        if (!screenFloat32 && CopyMargins.margins(backend, refs, suss, weights, n, match, rows, margins)) {
            return; // an exact copy: the same margins from the reference's symmetric product, half the work
        }
        int producers = refs.size();
        double[] s = new double[Math.multiplyExact(rows.length, n)];
        double[][] rhoA = new double[producers][]; // per producer and row of `rows`; null: no screen error
        double[][] rhoB = new double[producers][];
        double[][] refNorm = new double[producers][];
        double[][] susNorm = new double[producers][];
        int[] all = IntStream.range(0, n).toArray();
        HostTensor[] kept = new HostTensor[producers]; // float32 suspect rows of screened row sets, for the refinement
        for (int p = 0; p < producers; p++) {
            NeuronRows ref = refs.get(p);
            NeuronRows sus = suss.get(p);
            int d = ref.d;
            boolean stored = ref.storedAsBf16() && sus.storedAsBf16();
            if (!screenFloat32 && !sus.byRows && rows.length <= FEW_MARGIN_ROWS) {
                fewRowsProduct(ref, sus, weights[p], n, rows, s); // the stored rows read once, never gathered
                continue;
            }
            if (!stored && !screenFloat32) { // the float32 kernel: no screen error
                floatProduct(backend, ref, sus, weights[p], n, rows, s, null, null, p);
                continue;
            }
            HostTensor bf = stored ? null : sus.materialize();
            Bf16Screen.Rows b = stored ? Bf16Screen.stored(sus, all) : Bf16Screen.screened(bf, n, d);
            refNorm[p] = new double[n];
            susNorm[p] = b == null ? null : b.norm();
            if (b != null && b.rho() != null) {
                rhoB[p] = b.rho();
                rhoA[p] = new double[rows.length];
            }
            for (int from = 0; from < rows.length; from += MARGIN_BLOCK_ROWS) {
                int k = Math.min(MARGIN_BLOCK_ROWS, rows.length - from);
                int[] block = Arrays.copyOfRange(rows, from, from + k);
                HostTensor out = HostTensor.allocate(DType.FLOAT32, k, n);
                HostTensor af = stored ? null : ref.materialize(block);
                Bf16Screen.Rows a = b == null ? null : stored ? Bf16Screen.stored(ref, block)
                        : Bf16Screen.screened(af, k, d);
                if (a != null) {
                    Kernels.cosineSimilarityBf16(backend, a.bits().address(), b.bits().address(), k, n, d,
                            a.inv(), b.inv(), out.address());
                    for (int r = 0; r < k; r++) {
                        refNorm[p][block[r]] = a.norm()[r];
                        if (rhoA[p] != null) {
                            rhoA[p][from + r] = a.rho()[r];
                        }
                    }
                    a.close();
                } else { // a value that is not finite: the float32 kernel, no screen error for these rows
                    Kernels.cosineSimilarity(backend, af.address(), bf.address(), k, n, d, false, out.address());
                    double[] na = rowNormsOf(af, k, d);
                    for (int r = 0; r < k; r++) {
                        refNorm[p][block[r]] = na[r];
                    }
                }
                FloatBuffer part = out.floats();
                for (int t = 0; t < k * n; t++) {
                    s[from * n + t] += weights[p] * part.get(t);
                }
                java.lang.ref.Reference.reachabilityFence(out);
                out.memory().close();
                if (af != null) {
                    af.memory().close();
                }
            }
            if (susNorm[p] == null) {
                susNorm[p] = rowNormsOf(bf, n, d);
            }
            if (b != null) {
                b.close();
            }
            if (bf != null) {
                kept[p] = bf;
            }
        }
        boolean screened = false;
        for (double[] r : rhoA) {
            screened |= r != null;
        }
        try {
            if (!screened) {
                for (int r = 0; r < rows.length; r++) {
                    margins[rows[r]] = margin(s, r * n, n, (int) match[rows[r]]);
                }
                return;
            }
            refine(backend, refs, suss, weights, n, match, rows, margins, s, rhoA, rhoB, refNorm, susNorm, kept);
        } finally {
            for (HostTensor t : kept) {
                if (t != null) {
                    t.memory().close();
                }
            }
        }
    }

    /** Rows of margins at most that are computed from a member on axis 1 as it is stored ({@link #fewRowsProduct}): its
     * cost grows with the rows (about 0.3 s per row against an 8B-width embedding, Java loops), the gather's does not
     * (8.8 s there), so a few rows only. */
    static final int FEW_MARGIN_ROWS = 16;

    /**
     * {@code s[r n + j] += w cos(ref row rows[r], suspect row j)} for a suspect member on axis 1 (an embedding's
     * columns) and a few reference rows: the dot products and norms in double from the stored rows read once
     * ({@link NeuronRows#dotsWith}), the cosine rounded to float as the kernels give it. Gathering the member into n x d
     * rows for the kernels took 9-13 s at 8B width for the 5 rows a noisy copy's first pass left open.
     */
    private static void fewRowsProduct(NeuronRows ref, NeuronRows sus, double w, int n, int[] rows, double[] s) {
        int k = rows.length;
        HostTensor a = ref.materialize(rows);
        FloatBuffer fa = a.floats();
        float[][] av = new float[k][ref.d];
        double[] na = new double[k];
        for (int r = 0; r < k; r++) {
            fa.get(r * ref.d, av[r], 0, ref.d);
            for (float v : av[r]) {
                na[r] += (double) v * v;
            }
        }
        java.lang.ref.Reference.reachabilityFence(a);
        a.memory().close();
        double[][] dots = new double[k][n];
        double[] nb = new double[n];
        sus.dotsWith(av, dots, nb);
        for (int r = 0; r < k; r++) {
            double ia = Math.max(Math.sqrt(na[r]), NORM_EPS);
            for (int j = 0; j < n; j++) {
                float cos = (float) (dots[r][j] / (ia * Math.max(Math.sqrt(nb[j]), NORM_EPS)));
                s[r * n + j] += w * cos;
            }
        }
    }

    /** Rows whose screen leaves more columns than this within reach of the second best are computed in full. */
    static final int REFINE_MAX_COLUMNS = 256;

    /** The screened margins made exact ({@link Bf16Screen}): candidates per row, exact similarities, margins. */
    private static void refine(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n, long[] match,
            int[] rows, double[] margins, double[] s, double[][] rhoA, double[][] rhoB, double[][] refNorm,
            double[][] susNorm, HostTensor[] kept) {
        int producers = refs.size();
        double[] g = new double[producers];
        double[] tiny = new double[producers];
        for (int p = 0; p < producers; p++) {
            g[p] = Bf16Screen.summationBound(refs.get(p).d);
            tiny[p] = Bf16Screen.flushBound(refs.get(p).d);
        }
        int[][] columns = new int[n][];
        boolean[] full = new boolean[rows.length];
        parallelChunks(rows.length, (ra, rb) -> {
            double[] bound = new double[n];
            int[] found = new int[REFINE_MAX_COLUMNS];
            for (int r = ra; r < rb; r++) {
                int i = rows[r];
                int chosen = (int) match[i];
                Arrays.fill(bound, Bf16Screen.SUM_SLACK);
                for (int p = 0; p < producers; p++) {
                    if (rhoA[p] == null) {
                        continue;
                    }
                    double w = Math.abs(weights[p]);
                    double ra2 = rhoA[p][r];
                    for (int j = 0; j < n; j++) {
                        bound[j] += w * Bf16Screen.pairBound(ra2, rhoB[p][j], g[p], tiny[p]);
                    }
                }
                double low = Double.NEGATIVE_INFINITY; // the true second best is at least this
                boolean finite = true;
                for (int j = 0; j < n; j++) {
                    double v = s[r * n + j];
                    finite &= !Double.isNaN(v);
                    if (j != chosen) {
                        low = Math.max(low, v - bound[j]);
                    }
                }
                int count = 0;
                for (int j = 0; j < n && finite; j++) {
                    if (j != chosen && s[r * n + j] + bound[j] >= low) {
                        if (count == REFINE_MAX_COLUMNS) {
                            finite = false;
                            break;
                        }
                        found[count++] = j;
                    }
                }
                if (!finite || n < 2) {
                    full[r] = true;
                    continue;
                }
                int[] c = new int[count + 1];
                c[0] = chosen;
                System.arraycopy(found, 0, c, 1, count);
                columns[i] = c;
            }
        });
        int[] fullRows = IntStream.range(0, rows.length).filter(r -> full[r]).map(r -> rows[r]).toArray();
        for (int i = 0; i < n; i++) {
            if (columns[i] == null) {
                columns[i] = new int[0];
            }
        }
        double[][] values = new double[n][];
        for (int i : rows) {
            values[i] = new double[columns[i].length];
        }
        int[] refined = IntStream.range(0, rows.length).filter(r -> !full[r]).map(r -> rows[r]).toArray();
        for (int p = 0; p < producers; p++) {
            HostTensor b = kept[p] != null ? kept[p] : suss.get(p).materialize();
            int d = refs.get(p).d;
            double w = weights[p];
            double[] rn = refNorm[p];
            double[] sn = susNorm[p];
            FloatBuffer fb = b.floats();
            for (int from = 0; from < refined.length; from += MARGIN_BLOCK_ROWS) {
                int k = Math.min(MARGIN_BLOCK_ROWS, refined.length - from);
                int[] block = Arrays.copyOfRange(refined, from, from + k);
                HostTensor a = refs.get(p).materialize(block);
                FloatBuffer fa = a.floats();
                parallelChunks(k, (ra, rb) -> { // exact dot products of the candidate pairs, double sums
                    float[] x = new float[d];
                    float[] y = new float[d];
                    float[] lanes = new float[DOT_LANES];
                    for (int r = ra; r < rb; r++) {
                        int i = block[r];
                        fa.get(r * d, x, 0, d);
                        for (int c = 0; c < columns[i].length; c++) {
                            int j = columns[i][c];
                            fb.get(j * d, y, 0, d);
                            values[i][c] += w * dot(x, y, d, lanes) / (rn[i] * sn[j]);
                        }
                    }
                });
                java.lang.ref.Reference.reachabilityFence(a);
                a.memory().close();
            }
            java.lang.ref.Reference.reachabilityFence(b);
            if (kept[p] == null) {
                b.memory().close();
            }
        }
        for (int i : refined) {
            float other = Float.NEGATIVE_INFINITY;
            for (int c = 1; c < columns[i].length; c++) {
                other = Math.max(other, (float) values[i][c]);
            }
            margins[i] = (double) (float) values[i][0] - other;
        }
        floatMargins(backend, refs, suss, weights, n, match, fullRows, margins);
    }

    /** Best minus best other column of the similarity row s[at, at + n), rounded to float as the dense path. */
    private static double margin(double[] s, int at, int n, int chosen) {
        float other = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            if (j != chosen && (float) s[at + j] > other) {
                other = (float) s[at + j];
            }
        }
        return (double) (float) s[at + chosen] - other;
    }

    /** The margins of {@code rows} from full float32 similarity rows (the native float32 cosine kernel). */
    static void floatMargins(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            long[] match, int[] rows, double[] margins) {
        if (rows.length == 0) {
            return;
        }
        double[] s = new double[Math.multiplyExact(rows.length, n)];
        for (int p = 0; p < refs.size(); p++) {
            floatProduct(backend, refs.get(p), suss.get(p), weights[p], n, rows, s, null, null, p);
        }
        for (int r = 0; r < rows.length; r++) {
            margins[rows[r]] = margin(s, r * n, n, (int) match[rows[r]]);
        }
    }

    /**
     * s[r * n + j] += w cos(ref row rows[r], suspect row j) with the float32 kernel, in blocks of
     * {@link #MARGIN_BLOCK_ROWS} rows; with {@code refNorm} non-null, the rows' norms into refNorm[p] and susNorm[p].
     */
    private static void floatProduct(Backend backend, NeuronRows ref, NeuronRows sus, double w, int n, int[] rows,
            double[] s, double[][] refNorm, double[][] susNorm, int p) {
        HostTensor b = sus.materialize();
        int d = ref.d;
        if (refNorm != null) {
            refNorm[p] = new double[n];
            susNorm[p] = rowNormsOf(b, n, d);
        }
        for (int from = 0; from < rows.length; from += MARGIN_BLOCK_ROWS) {
            int k = Math.min(MARGIN_BLOCK_ROWS, rows.length - from);
            HostTensor a = ref.materialize(Arrays.copyOfRange(rows, from, from + k));
            HostTensor out = HostTensor.allocate(DType.FLOAT32, k, n);
            Kernels.cosineSimilarity(backend, a.address(), b.address(), k, n, d, false, out.address());
            FloatBuffer part = out.floats();
            for (int t = 0; t < k * n; t++) {
                s[from * n + t] += w * part.get(t);
            }
            if (refNorm != null) {
                double[] na = rowNormsOf(a, k, d);
                for (int r = 0; r < k; r++) {
                    refNorm[p][rows[from + r]] = na[r];
                }
            }
            java.lang.ref.Reference.reachabilityFence(a);
            java.lang.ref.Reference.reachabilityFence(b);
            out.memory().close();
            a.memory().close();
        }
        b.memory().close();
    }

    /** max(||row||, 1e-12) of each row of a float32 rows x d tensor, squares and sums in double. */
    private static double[] rowNormsOf(HostTensor x, int rows, int d) {
        FloatBuffer f = x.floats();
        double[] out = new double[rows];
        for (int i = 0; i < rows; i++) {
            double ss = 0;
            for (int t = 0; t < d; t++) {
                double v = f.get(i * d + t);
                ss += v * v;
            }
            out[i] = Math.max(Math.sqrt(ss), NORM_EPS);
        }
        java.lang.ref.Reference.reachabilityFence(x);
        return out;
    }

    /** Columns per block of the estimate scans: a block's maximum decides whether its columns are looked at again. */
    static final int SCAN_BLOCK = 32;

    /** Room left for the float rounding of the block maxima (cos * |y_j| in float; estimates are at most P). */
    static final double ESTIMATE_ROUNDING = 1e-4;

    /** Estimates kept per row during the block scan (its largest ones, with their columns). A row with more
     * candidates than this, or whose kept estimates do not prove the rest irrelevant, is scanned in full
     * ({@link #scanKept}); a clear match has a few candidates, and the 16th largest estimate of thousands lies
     * far (about half the estimates' spread) below the few largest. More would cost heap work on every row. */
    static final int KEPT_ESTIMATES = 16;

    /**
     * The estimate scans' state of each of {@code rows} reference rows over n suspect columns, and their results: per row,
     * the maximum of f_j = cos[j] |y_j| over each block of {@link #SCAN_BLOCK} columns ({@link #blockMax}, float: a
     * vectorized scan), the row's {@link #keep} largest f_j with their columns ({@link #keptValue} / {@link #keptColumn}:
     * a min-heap, its root the smallest kept value, every column left out has f_j at most that root) and the column of
     * its largest value ({@link #best}; ties: lowest). A row's columns are scanned in ascending order, in pieces of whole
     * blocks ({@link #contiguous}, {@link #down}); whatever the pieces, the operations and their order are those of one
     * scan of the full row, so the results are bit for bit the same.
     */
    static final class Scan {
        final int blocks;
        final int keep;
        final float[] yn;
        final float[] blockMax;
        final float[] keptValue;
        final int[] keptColumn;
        final int[] best;
        /** Per row, the largest block maximum so far (its block holds {@link #best}). */
        private final float[] bestMax;

        Scan(int rows, int n, float[] yn) {
            this.blocks = (n + SCAN_BLOCK - 1) / SCAN_BLOCK;
            this.keep = Math.min(n, KEPT_ESTIMATES);
            this.yn = yn;
            blockMax = new float[Math.multiplyExact(rows, blocks)];
            keptValue = new float[Math.multiplyExact(rows, keep)];
            keptColumn = new int[Math.multiplyExact(rows, keep)];
            best = new int[rows];
            bestMax = new float[rows];
            Arrays.fill(bestMax, Float.NEGATIVE_INFINITY);
        }

        /**
         * Row i's columns [c0, c1), their cosines at cos[off + j - c0]: c0 a multiple of {@link #SCAN_BLOCK} with every
         * column before it scanned, c1 a multiple of it or n.
         */
        void contiguous(int i, float[] cos, int off, int c0, int c1) {
            for (int j0 = c0; j0 < c1; j0 += SCAN_BLOCK) {
                int end = Math.min(c1, j0 + SCAN_BLOCK);
                int o = off + j0 - c0;
                float m = Float.NEGATIVE_INFINITY;
                for (int j = j0; j < end; j++) {
                    m = Math.max(m, cos[o + j - j0] * yn[j]);
                }
                blockMax[i * blocks + j0 / SCAN_BLOCK] = m;
                block(i, m, j0, end, cos, o, 1);
            }
        }

        /**
         * One whole block of columns [a0, a0 + {@link #SCAN_BLOCK}) of the rows r0 + c, c < len: the cosine of column
         * a0 + t of row r0 + c at tile[t * len + c] (a band of the symmetric product read down its columns); {@code max}:
         * len floats of scratch. Every column of those rows before a0 is scanned.
         */
        void down(float[] tile, int len, int a0, float[] max, int r0) {
            Arrays.fill(max, 0, len, Float.NEGATIVE_INFINITY);
            for (int t = 0; t < SCAN_BLOCK; t++) { // per row, the maximum in column order, as contiguous's
                float y = yn[a0 + t];
                int o = t * len;
                for (int c = 0; c < len; c++) {
                    max[c] = Math.max(max[c], tile[o + c] * y);
                }
            }
            int b = a0 / SCAN_BLOCK;
            for (int c = 0; c < len; c++) {
                int i = r0 + c;
                blockMax[i * blocks + b] = max[c];
                block(i, max[c], a0, a0 + SCAN_BLOCK, tile, c, len);
            }
        }

        /**
         * Moves every row a to row rows[a] ({@code rows} a permutation), in place: along each cycle of the permutation,
         * one row's state held aside ({@link #copyRow}) while the others move up the cycle.
         */
        void permuteRows(int[] rows) {
            int[] from = new int[rows.length]; // row i takes the state of row from[i]
            for (int a = 0; a < rows.length; a++) {
                from[rows[a]] = a;
            }
            boolean[] done = new boolean[rows.length];
            Scan held = new Scan(1, yn.length, yn);
            for (int start = 0; start < rows.length; start++) {
                if (done[start] || from[start] == start) {
                    continue;
                }
                copyRow(this, start, held, 0);
                int to = start;
                for (int f = from[to]; f != start; f = from[to]) {
                    copyRow(this, f, this, to);
                    done[to] = true;
                    to = f;
                }
                copyRow(held, 0, this, to); // the last of the cycle takes the held state: rows[start] == to
                done[to] = true;
            }
        }

        /** Row i of {@code a}'s whole state into row j of {@code b} (both over the same columns). */
        private static void copyRow(Scan a, int i, Scan b, int j) {
            System.arraycopy(a.blockMax, i * a.blocks, b.blockMax, j * b.blocks, a.blocks);
            System.arraycopy(a.keptValue, i * a.keep, b.keptValue, j * b.keep, a.keep);
            System.arraycopy(a.keptColumn, i * a.keep, b.keptColumn, j * b.keep, a.keep);
            b.best[j] = a.best[i];
            b.bestMax[j] = a.bestMax[i];
        }

        /** Row i's block of columns [j0, end) with maximum m, column j's cosine at v[o + (j - j0) stride]: the best
         * column and the kept estimates. */
        private void block(int i, float m, int j0, int end, float[] v, int o, int stride) {
            if (j0 == 0 || m > bestMax[i]) { // the first block, or a larger maximum: the best column is in this block
                if (m > bestMax[i]) {
                    bestMax[i] = m;
                }
                int arg = j0;
                float top = v[o] * yn[j0];
                for (int j = j0 + 1, t = o + stride; j < end; j++, t += stride) {
                    float f = v[t] * yn[j];
                    if (f > top) {
                        arg = j;
                        top = f;
                    }
                }
                best[i] = arg;
            }
            int at = i * keep;
            int kept = Math.min(keep, j0); // every column before the heap was full went into it
            if (kept < keep || m > keptValue[at]) { // a column of this block may be among the largest
                for (int j = j0, t = o; j < end; j++, t += stride) {
                    float f = v[t] * yn[j];
                    if (kept < keep) {
                        keptValue[at + kept] = f;
                        keptColumn[at + kept] = j;
                        siftUp(keptValue, keptColumn, at, kept++);
                    } else if (f > keptValue[at]) {
                        keptValue[at] = f;
                        keptColumn[at] = j;
                        siftDown(keptValue, keptColumn, at, keep);
                    }
                }
            }
        }
    }

    /** Restores the min-heap of {@code value[at..]} after its entry {@code k} was added. */
    private static void siftUp(float[] value, int[] column, int at, int k) {
        while (k > 0) {
            int parent = (k - 1) / 2;
            if (!(value[at + k] < value[at + parent])) {
                return;
            }
            swap(value, column, at + k, at + parent);
            k = parent;
        }
    }

    /** Restores the min-heap of {@code size} entries at {@code value[at..]} after its root was replaced. */
    private static void siftDown(float[] value, int[] column, int at, int size) {
        int k = 0;
        while (true) {
            int small = k;
            int l = 2 * k + 1;
            if (l < size && value[at + l] < value[at + small]) {
                small = l;
            }
            if (l + 1 < size && value[at + l + 1] < value[at + small]) {
                small = l + 1;
            }
            if (small == k) {
                return;
            }
            swap(value, column, at + k, at + small);
            k = small;
        }
    }

    private static void swap(float[] value, int[] column, int a, int b) {
        float v = value[a];
        value[a] = value[b];
        value[b] = v;
        int c = column[a];
        column[a] = column[b];
        column[b] = c;
    }

    /**
     * Row i's candidate scan over every block whose maximum reaches {@code scaled}: each of its columns' estimate
     * recomputed in double; candidates (estimate at least {@code threshold}, best excluded, ascending) into
     * {@code found}, their count into {@code found[MAX_EXTRA_CANDIDATES]}; returns the largest estimate, or bound
     * ((block maximum + {@link #ESTIMATE_ROUNDING}) |x_i|, for a block left out), of a column that is not a
     * candidate. More candidates than {@link #MAX_EXTRA_CANDIDATES} set {@code ambiguous[0]}.
     */
    static double scanRow(int i, int n, int blocks, float[] blockMax, int best, float[] x, float[] y, int dk,
            double xn, double threshold, float scaled, int[] found, boolean[] ambiguous) {
        double others = Double.NEGATIVE_INFINITY; // largest estimate of a column that is not a candidate
        int count = 0;
        for (int blk = 0; blk < blocks; blk++) {
            float m = blockMax[i * blocks + blk];
            if (m < scaled) {
                others = Math.max(others, (m + ESTIMATE_ROUNDING) * xn);
                continue;
            }
            for (int j = blk * SCAN_BLOCK; j < Math.min(n, (blk + 1) * SCAN_BLOCK); j++) {
                if (j == best) {
                    continue;
                }
                double e = dotDouble(x, i * dk, y, j * dk, dk);
                if (e < threshold) {
                    others = Math.max(others, e);
                } else if (count == MAX_EXTRA_CANDIDATES) {
                    ambiguous[0] = true; // more columns within reach than are confirmed: ambiguous
                    break;
                } else {
                    found[count++] = j;
                }
            }
        }
        found[MAX_EXTRA_CANDIDATES] = count;
        return others;
    }

    /**
     * {@link #scanRow}'s answer from row i's kept largest estimates alone, or NaN when they cannot be shown to give
     * it. The estimate in double and its float f_j differ by at most {@link #ESTIMATE_ROUNDING} |x_i| (the rounding
     * that {@link #scanRow} already allows for the blocks it leaves out), and every column not kept has f_j at most
     * the kept minimum f_min, so its estimate is at most u = (f_min + ESTIMATE_ROUNDING) |x_i|. When u is below the
     * threshold (no such column is a candidate) and at most the largest estimate or bound of the non-candidates
     * found (none of them raises it), the columns not kept change nothing: the kept columns of the reaching
     * blocks, in ascending order, give the same candidates and the same bound, bit for bit, as scanning every
     * column of those blocks. More than {@link #MAX_EXTRA_CANDIDATES} kept candidates are ambiguous either way.
     */
    static double scanKept(int i, int n, int blocks, float[] blockMax, int keep, float[] keptValue,
            int[] keptColumn, int[] columns, int best, float[] x, float[] y, int dk, double xn, double threshold,
            float scaled, int[] found, boolean[] ambiguous) {
        double others = Double.NEGATIVE_INFINITY;
        for (int blk = 0; blk < blocks; blk++) {
            float m = blockMax[i * blocks + blk];
            if (Float.isNaN(m)) {
                return Double.NaN;
            }
            if (m < scaled) {
                others = Math.max(others, (m + ESTIMATE_ROUNDING) * xn);
            }
        }
        System.arraycopy(keptColumn, i * keep, columns, 0, keep);
        Arrays.sort(columns, 0, keep);
        int count = 0;
        for (int k = 0; k < keep; k++) {
            int j = columns[k];
            if (j == best || blockMax[i * blocks + j / SCAN_BLOCK] < scaled) {
                continue;
            }
            double e = dotDouble(x, i * dk, y, j * dk, dk);
            if (e < threshold) {
                others = Math.max(others, e);
            } else if (count == MAX_EXTRA_CANDIDATES) {
                ambiguous[0] = true; // as many candidates among the kept columns alone: ambiguous
                found[MAX_EXTRA_CANDIDATES] = count;
                return others;
            } else {
                found[count++] = j;
            }
        }
        found[MAX_EXTRA_CANDIDATES] = count;
        if (keep < n) {
            double u = (keptValue[i * keep] + ESTIMATE_ROUNDING) * xn;
            if (!(u < threshold && u <= others)) {
                return Double.NaN;
            }
        }
        return others;
    }

    /** <x[xa..xa+d), y[ya..ya+d)> accumulated in double (an estimate recomputed from the sketches). */
    private static double dotDouble(float[] x, int xa, float[] y, int ya, int d) {
        double s = 0;
        for (int t = 0; t < d; t++) {
            s += (double) x[xa + t] * y[ya + t];
        }
        return s;
    }

    /** The assignment on the candidate edges, into {@code match}; true when certified optimal for the dense matrix. */
    private static boolean certifiedAssignment(int[][] candidates, double[][] values, double[] rowMax, double[] ub,
            long[] match) {
        int n = candidates.length;
        int[] perm = SparseAssignment.solve(n, candidates, values);
        if (perm == null) {
            return false; // the candidate edges hold no perfect matching
        }
        double total = 0;
        double rowMaxSum = 0;
        double minGap = Double.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            int c = indexOf(candidates[i], perm[i]);
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
    private record Sketch(int k, float[] sketch, double[] norm2, double[] spread) {
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
            for (int c = 0; c < k; c++) {
                out[offset + c] = (float) (sketch[i * k + c] * scale);
            }
        }
    }

    /** The sketch of every neuron of {@code r}: neuron by neuron (axis 0), or row by row with partial sums per thread. */
    private static Sketch sketch(NeuronRows r, float[] signs, int k) {
        int n = r.n;
        int d = r.d;
        float[] sk = new float[n * k];
        float[] mass = new float[n * k];
        if (r.byRows) {
            int full = d - d % k;
            parallelChunks(n, (from, to) -> {
                NeuronRows.Reader reader = r.reader();
                float[] row = scratch(VECTOR_SLOT, d); // per-thread (an attention neuron is megabytes), first d written
                float[] acc = new float[k];
                float[] m = new float[k];
                for (int i = from; i < to; i++) {
                    reader.neuron(i, row);
                    Arrays.fill(acc, 0f);
                    Arrays.fill(m, 0f);
                    for (int o = 0; o < full; o += k) {
                        for (int c = 0; c < k; c++) {
                            float w = row[o + c];
                            acc[c] += signs[o + c] * w;
                            m[c] += w * w;
                        }
                    }
                    for (int t = full; t < d; t++) {
                        float w = row[t];
                        acc[t - full] += signs[t] * w;
                        m[t - full] += w * w;
                    }
                    System.arraycopy(acc, 0, sk, i * k, k);
                    System.arraycopy(m, 0, mass, i * k, k);
                }
            });
        } else {
            long outer = r.outer();
            int seg = r.segment();
            int at0 = r.segmentStart(0);
            int step = n > 1 ? r.segmentStart(1) - at0 : seg; // values between two neurons' segments in a row
            // parts of at least SKETCH_WORK_PER_VALUE values read per value of a part's sums (k x n each): a
            // down_proj's 4096 rows of 14336 neurons at k = 256 in 2 parts, not 8 (allocation and merge would cost
            // half the reads); fixed by the shapes, never by --threads (the sums' order must not depend on it)
            int parts = (int) Math.max(1, Math.min(OUTER_PARTS, outer * seg / ((long) SKETCH_WORK_PER_VALUE * k)));
            float[][] partSk = new float[parts][];
            float[][] partMass = new float[parts][];
            Parallel.forParts(outer, parts, (part, from, to) -> {
                // per thread, bucket-major sums [c][j]: a row's value of every neuron goes to the same bucket, so
                // the inner loop runs along the row and the accumulators (an embedding column's: one add per value)
                NeuronRows.Reader reader = r.reader();
                float[] a = new float[k * n];
                float[] m = new float[k * n];
                for (long o = from; o < to; o++) {
                    float[] row = reader.outerRow(o);
                    for (int sgm = 0; sgm < seg; sgm++) {
                        int t = (int) (o * seg + sgm); // position in every neuron's vector
                        int base = (t % k) * n;
                        float sg = signs[t];
                        if (step == 1) { // neurons side by side (an embedding's or a down_proj's columns): a loop C2 vectorizes
                            int x0 = at0 + sgm;
                            for (int j = 0; j < n; j++) {
                                float w = row[x0 + j];
                                a[base + j] += sg * w;
                                m[base + j] += w * w;
                            }
                        } else {
                            for (int j = 0, x = at0 + sgm; j < n; j++, x += step) {
                                float w = row[x];
                                a[base + j] += sg * w;
                                m[base + j] += w * w;
                            }
                        }
                    }
                }
                partSk[part] = a;
                partMass[part] = m;
            });
            // the parts' sums added in part order, each neuron's k buckets on the resync's threads
            parallelChunks(n, (ja, jb) -> {
                for (int part = 0; part < parts; part++) {
                    float[] a = partSk[part];
                    float[] m = partMass[part];
                    for (int c = 0; c < k; c++) {
                        for (int j = ja; j < jb; j++) {
                            sk[j * k + c] += a[c * n + j];
                            mass[j * k + c] += m[c * n + j];
                        }
                    }
                }
            });
        }
        double[] norm2 = new double[n];
        double[] spread = new double[n];
        parallelChunks(n, (ia, ib) -> {
            for (int i = ia; i < ib; i++) {
                double total = 0;
                double squares = 0;
                for (int c = 0; c < k; c++) {
                    total += mass[i * k + c];
                    squares += (double) mass[i * k + c] * mass[i * k + c];
                }
                norm2[i] = total;
                // with at most one coordinate per bucket the sketch is exact (no cross terms): no error to bound
                spread[i] = total > 0 && d > k ? Math.sqrt(squares) / total : 0;
            }
        });
        return new Sketch(k, sk, norm2, spread);
    }

    /** Exact summed cosines of chosen (reference row, suspect row) pairs, over all producers. */
    private static final class Exact {
        final List<NeuronRows> refs;
        final List<NeuronRows> suss;
        final double[][] refNorm;
        final double[][] susNorm;

        final double[] weights;

        Exact(List<NeuronRows> refs, List<NeuronRows> suss, double[][] refNorm, double[][] susNorm, double[] weights) {
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
            boolean any = false;
            for (int i = 0; i < n; i++) {
                out[i] = new double[columns[i].length];
                any |= columns[i].length > skip;
            }
            for (int p = 0; p < refs.size() && any; p++) { // no pair to compute: no pass over the rows
                double[][] dots = refs.get(p).byRows ? dotsByRows(refs.get(p), suss.get(p), columns, skip)
                        : dotsByOuterRows(refs.get(p), suss.get(p), columns, skip);
                for (int i = 0; i < n; i++) {
                    for (int c = skip; c < columns[i].length; c++) {
                        out[i][c] += weights[p] * dots[i][c] / (refNorm[p][i] * susNorm[p][columns[i][c]]);
                    }
                }
            }
            return out;
        }

        /** Dot products of neuron vectors read one by one (members on axis 0). */
        private static double[][] dotsByRows(NeuronRows ref, NeuronRows sus, int[][] columns, int skip) {
            int n = columns.length;
            double[][] out = new double[n][];
            parallelChunks(n, (from, to) -> {
                NeuronRows.Reader ra = ref.reader();
                NeuronRows.Reader rb = sus.reader();
                float[] a = scratch(VECTOR_SLOT, ref.d); // per-thread, first d written by each neuron read
                float[] b = scratch(VECTOR_SLOT + 1, sus.d);
                float[] acc = new float[DOT_LANES];
                for (int i = from; i < to; i++) {
                    out[i] = new double[columns[i].length];
                    if (columns[i].length <= skip) {
                        continue;
                    }
                    ra.neuron(i, a);
                    for (int c = skip; c < columns[i].length; c++) {
                        rb.neuron(columns[i][c], b);
                        out[i][c] = dot(a, b, ref.d, acc);
                    }
                }
            });
            return out;
        }

        /**
         * Dot products of members on axis 1: every row of both tensors read once, in {@link #OUTER_PARTS} parts of
         * rows, each with its own sums (one per pair), added in part order. The tiles are per-thread scratch
         * ({@link #scratch}): every value a pair reads is written by the tile's read first.
         */
        private static double[][] dotsByOuterRows(NeuronRows ref, NeuronRows sus, int[][] columns, int skip) {
            int n = columns.length;
            long outer = ref.outer();
            int seg = ref.segment();
            int parts = (int) Math.max(1, Math.min(outer, OUTER_PARTS));
            double[][] partial = new double[parts][];
            int tileRows = tileRows(ref);
            // the pairs, flat: reference neuron i's and suspect neuron j's places in a row
            int pairs = 0;
            for (int i = 0; i < n; i++) {
                pairs += Math.max(0, columns[i].length - skip);
            }
            int[] pairRow = new int[pairs];
            int[] pairColumn = new int[pairs];
            int[] pairA = new int[pairs];
            int[] pairB = new int[pairs];
            for (int i = 0, q = 0; i < n; i++) {
                for (int c = skip; c < columns[i].length; c++, q++) {
                    pairRow[q] = i;
                    pairColumn[q] = columns[i][c];
                    pairA[q] = ref.segmentStart(i);
                    pairB[q] = sus.segmentStart(columns[i][c]);
                }
            }
            int pairCount = pairs;
            int rowA = ref.rowValues();
            int rowB = sus.rowValues();
            Parallel.forParts(outer, parts, (part, from, to) -> {
                NeuronRows.Reader ra = ref.reader();
                NeuronRows.Reader rb = sus.reader();
                float[] ta = scratch(TILE_SLOT, tileRows * rowA);
                float[] tb = scratch(TILE_SLOT + 1, tileRows * rowB);
                float[] va = seg == 1 ? null : scratch(TILE_SLOT + 2, tileRows * seg);
                float[] vb = seg == 1 ? null : scratch(TILE_SLOT + 3, tileRows * seg);
                float[] lanes = new float[DOT_LANES];
                double[] flat = new double[pairCount];
                for (long o0 = from; o0 < to; o0 += tileRows) {
                    int count = (int) Math.min(tileRows, to - o0);
                    ra.tile(o0, count, ta);
                    rb.tile(o0, count, tb);
                    if (seg == 1) { // one value per neuron and row: products read in place, row by row
                        for (int t = 0; t < count; t++) {
                            int xa = t * rowA;
                            int xb = t * rowB;
                            for (int q = 0; q < pairCount; q++) {
                                flat[q] += ta[xa + pairA[q]] * tb[xb + pairB[q]];
                            }
                        }
                        continue;
                    }
                    int len = count * seg;
                    for (int q = 0; q < pairCount; q++) {
                        if (q == 0 || pairRow[q] != pairRow[q - 1]) {
                            ra.neuronInTile(ta, count, pairRow[q], va);
                        }
                        rb.neuronInTile(tb, count, pairColumn[q], vb);
                        flat[q] += dot(va, vb, len, lanes);
                    }
                }
                partial[part] = flat;
            });
            double[][] out = new double[n][];
            for (int i = 0; i < n; i++) {
                out[i] = new double[columns[i].length];
            }
            for (int i = 0, q = 0; i < n; i++) {
                for (int c = skip; c < columns[i].length; c++, q++) {
                    double s = partial[0][q];
                    for (int part = 1; part < parts; part++) {
                        s += partial[part][q];
                    }
                    out[i][c] = s;
                }
            }
            return out;
        }
    }

    /** sum_t a[t] b[t]: DOT_LANES float partial sums (the inner loop vectorizes), added in double. */
    static double dot(float[] a, float[] b, float[] acc) {
        return dot(a, b, a.length, acc);
    }

    /** sum over t < d of a[t] b[t], as {@link #dot(float[], float[], float[])}. */
    static double dot(float[] a, float[] b, int d, float[] acc) {
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

    interface RangeBody {
        void run(int from, int to);
    }

    /** Runs body over [0, n) in contiguous chunks on {@link Parallel#threads()} threads (the CLI's --threads). */
    static void parallelChunks(int n, RangeBody body) {
        int chunks = Math.max(1, Math.min(n, CHUNKS_PER_CORE * Parallel.threads()));
        Parallel.forParts(n, chunks, (c, from, to) -> body.run((int) from, (int) to));
    }

    /** Bytes of the row tiles that members on axis 1 are read in (a neuron's values of a tile are gathered in cache). */
    private static final int TILE_BYTES = 1 << 19;

    /** First of the four scratch slots of {@link Exact}'s tiles (reference, suspect, and their neuron segments). */
    static final int TILE_SLOT = 0;
    /** The scratch slot of {@link NeuronRows#materialize(int[])}'s stage. */
    static final int STAGE_SLOT = 4;
    /** First of the {@link #VECTOR_SLOTS} scratch slots of NeuronRows' passes over neuron vectors. */
    static final int VECTOR_SLOT = 5;
    /** Scratch slots of the passes over neuron vectors: the integrity norms read this many neurons side by side. */
    static final int VECTOR_SLOTS = NeuronRows.INTERLEAVED;
    private static final int SCRATCH_SLOTS = VECTOR_SLOT + VECTOR_SLOTS;

    /**
     * Float scratch arrays of this thread's passes over members on axis 1, kept from one call to the next: a fresh
     * half-megabyte tile per part, producer and call was zeroed, and on a growing heap page-faulted, for nothing (its
     * values are written before they are read). The slots: {@link #TILE_SLOT} and the three after it, the exact dot
     * products' tiles; {@link #STAGE_SLOT}, the stage of {@link NeuronRows#materialize(int[])}; {@link #VECTOR_SLOT}
     * and the {@link #VECTOR_SLOTS} - 1 after it, the neuron vectors of the passes over members on axis 0
     * (integrity norms, the certificate's diagonal, the sketch, the exact dot products, materialize: an attention
     * group's neuron is megabytes, and a fresh one per chunk was a humongous G1 object that grew the committed heap
     * on a 7B model). None of these passes runs inside another on the same thread. Released with the thread.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[SCRATCH_SLOTS][]);


    /** This thread's scratch array {@code slot}, at least {@code length} long; its contents are left over. */
    static float[] scratch(int slot, int length) {
        float[][] s = SCRATCH.get();
        if (s[slot] == null || s[slot].length < length) {
            s[slot] = new float[length];
        }
        return s[slot];
    }

    /** Rows per tile of an axis-1 member: about {@link #TILE_BYTES} of converted values, at least one row. */
    private static int tileRows(NeuronRows r) {
        return Math.max(1, TILE_BYTES / 4 / Math.max(1, r.rowValues()));
    }

    /**
     * Parts of rows that the passes over members on axis 1 (the sketch, the exact dot products) sum separately and
     * then add in part order: a fixed count, so the sums and the report's figures do not depend on --threads (with
     * one part per thread, a 1-thread and a 2-thread run differed in the margins' last digits). Each part holds
     * its own partial sums (k x n floats for the sketch), so this also bounds that memory.
     */
    private static final int OUTER_PARTS = 8;

    /** The sketch's parts of rows: at least this many values read per value of a part's partial sums. */
    private static final int SKETCH_WORK_PER_VALUE = 8;

    /** Work chunks per core (uneven rows: candidates differ per row). */
    private static final int CHUNKS_PER_CORE = 8;
}
