package lady.resync;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import lady.kernels.ArgmaxTop2;
import lady.kernels.Kernels;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;

/**
 * Combines a group's {@link Contribution}s into one similarity and solves the match (method.md
 * section 4): {@code S = sum_k w_k S_k / sum_k w_k}, the weighted mean of the contributions'
 * similarities (cosines of their rows, or ready matrices), with {@code w_k} from the contribution's
 * dimension d_k ({@link EvidenceWeighting}; default sqrt(d_k)). Why sqrt(d): between rows that do
 * not correspond, a cosine at dimension d spreads about 1 / sqrt(d) around its structural level,
 * so {@code sqrt(d) S_k} is a z-score and the weighted sum adds the sources' z-scores (Stouffer): a
 * 10-value column of a 10-class output layer cannot outvote a 512-value row, while a 576-value
 * consumer column outweighs a 27-value first-layer row. A single contribution is used as it is.
 *
 * <p>The match is the exact assignment on S, or the paper's row argmax. Large groups whose
 * contributions are all rows may be solved by the random-projection prefilter ({@link PrefilteredMatch},
 * same weights), which gives the dense optimum without the dense matrix, or hands the group back.
 */
final class Combination {
    private Combination() {}

    /**
     * A solved group.
     *
     * @param match       match[i] = suspect index playing reference neuron i
     * @param margins     per reference neuron, the matched similarity minus the best other (the prefilter's are
     *                    the same, exact; a kept order's are lower bounds)
     * @param similarity  the dense combined similarity, or null when the prefilter answered
     * @param weights     the normalized weight of each contribution, in order
     * @param prefiltered whether the prefilter answered
     * @param kept        whether the last solve's order was kept by the certificate ({@link #keep})
     * @param sampled     per contribution of rows, its cosines of the reference rows {@code sampleRows} against every
     *                    suspect row (m x n, the dense path's own values), or null: what the verdict reads
     * @param marginBounds per reference neuron, whether its margin is a lower bound (the prefilter's with
     *                    {@link Margins#BOUND}, a kept order's), or null when every margin is exact
     * @param screened    when the group showed no relation to the reference ({@link RelationScreen}): the screen's
     *                    answer, the match the identity (the suspect's order kept) and the margins NaN (none
     *                    computed); else null
     */
    record Solved(long[] match, double[] margins, float[] similarity, double[] weights, boolean prefiltered,
            boolean kept, float[][] sampled, boolean[] marginBounds, RelationScreen.Result screened) {
        Solved(long[] match, double[] margins, float[] similarity, double[] weights, boolean prefiltered,
                boolean kept, float[][] sampled, boolean[] marginBounds) {
            this(match, margins, similarity, weights, prefiltered, kept, sampled, marginBounds, null);
        }

        Solved(long[] match, double[] margins, float[] similarity, double[] weights, boolean prefiltered,
                boolean kept) {
            this(match, margins, similarity, weights, prefiltered, kept, null, null);
        }

        /** A group that showed no relation: the suspect's order kept, no margins. */
        static Solved unrelated(int n, double[] weights, RelationScreen.Result screened) {
            long[] identity = new long[n];
            double[] margins = new double[n];
            for (int i = 0; i < n; i++) {
                identity[i] = i;
                margins[i] = Double.NaN;
            }
            return new Solved(identity, margins, null, weights, true, false, null, null, screened);
        }
    }

    /** Room left for float rounding when a certificate compares margins (cosines are float sums). */
    static final double CERTIFICATE_SLACK = 1e-5;

    /** The normalized weights (summing to 1) of the contributions. */
    static double[] weights(List<Contribution> cs, EvidenceWeighting weighting) {
        double[] w = new double[cs.size()];
        double total = 0;
        for (int k = 0; k < w.length; k++) {
            w[k] = weighting.weight(cs.get(k).dimension());
            total += w[k];
        }
        for (int k = 0; k < w.length; k++) {
            w[k] /= total;
        }
        return w;
    }

    /** Solves the group of {@code n} neurons from its contributions. */
    static Solved solve(List<Contribution> cs, int n, ResyncOptions options) {
        return solve(cs, n, options, null);
    }

    /**
     * As {@link #solve(List, int, ResyncOptions)}; when the dense path answers, it also keeps each row
     * contribution's cosines of the reference rows {@code sampleRows} (ascending; null: none) against every suspect
     * row ({@link Solved#sampled}).
     */
    static Solved solve(List<Contribution> cs, int n, ResyncOptions options, long[] sampleRows) {
        return solve(cs, n, options, sampleRows, null, null);
    }

    /**
     * As {@link #solve(List, int, ResyncOptions, long[])}; a large group the prefilter gives up on is first screened
     * for any relation to the reference on the reference rows {@code screenRows} (ascending; null: no screen), and
     * solved as {@link Solved#unrelated} when it shows none ({@link RelationScreen}).
     */
    static Solved solve(List<Contribution> cs, int n, ResyncOptions options, long[] sampleRows, String group,
            long[] screenRows) {
        double[] w = weights(cs, options.weighting());
        if (options.method() == Method.ASSIGNMENT && cs.stream().allMatch(Contribution::isRows)) {
            long d = cs.stream().mapToLong(Contribution::dimension).sum();
            if (PrefilteredMatch.wanted(options.prefilter(), n, d, options.margins())) {
                // rows read where they lie: the mapped files, the suspect through its lazy index maps
                List<NeuronRows> refs = new ArrayList<>();
                List<NeuronRows> suss = new ArrayList<>();
                cs.forEach(c -> {
                    NeuronRows[] pair = c.rows().neuronRows();
                    refs.add(pair[0]);
                    suss.add(pair[1]);
                });
                int[][] best = new int[1][];
                PrefilteredMatch.Outcome o = PrefilteredMatch.solveRows(options.backend(), refs, suss, w, n,
                        options.margins(), options.marginThreshold(), true, best);
                if (o != null) {
                    return new Solved(o.match(), o.margins(), null, w, true, false, null, o.bounds());
                }
                if (best[0] != null && screenRows != null && 2.0 * n * n * d >= options.screenMinFlop()) {
                    RelationScreen.Result screened = RelationScreen.screen(group, cs, n, best[0], screenRows, options);
                    if (screened.unrelated()) {
                        return Solved.unrelated(n, w, screened);
                    }
                }
            }
        }
        float[][] sampled = sampleRows == null ? null : new float[cs.size()][];
        float[] s = similarity(cs, w, options, n, sampleRows, sampled);
        ArgmaxTop2 top;
        long[] match;
        try (Kernels.Uploaded uploaded = Kernels.upload("matrix", s, n, n)) { // (one copy for both kernels)
            top = Similarity.rowTop2(options.backend(), uploaded);
            if (options.method() == Method.ARGMAX) {
                match = Arrays.stream(top.index()).asLongStream().toArray();
            } else {
                match = Similarity.argmaxPermutation(top, uploaded); // no search when every row's maximum is its own
                if (match == null) {
                    match = Similarity.assign(options.backend(), uploaded);
                }
            }
        }
        return new Solved(match, margins(s, n, match, top), s, w, false, false, sampled, null);
    }

    /**
     * The certificate of a later pass: the group's current order (the identity, its last match being
     * applied) stays the optimum when contributions are added to unchanged ones, if every row's old
     * margin outweighs what the new contributions could take from it. Row i's matched value can lose
     * at most {@code sum_new w_k (1 - S_k[i, i])} against any other column (a cosine is at most 1), so
     * when {@code W_old margin_i} exceeds that for every row, every row's maximum stays on the diagonal:
     * the identity is the exact assignment (and the argmax) of the combined similarity, computed from
     * n matched pairs per new contribution instead of the n x n matrix. The margins returned are the
     * lower bounds {@code (W_old margin_i - sum_new w_k (1 - S_k[i, i])) / W}.
     *
     * @param cs         every contribution of this solve
     * @param unchanged  keys of the contributions of the last solve, all present in {@code cs} and unchanged
     * @param oldMargins the last solve's margins (or lower bounds)
     * @return the kept order, or null when the certificate fails (solve again)
     */
    static Solved keep(List<Contribution> cs, java.util.Set<String> unchanged, double[] oldMargins, int n,
            ResyncOptions options) {
        double oldWeight = 0;
        double total = 0;
        double[] loss = new double[n];
        for (Contribution c : cs) {
            double w = options.weighting().weight(c.dimension());
            total += w;
            if (unchanged.contains(c.key())) {
                oldWeight += w;
                continue;
            }
            double[] diagonal = c.isRows() ? c.rows().diagonalCosine()
                    : diagonal(c.similarity(), n);
            for (int i = 0; i < n; i++) {
                loss[i] += w * (1 - diagonal[i]);
            }
        }
        double[] margins = new double[n];
        for (int i = 0; i < n; i++) {
            double slack = oldWeight * oldMargins[i] - loss[i];
            if (!(slack > CERTIFICATE_SLACK * total)) {
                return null;
            }
            margins[i] = slack / total;
        }
        long[] identity = new long[n];
        for (int i = 0; i < n; i++) {
            identity[i] = i;
        }
        return new Solved(identity, margins, null, weights(cs, options.weighting()), false, true);
    }

    private static double[] diagonal(float[] s, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = s[i * n + i];
        }
        return d;
    }

    /** Bytes of one contribution's block of the dense similarity (a block of reference rows against every suspect row). */
    static final long DENSE_BLOCK_BYTES = 4L << 20;

    /**
     * The dense combined similarity (a single contribution: its own, unchanged), a block of reference rows at a
     * time: per block, each contribution's cosines by the native kernel into a buffer kept from block to block,
     * then {@code sum_k w_k S_k} in double, rounded to float, in parallel over the block's rows. A cosine of the
     * kernel does not depend on which other rows it is computed with, so the values are those of one product per
     * contribution over all rows, added in the same order: no N x N buffer per contribution, no N x N doubles.
     */
    static float[] similarity(List<Contribution> cs, double[] w, ResyncOptions options, int n) {
        return similarity(cs, w, options, n, null, null);
    }

    /**
     * As {@link #similarity(List, double[], ResyncOptions, int)}; with {@code sampleRows} (ascending), also each row
     * contribution's cosines of those reference rows against every suspect row, into {@code sampled[k]}.
     */
    static float[] similarity(List<Contribution> cs, double[] w, ResyncOptions options, int n, long[] sampleRows,
            float[][] sampled) {
        if (cs.size() == 1 && !cs.get(0).isRows()) {
            return cs.get(0).similarity();
        }
        long together = 0; // the rows of every contribution gathered at once, both sides, float32
        long largest = 0;
        for (Contribution c : cs) {
            long bytes = c.isRows() ? 8L * n * c.dimension() : 0;
            together += bytes;
            largest = Math.max(largest, bytes);
        }
        long oneByOne = 8L * n * n + largest; // an n x n double accumulator and one contribution's rows
        lady.util.Memory.require(Math.min(together, oneByOne) + 4.0 * n * n, together / 8,
                "the dense similarity of a group of " + n + " neurons", "run it on a machine with more memory");
        // the same values either way (DenseSimilarityTest): the order with the smaller peak
        return oneByOne < together ? similarityOneByOne(cs, w, options, n, sampleRows, sampled)
                : similarityTogether(cs, w, options, n, sampleRows, sampled);
    }

    /**
     * {@link #similarity(List, double[], ResyncOptions, int, long[], float[][])} with the rows of every contribution
     * gathered at once: per block of reference rows, each contribution's cosines, then their weighted sum.
     */
    static float[] similarityTogether(List<Contribution> cs, double[] w, ResyncOptions options, int n,
            long[] sampleRows, float[][] sampled) {
        int k = cs.size();
        HostTensor[] a = new HostTensor[k];
        HostTensor[] b = new HostTensor[k];
        for (int q = 0; q < k; q++) {
            if (cs.get(q).isRows()) {
                a[q] = cs.get(q).rows().reference();
                b[q] = cs.get(q).rows().suspect();
            }
        }
        float[] out = new float[Math.multiplyExact(n, n)];
        int blockRows = (int) Math.max(1, Math.min(n, DENSE_BLOCK_BYTES / 4 / Math.max(n, 1)));
        HostMemory[] buffers = new HostMemory[k];
        try {
            for (int q = 0; q < k; q++) {
                if (a[q] != null) {
                    buffers[q] = HostMemory.allocate(4L * blockRows * n);
                }
            }
            for (int i0 = 0; i0 < n; i0 += blockRows) {
                int rows = Math.min(blockRows, n - i0);
                for (int q = 0; q < k; q++) {
                    if (a[q] != null) {
                        long d = a[q].size(1);
                        Kernels.cosineSimilarity(options.backend(), a[q].address() + 4L * i0 * d, b[q].address(), rows,
                                n, d, false, buffers[q].address());
                    }
                }
                if (sampleRows != null) {
                    for (int q = 0; q < k; q++) {
                        if (a[q] != null) {
                            keepSampled(buffers[q], i0, rows, n, sampleRows, sampled, q);
                        }
                    }
                }
                int from = i0;
                PrefilteredMatch.parallelChunks(rows, (ra, rb) -> {
                    float[] part = new float[n];
                    double[] acc = new double[n];
                    for (int r = ra; r < rb; r++) {
                        java.util.Arrays.fill(acc, 0);
                        for (int q = 0; q < k; q++) {
                            float[] v;
                            int at;
                            if (a[q] != null) {
                                buffers[q].buffer(4L * r * n, 4 * n).asFloatBuffer().get(part);
                                v = part;
                                at = 0;
                            } else {
                                v = cs.get(q).similarity();
                                at = (from + r) * n;
                            }
                            double wq = w[q];
                            for (int j = 0; j < n; j++) {
                                acc[j] += wq * v[at + j];
                            }
                        }
                        int o = (from + r) * n;
                        for (int j = 0; j < n; j++) {
                            out[o + j] = (float) acc[j];
                        }
                    }
                });
            }
        } finally {
            for (HostMemory m : buffers) {
                if (m != null) {
                    m.close();
                }
            }
            java.lang.ref.Reference.reachabilityFence(a);
            java.lang.ref.Reference.reachabilityFence(b);
        }
        return out;
    }

    /**
     * The verdict's rows {@code sampleRows} that lie in the block of reference rows [i0, i0 + rows), whose cosines
     * against every suspect row are in {@code block} (row-major, n per row): copied into {@code sampled[q]} (m x n,
     * allocated on first use).
     */
    private static void keepSampled(HostMemory block, int i0, int rows, int n, long[] sampleRows, float[][] sampled,
            int q) {
        if (sampled[q] == null) {
            sampled[q] = new float[Math.multiplyExact(sampleRows.length, n)];
        }
        for (int r = 0; r < sampleRows.length; r++) {
            long i = sampleRows[r];
            if (i >= i0 && i < i0 + rows) {
                block.buffer(4L * (i - i0) * n, 4 * n).asFloatBuffer().get(sampled[q], r * n, n);
            }
        }
    }

    /**
     * The same values as {@link #similarityTogether}, one contribution at a time: its rows gathered, its cosines added
     * (times its weight) into an n x n double accumulator in contribution order, its rows released (gathered again if
     * read later). What a group costs in memory when its contributions' rows outweigh the accumulator: the residual
     * stream of a 32-layer model in its second pass reads 1.6 M values per neuron (27 GB of float32 rows per side at
     * 7B width), against 134 MB of accumulator.
     */
    static float[] similarityOneByOne(List<Contribution> cs, double[] w, ResyncOptions options, int n,
            long[] sampleRows, float[][] sampled) {
        double[] acc = new double[Math.multiplyExact(n, n)];
        int blockRows = (int) Math.max(1, Math.min(n, DENSE_BLOCK_BYTES / 4 / Math.max(n, 1)));
        for (int q = 0; q < cs.size(); q++) {
            Contribution c = cs.get(q);
            double wq = w[q];
            if (!c.isRows()) {
                float[] v = c.similarity();
                PrefilteredMatch.parallelChunks(n, (ra, rb) -> {
                    for (int t = ra * n; t < rb * n; t++) {
                        acc[t] += wq * v[t];
                    }
                });
                continue;
            }
            HostTensor a = c.rows().reference();
            HostTensor b = c.rows().suspect();
            long d = a.size(1);
            try (HostMemory buffer = HostMemory.allocate(4L * blockRows * n)) {
                for (int i0 = 0; i0 < n; i0 += blockRows) {
                    int rows = Math.min(blockRows, n - i0);
                    Kernels.cosineSimilarity(options.backend(), a.address() + 4L * i0 * d, b.address(), rows, n, d,
                            false, buffer.address());
                    if (sampleRows != null) {
                        keepSampled(buffer, i0, rows, n, sampleRows, sampled, q);
                    }
                    int from = i0;
                    PrefilteredMatch.parallelChunks(rows, (ra, rb) -> {
                        float[] part = new float[n];
                        for (int r = ra; r < rb; r++) {
                            buffer.buffer(4L * r * n, 4 * n).asFloatBuffer().get(part);
                            int o = (from + r) * n;
                            for (int j = 0; j < n; j++) {
                                acc[o + j] += wq * part[j];
                            }
                        }
                    });
                }
            } finally {
                java.lang.ref.Reference.reachabilityFence(a);
                java.lang.ref.Reference.reachabilityFence(b);
                c.rows().releaseGathered();
            }
        }
        float[] out = new float[acc.length];
        PrefilteredMatch.parallelChunks(n, (ra, rb) -> {
            for (int t = ra * n; t < rb * n; t++) {
                out[t] = (float) acc[t];
            }
        });
        return out;
    }

    /**
     * The combined similarity of reference neurons {@code refRows} (rows) and suspect neurons {@code susRows}
     * (columns) only: an m x m block of the dense similarity, for the verdict of a group solved without it.
     */
    static float[] block(List<Contribution> cs, double[] w, ResyncOptions options, int n, long[] refRows,
            long[] susRows) {
        HostMemory[] buffers = new HostMemory[2];
        try {
            return block(cs, w, options, n, refRows, susRows, buffers);
        } finally {
            closeAll(buffers);
        }
    }

    /**
     * As {@link #block(List, double[], ResyncOptions, int, long[], long[])}, reading rows into {@code buffers}
     * ({@link RowPair#subset(long[], long[], HostMemory[])}), which the caller keeps across calls and closes
     * ({@link #closeAll}).
     */
    static float[] block(List<Contribution> cs, double[] w, ResyncOptions options, int n, long[] refRows,
            long[] susRows, HostMemory[] buffers) {
        int m = refRows.length;
        double[] acc = new double[m * m];
        for (int k = 0; k < cs.size(); k++) {
            Contribution c = cs.get(k);
            float[] s;
            if (c.isRows()) {
                HostTensor[] pair = c.rows().subset(refRows, susRows, buffers);
                s = new float[m * m];
                Similarity.accumulateCosine(options.backend(), pair[0], pair[1], s);
                for (HostTensor t : pair) {
                    if (t.memory() != buffers[0] && t.memory() != buffers[1]) {
                        t.memory().close();
                    }
                }
            } else {
                s = new float[m * m];
                for (int a = 0; a < m; a++) {
                    for (int b = 0; b < m; b++) {
                        s[a * m + b] = c.similarity()[(int) (refRows[a] * n + susRows[b])];
                    }
                }
            }
            for (int t = 0; t < acc.length; t++) {
                acc[t] += w[k] * s[t];
            }
        }
        float[] out = new float[acc.length];
        for (int t = 0; t < out.length; t++) {
            out[t] = (float) acc[t];
        }
        return out;
    }

    /** Closes the buffers of {@link #block(List, double[], ResyncOptions, int, long[], long[], HostMemory[])}. */
    static void closeAll(HostMemory[] buffers) {
        for (HostMemory b : buffers) {
            if (b != null) {
                b.close();
            }
        }
    }

    /**
     * Confidence: margin of each reference neuron's match over the best other suspect neuron: the row's second
     * best where the match is the row's argmax, its best elsewhere ({@code top}: the rows' argmax with the
     * second best).
     */
    static double[] margins(float[] s, int n, long[] match, ArgmaxTop2 top) {
        double[] margins = new double[n];
        for (int i = 0; i < n; i++) {
            int chosen = (int) match[i];
            double other = chosen == top.index()[i] ? top.second()[i] : top.best()[i];
            margins[i] = n == 1 ? 1.0 : s[i * n + chosen] - other;
        }
        return margins;
    }
}
