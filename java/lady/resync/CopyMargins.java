package lady.resync;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.permutation.Permutation;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.util.Parallel;

/**
 * The exact margins of {@link PrefilteredMatch#exactMargins} at about half the cost when the suspect's rows are exact
 * copies of the reference's: for every row set p and reference row i, suspect row {@code match[i]} holds, value for
 * value, the float32 vector of reference row i (a pure permutation attack; checked, never assumed).
 *
 * <p>Then {@code S[i, match[k]] = sum_p w_p K(ref_p row i, ref_p row k)}, with K the native float32 cosine kernel
 * ({@link Kernels#cosineSimilarity}, {@link Backend#CPU}): the reference's own similarity matrix, symmetric. The
 * kernel gives {@code K(a, b) == K(b, a)} bit for bit, whatever the positions of a and b in the call and the other
 * rows in it (each row is normalized on its own while packed; each output element is one accumulator lane of FMAs
 * over the depth in a fixed order, blocks of depth added in order, and an FMA's rounding does not depend on the
 * order of its two factors; CopyMarginsTest and the native similarity_symmetry_test check it at sizes that leave
 * partial tiles and depth blocks). So the similarities of the pairs on and above the diagonal
 * ({@link #symmetricMaxima}: n^2 / 2 plus a sliver) give every element of S once; each is used for its row's maximum
 * and, mirrored, for its column's. The weighted sum over row sets is taken in double in the same order, rounded to
 * float and compared as the dense path does ({@link Combination#similarity}; a maximum by {@code >}, so NaN never
 * wins; the kernel never returns -0.0, so the order of the comparisons does not matter): the margins are bit for bit
 * today's.
 *
 * <p>Only the rows whose margins are asked for need their blocks: the reference rows are taken in the order asked
 * rows first (K does not depend on positions), so the calls cover those blocks only. Not used (false to the caller,
 * which then takes the full-row path) when: the backend is not the CPU; a row set is read through the
 * bfloat16 kernel (its scaling by the two rows' norms is not symmetric); fewer than one row in
 * {@link #MIN_FRACTION} is asked for (the copy check, a read of every row, would cost more than it saves);
 * {@code match} is not a permutation or a row is asked for twice; or any matched pair differs in any bit.
 */
final class CopyMargins {
    private CopyMargins() {}

    /** Rows per call of the symmetric product; rounded up to a multiple of {@link #TILE_ROWS} times the threads. */
    static final int BLOCK_ROWS = 240;
    /** A multiple of every micro-tile height of the float32 kernel (12 for AVX-512, 6 for AVX2, 4 generic): the
     * kernel splits a call's rows over its threads in whole tiles, so the threads get equal shares. */
    static final int TILE_ROWS = 12;
    /** The symmetric path is tried when at least one row in this many is asked for. */
    static final int MIN_FRACTION = 4;
    /** Rows compared before the whole reference is read: a suspect that is not a copy is rejected cheaply. */
    static final int PROBE_ROWS = 16;

    /**
     * The margins of {@code rows} into {@code margins}, as {@link PrefilteredMatch#exactMargins} would compute them,
     * when the suspect is an exact copy (see the class comment); false (margins untouched) otherwise.
     */
    static boolean margins(Backend backend, List<NeuronRows> refs, List<NeuronRows> suss, double[] weights, int n,
            long[] match, int[] rows, double[] margins) {
        if (backend != Backend.CPU || n < 2 || (long) rows.length * MIN_FRACTION < n || match.length != n
                || !Permutation.isPermutation(match)) {
            return false;
        }
        for (int p = 0; p < refs.size(); p++) {
            if (refs.get(p).storedAsBf16() && suss.get(p).storedAsBf16()) {
                return false;
            }
        }
        int[] order = askedFirst(rows, n);
        if (order == null) {
            return false;
        }
        int producers = refs.size();
        for (int p = 0; p < producers; p++) {
            int[] probe = Arrays.copyOf(order, Math.min(n, PROBE_ROWS));
            HostTensor a = refs.get(p).materialize(probe);
            boolean same = sameRows(a, 0, suss.get(p), probe, match);
            a.memory().close();
            if (!same) {
                return false;
            }
        }
        boolean identity = true; // the order is the stored one (every row asked, ascending): the rows can stay in place
        for (int x = 0; x < n && identity; x++) {
            identity = order[x] == x;
        }
        HostTensor[] a = new HostTensor[producers];
        boolean[] owned = new boolean[producers];
        try {
            for (int p = 0; p < producers; p++) {
                NeuronRows ref = refs.get(p);
                NeuronRows sus = suss.get(p);
                boolean byRows = ref.byRows && sus.byRows;
                if (byRows && !sameByRows(ref, sus, match)) { // vector by vector, nothing allocated
                    return false;
                }
                a[p] = identity ? ref.contiguousFloat32() : null;
                if (a[p] == null) {
                    a[p] = ref.materialize(order);
                    owned[p] = true;
                }
                for (int from = 0; from < n && !byRows; from += PrefilteredMatch.MARGIN_BLOCK_ROWS) {
                    int to = Math.min(n, from + PrefilteredMatch.MARGIN_BLOCK_ROWS);
                    int[] block = Arrays.copyOfRange(order, from, to);
                    if (!sameRows(a[p], from, sus, block, match)) {
                        return false;
                    }
                }
            }
            float[] chosen = new float[n];
            float[] other = new float[n];
            symmetricMaxima(a, weights, n, rows.length, chosen, other);
            for (int r = 0; r < rows.length; r++) {
                margins[order[r]] = (double) chosen[r] - other[r];
            }
            return true;
        } finally {
            for (int p = 0; p < producers; p++) {
                if (owned[p]) {
                    a[p].memory().close();
                }
            }
        }
    }

    /**
     * Over positions of the rows in {@code a} (every row set's reference rows in one order): chosen[x] = S[x, x] and
     * other[x] = max over y != x of S[x, y], rounded to float, for x < {@code asked}; S = sum_p w_p K(a_p x, a_p y).
     * The range of positions is halved recursively: each half's own similarities, then the first half's rows against
     * the second half's (used for both halves' rows), in calls of at most {@link PrefilteredMatch#MARGIN_BLOCK_ROWS}
     * rows as the full-row path's, so that most of the work is in large calls (the kernel packs a call's columns once
     * per thread: a call of few rows pays that packing on little work); a range of at most {@link #BLOCK_ROWS} rows is
     * one square call.
     */
    static void symmetricMaxima(HostTensor[] a, double[] weights, int n, int asked, float[] chosen, float[] other) {
        int step = TILE_ROWS * Math.max(1, Parallel.threads());
        int leaf = Math.max(step, BLOCK_ROWS / step * step);
        Arrays.fill(other, Float.NEGATIVE_INFINITY);
        Product product = new Product(a, weights, Math.min(n, Math.max(leaf, PrefilteredMatch.MARGIN_BLOCK_ROWS)), n);
        try {
            symmetric(product, 0, n, asked, step, leaf, chosen, other);
        } finally {
            product.close();
        }
        java.lang.ref.Reference.reachabilityFence(a);
    }

    /** The maxima of positions [lo, hi) over the columns [lo, hi) (nothing when no position of it is asked for). */
    private static void symmetric(Product product, int lo, int hi, int asked, int step, int leaf, float[] chosen,
            float[] other) {
        if (lo >= asked || hi - lo < 1) {
            return;
        }
        if (hi - lo <= leaf) {
            int k = hi - lo;
            double[] s = product.compute(lo, k, lo, k);
            PrefilteredMatch.parallelChunks(k, (ra, rb) -> {
                for (int r = ra; r < rb; r++) {
                    float best = other[lo + r];
                    for (int c = 0; c < k; c++) {
                        float v = (float) s[r * k + c];
                        if (c == r) {
                            chosen[lo + r] = v;
                        } else if (v > best) {
                            best = v;
                        }
                    }
                    other[lo + r] = best;
                }
            });
            return;
        }
        int mid = Math.min(hi - 1, lo + ((hi - lo) / 2 + step - 1) / step * step);
        symmetric(product, lo, mid, asked, step, leaf, chosen, other);
        symmetric(product, mid, hi, asked, step, leaf, chosen, other);
        int m = hi - mid;
        for (int r0 = lo; r0 < mid; r0 += product.maxRows) { // the first half's rows against the second half's
            if (r0 >= asked) {
                break; // these rows and every column after them are not asked for
            }
            int k = Math.min(product.maxRows, mid - r0);
            int from = r0;
            double[] s = product.compute(r0, k, mid, m);
            PrefilteredMatch.parallelChunks(k, (ra, rb) -> { // for the first half's rows
                for (int r = ra; r < rb; r++) {
                    float best = other[from + r];
                    for (int c = 0; c < m; c++) {
                        float v = (float) s[r * m + c];
                        if (v > best) {
                            best = v;
                        }
                    }
                    other[from + r] = best;
                }
            });
            PrefilteredMatch.parallelChunks(m, (ca, cb) -> { // for the second half's rows, mirrored: S[y, x] = S[x, y]
                for (int r = 0; r < k; r++) {
                    for (int c = ca; c < cb; c++) {
                        float v = (float) s[r * m + c];
                        if (v > other[mid + c]) {
                            other[mid + c] = v;
                        }
                    }
                }
            });
        }
    }

    /** S over a block of positions: the kernel per row set, summed in double with the weights in row-set order. */
    private static final class Product {
        private final HostTensor[] a;
        private final double[] weights;
        /** Rows of one call at most. */
        final int maxRows;
        private final HostTensor out;
        private final double[] s;

        Product(HostTensor[] a, double[] weights, int maxRows, int n) {
            this.a = a;
            this.weights = weights;
            this.maxRows = maxRows;
            this.out = HostTensor.allocate(DType.FLOAT32, maxRows, n);
            this.s = new double[Math.multiplyExact(maxRows, n)];
        }

        /** S[row0 + r, col0 + c] at s[r * m + c] (the returned array is reused by the next call). */
        double[] compute(int row0, int k, int col0, int m) {
            Arrays.fill(s, 0, k * m, 0.0);
            FloatBuffer part = out.floats();
            for (int p = 0; p < a.length; p++) {
                long d = a[p].size(1);
                Kernels.cosineSimilarity(Backend.CPU, a[p].address() + 4L * row0 * d, a[p].address() + 4L * col0 * d, k,
                        m, d, false, out.address());
                double w = weights[p];
                PrefilteredMatch.parallelChunks(k, (ra, rb) -> {
                    for (int t = ra * m; t < rb * m; t++) {
                        s[t] += w * part.get(t);
                    }
                });
            }
            java.lang.ref.Reference.reachabilityFence(out);
            return s;
        }

        void close() {
            out.memory().close();
        }
    }

    /** The rows asked for (in their order), then the others ascending; null when a row is asked for twice. */
    private static int[] askedFirst(int[] rows, int n) {
        int[] order = new int[n];
        boolean[] asked = new boolean[n];
        int at = 0;
        for (int i : rows) {
            if (asked[i]) {
                return null;
            }
            order[at++] = i;
            asked[i] = true;
        }
        for (int i = 0; i < n; i++) {
            if (!asked[i]) {
                order[at++] = i;
            }
        }
        return order;
    }

    /** Whether every reference vector i equals suspect vector match[i] bit for bit (members on axis 0: read a vector at
     * a time, converted as the kernel's input is). */
    private static boolean sameByRows(NeuronRows ref, NeuronRows sus, long[] match) {
        AtomicBoolean differ = new AtomicBoolean();
        PrefilteredMatch.parallelChunks(ref.n, (from, to) -> {
            NeuronRows.Reader ra = ref.reader();
            NeuronRows.Reader rb = sus.reader();
            float[] u = new float[ref.d];
            float[] v = new float[sus.d];
            for (int i = from; i < to && !differ.get(); i++) {
                ra.neuron(i, u);
                rb.neuron((int) match[i], v);
                for (int t = 0; t < u.length; t++) {
                    if (Float.floatToRawIntBits(u[t]) != Float.floatToRawIntBits(v[t])) {
                        differ.set(true);
                        break;
                    }
                }
            }
        });
        return !differ.get();
    }

    /** Whether rows [from, from + refRows.length) of {@code a} equal, bit for bit, suspect rows match[refRows[r]]. */
    private static boolean sameRows(HostTensor a, int from, NeuronRows sus, int[] refRows, long[] match) {
        int[] columns = new int[refRows.length];
        for (int r = 0; r < refRows.length; r++) {
            columns[r] = (int) match[refRows[r]];
        }
        HostTensor b = sus.materialize(columns);
        try {
            HostTensor view = HostTensor.view(a.memory(), a.offset() + 4L * from * sus.d, DType.FLOAT32,
                    refRows.length, sus.d);
            return view.sameContent(b);
        } finally {
            b.memory().close();
        }
    }
}
