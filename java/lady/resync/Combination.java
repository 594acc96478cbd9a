package lady.resync;

import java.util.ArrayList;
import java.util.List;

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
     */
    record Solved(long[] match, double[] margins, float[] similarity, double[] weights, boolean prefiltered,
            boolean kept) {}

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
        double[] w = weights(cs, options.weighting());
        if (options.method() == Method.ASSIGNMENT && cs.stream().allMatch(Contribution::isRows)) {
            long d = cs.stream().mapToLong(Contribution::dimension).sum();
            if (PrefilteredMatch.wanted(options.prefilter(), n, d)) {
                // rows read where they lie: the mapped files, the suspect through its lazy index maps
                List<NeuronRows> refs = new ArrayList<>();
                List<NeuronRows> suss = new ArrayList<>();
                cs.forEach(c -> {
                    NeuronRows[] pair = c.rows().neuronRows();
                    refs.add(pair[0]);
                    suss.add(pair[1]);
                });
                PrefilteredMatch.Outcome o = PrefilteredMatch.solveRows(options.backend(), refs, suss, w, n,
                        options.margins());
                if (o != null) {
                    return new Solved(o.match(), o.margins(), null, w, true, false);
                }
            }
        }
        float[] s = similarity(cs, w, options, n);
        long[] match = options.method() == Method.ARGMAX ? Similarity.rowArgmax(s, n)
                : Similarity.assign(options.backend(), s, n);
        return new Solved(match, margins(s, n, match), s, w, false, false);
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

    /** The dense combined similarity (a single contribution: its own, unchanged). */
    static float[] similarity(List<Contribution> cs, double[] w, ResyncOptions options, int n) {
        if (cs.size() == 1) {
            return single(cs.get(0), options, n);
        }
        double[] acc = new double[n * n];
        for (int k = 0; k < cs.size(); k++) {
            float[] s = single(cs.get(k), options, n);
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

    private static float[] single(Contribution c, ResyncOptions options, int n) {
        if (!c.isRows()) {
            return c.similarity();
        }
        float[] s = new float[n * n];
        Similarity.accumulateCosine(options.backend(), c.rows().reference(), c.rows().suspect(), s);
        return s;
    }

    /**
     * The combined similarity of reference neurons {@code refRows} (rows) and suspect neurons {@code susRows}
     * (columns) only: an m x m block of the dense similarity, for the verdict of a group solved without it.
     */
    static float[] block(List<Contribution> cs, double[] w, ResyncOptions options, int n, long[] refRows,
            long[] susRows) {
        int m = refRows.length;
        double[] acc = new double[m * m];
        for (int k = 0; k < cs.size(); k++) {
            Contribution c = cs.get(k);
            float[] s;
            if (c.isRows()) {
                HostTensor[] pair = c.rows().subset(refRows, susRows);
                s = new float[m * m];
                Similarity.accumulateCosine(options.backend(), pair[0], pair[1], s);
                pair[0].memory().close();
                pair[1].memory().close();
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

    /** Confidence: margin of each reference neuron's match over the best other suspect neuron. */
    static double[] margins(float[] s, int n, long[] match) {
        double[] margins = new double[n];
        for (int i = 0; i < n; i++) {
            int row = i * n;
            int chosen = (int) match[i];
            double other = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                if (j != chosen && s[row + j] > other) {
                    other = s[row + j];
                }
            }
            margins[i] = n == 1 ? 1.0 : s[row + chosen] - other;
        }
        return margins;
    }
}
