package lady.resync;

import java.util.ArrayList;
import java.util.List;

import lady.tensor.HostMemory;

/**
 * Whether a large group the prefilter could not resolve shows any relation to the reference, before its dense path.
 *
 * <p>The prefilter ({@link PrefilteredMatch}) gives up on a group whose rows have many columns within reach of their
 * best estimate: a derived group under heavy noise, or a suspect that is not derived at all. The dense path then
 * computes the group's whole similarity and its assignment: for two unrelated models of Llama-3-8B width, 12 TFLOP for
 * the residual stream, 5 per MLP group, its rows gathered as float32 (gigabytes), twice (the second pass), for a match
 * that means nothing. The screen asks first, on exact similarities, whether any neuron relates:
 * for the verdict's sample of reference neurons ({@link Verdict#SAMPLE_ROWS}) and the suspect neuron each one picks
 * (of its {@link #REFINED_CANDIDATES} best columns by the prefilter's estimates, the one of largest exact similarity),
 * each contribution's exact similarity block is standardized as the verdict does ({@link Verdict#zScores}: against the
 * row's other entries, the spread pooled).
 * <ul>
 * <li>Under the null (the suspect trained independently) no entry of a row is more than the best of its n: every
 * z-score stays below {@link Verdict#familyThreshold} for the contributions x rows x n entries that could have been
 * picked, except with probability {@link Verdict#LEVEL}.</li>
 * <li>A derived neuron, even noisy, stands far out (the verdict's T of 10 to 35 for fine-tuned, quantized or noisy
 * copies) wherever its estimate found it.</li>
 * </ul>
 * The group is called unrelated only when no z-score reaches the threshold and the screen's own group test (the
 * verdict's, on these pairs: a picked entry is at best the row's largest, so the null's "best of n" bound holds) is not
 * significant either. Such a group keeps the suspect's order and takes the screen's test as its verdict test; any
 * other goes on to the dense path, as before. An unrelated group is never matched, so nothing reported about it
 * (margins, duplicates) is an estimate: it is not reported.
 */
final class RelationScreen {
    private RelationScreen() {}

    /**
     * The dense similarity product (2 n^2 D FLOP) from which a group the prefilter cannot resolve is screened first:
     * about 5 s on the 2-core machine of bench/RESULTS.md. Below it the dense path is cheap and answers exactly what the
     * screen would approximate (torchvision VGG16's classifier.0: 0.84 TFLOP, never screened; the residual stream of two
     * layers of Llama-3-8B width: 12 TFLOP).
     */
    static final double MIN_DENSE_FLOP = 1e12;

    /** Estimated best columns of a row whose exact similarity is computed to pick the row's screened column. */
    static final int REFINED_CANDIDATES = 4;

    /**
     * The screen's answer.
     *
     * @param unrelated whether the group shows no relation (keep the suspect's order; no dense path)
     * @param test      the screen's group test (the verdict's, on the estimated best pairs)
     */
    record Result(boolean unrelated, Verdict.GroupTest test) {}

    /**
     * Screens the group of {@code n} neurons whose contributions are {@code cs}: reference rows {@code rows} (the
     * verdict's sample, ascending) against the suspect columns {@code best} picked for them (indexed by neuron).
     */
    static Result screen(String group, List<Contribution> cs, int n, int[] best, long[] rows, ResyncOptions options) {
        int m = rows.length;
        long[] columns = new long[m];
        long[] diagonal = new long[m];
        for (int r = 0; r < m; r++) {
            columns[r] = best[(int) rows[r]];
            diagonal[r] = r;
        }
        double maxZ = Double.NEGATIVE_INFINITY;
        boolean spread = true; // a block without spread standardizes nothing: no call on it
        List<Verdict.GroupTest> each = new ArrayList<>();
        HostMemory[] buffers = new HostMemory[2];
        try {
            for (Contribution c : cs) {
                float[] block = Combination.block(List.of(c), new double[] {1}, options, n, rows, columns, buffers);
                double[] z = Verdict.zScores(block, m, m, diagonal);
                if (z == null) {
                    spread = false;
                } else {
                    for (double v : z) {
                        maxZ = Math.max(maxZ, v);
                    }
                }
                each.add(Verdict.test(group, c.source() + ":" + c.tensor(), n, block, m, m, diagonal));
            }
        } finally {
            Combination.closeAll(buffers);
        }
        Verdict.GroupTest test = Verdict.GroupTest.strongest(each);
        double threshold = Verdict.familyThreshold((double) cs.size() * m * n);
        boolean unrelated = spread && m >= Verdict.MIN_NEURONS && maxZ < threshold && !(test.pValue() < Verdict.LEVEL);
        return new Result(unrelated, test);
    }
}
