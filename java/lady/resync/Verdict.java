package lady.resync;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import lady.tensor.HostTensor;

/**
 * The answer to "is this suspect derived from my model?", with a p-value.
 *
 * <p><b>Null hypothesis</b>: the suspect was trained independently of the reference, with the same
 * architecture. <b>Per group</b> ({@link GroupTest}), each piece of evidence the group was matched on
 * (each {@link Contribution}: a producer's rows, the consumers' columns, the bias and batch-norm
 * values, or the activation signal; every method and signal) is tested on its own: in its similarity
 * S, reference neuron i's matched similarity is standardized against the similarities of i to the
 * suspect neurons it was <i>not</i> matched to, {@code z_i = (S[i, match[i]] - mean_i) / sigma}, with
 * {@code mean_i} the row's mean over the unmatched entries and {@code sigma} their standard deviation
 * pooled over the rows: an empirical null from the same matrix, so whatever structure makes trained
 * neurons alike (first-layer edge detectors, batch-norm statistics) is in it too. The statistic T is
 * the median of the z_i. Under the null a row's matched entry is at best the largest of its n entries,
 * so T is compared with the maximum of n standard normal variables, the whole group counting as ONE
 * such draw (its rows are not independent): {@code p = P(max of n N(0, 1) >= T) = 1 - Phi(T)^n}. The
 * group's p-value is the smallest over its contributions times their number (Bonferroni).
 *
 * <p><b>Which similarity</b>: the one of each group's <i>first</i> solve, the forward pass, and each
 * contribution on its own. Between independently trained networks the best of n unrelated neurons is
 * the honest null only when nothing else was optimized to make the tested entries large. Two things
 * break that, both measured: the match maximizes the <i>combined</i> similarity (the combined matrix's
 * matched entries then stand out more than the best of n: median z up to 4.0 for two VGG16-BN trained
 * from different seeds, against 2.9 for the best of 512; each contribution alone stays below); and in
 * later passes a tensor aligns both its axes (a consumer's columns align a group with the very tensor
 * whose rows the next group reads: median z 3.6 in a 16-neuron group of two independent LeNet-5, where
 * the forward pass gives 1.5). In the forward pass a producer's rows are compared along an input axis
 * aligned by other tensors (the previous group's), so no tested entry was optimized by its own tensor.
 * A derived model has every row's match standing far out already in the forward pass (fine-tuned or
 * quantized copies: T of 10 to 35; Omega 2 noise on every layer: about 15).
 *
 * <p><b>Over the groups</b>: Holm-Bonferroni, valid whatever the dependence between groups. The suspect
 * is called derived when the smallest Holm-adjusted p-value (G times the smallest group p-value, at most
 * 1) is below {@link #LEVEL}. Groups of fewer than {@link #MIN_NEURONS} neurons are not tested (p = 1).
 * Large groups are tested on a seeded sample of {@link #SAMPLE_ROWS} reference neurons against the
 * suspect neurons matched to them (the null still counts all n candidates per row).
 *
 *
 * <p><b>Identity</b>: a suspect whose every tensor equals the reference's bit for bit once resynced is the reference
 * with its neurons permuted (or the reference itself), whatever the test says: a network of small groups (16 GRU units
 * reading 12 inputs) cannot give a matched similarity far out from its row's unmatched ones, so its exact copy can have
 * p above the level. {@link #withIdentity} then calls it derived on that ground ({@link Identity}), when the equal
 * tensors hold at least {@link #MIN_IDENTICAL_VALUES} distinct values: constant or zero weights, which independent
 * training could reproduce, are not enough.
 *
 * @param derived  whether {@link #pValue()} is below {@link #level()}, or the suspect is the reference permuted
 *                 ({@code identity} not null)
 * @param pValue   the Holm-Bonferroni p-value over the groups (0 when below the smallest double)
 * @param log10P   log10 of the same, finite even when {@code pValue} underflows
 * @param level    the significance level
 * @param groups   per group, the test and its Holm-adjusted p-value
 * @param identity the suspect's tensors after resync equal the reference's bit for bit (null: not found or not
 *                 checked; it is checked when the test alone does not call the suspect derived)
 */
public record Verdict(boolean derived, double pValue, double log10P, double level, List<GroupTest> groups,
        Identity identity) {
    /** The significance level below which the suspect is called derived (ours: one false call in a thousand). */
    public static final double LEVEL = 1e-3;
    /** Reference neurons sampled for the statistic of a large group: their rows against the suspect neurons
     * matched to them. */
    public static final int SAMPLE_ROWS = 256;
    /** Seed of that sample (fixed: the verdict depends on the models only). */
    static final long SAMPLE_SEED = 0x7e57_ed1c_7L;
    /** Smallest group that is tested: below, a row has too few unmatched entries for its mean and spread. */
    public static final int MIN_NEURONS = 8;
    /** What the report says the test is. */
    public static final String METHOD = "per contribution, the median over reference neurons of the matched similarity's "
            + "z-score against the unmatched pairs of the same row (pooled spread); p = 1 - Phi(T)^n (the best of n "
            + "unrelated neurons, the group as one draw), Bonferroni over a group's contributions; Holm-Bonferroni "
            + "over groups";

    /** Distinct values the equal tensors must hold for {@link Identity} to call a suspect derived. */
    public static final int MIN_IDENTICAL_VALUES = 64;

    public Verdict {
        groups = List.copyOf(groups);
    }

    /**
     * Every tensor of the reference equals the resynced suspect's bit for bit (dtype, shape, bytes).
     *
     * @param tensors  the tensors compared (the reference's)
     * @param values   their values
     * @param distinct distinct values among their floating-point ones, counted up to {@link #MIN_IDENTICAL_VALUES}
     */
    public record Identity(int tensors, long values, long distinct) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tensors", tensors);
            m.put("values", values);
            m.put("distinct_values_at_least", distinct);
            return m;
        }
    }

    /**
     * The identity of {@code reference} and the resynced suspect {@code restored}: null when a tensor of the reference
     * is missing from it or differs, or when the reference's floating-point values hold fewer than {@link
     * #MIN_IDENTICAL_VALUES} distinct values.
     */
    public static Identity identity(lady.checkpoint.StateDict reference, lady.checkpoint.StateDict restored) {
        long values = 0;
        // smallest first: an unrelated suspect differs early, before a large tensor of it is gathered in its new order
        List<String> names = reference.names().stream()
                .sorted(Comparator.comparingLong((String n) -> HostTensor.numel(reference.shape(n)))).toList();
        for (String name : names) {
            if (!restored.contains(name) || !reference.get(name).sameContent(restored.get(name))) {
                return null;
            }
            values += reference.get(name).numel();
        }
        java.util.Set<Float> distinct = new java.util.HashSet<>();
        float[] chunk = new float[IDENTITY_CHUNK];
        for (String name : reference.names()) {
            HostTensor t = reference.get(name);
            if (!t.dtype().floating()) {
                continue;
            }
            for (long at = 0; at < t.numel() && distinct.size() < MIN_IDENTICAL_VALUES; at += chunk.length) {
                int n = (int) Math.min(chunk.length, t.numel() - at);
                t.readFloats(at, chunk, 0, n);
                for (int i = 0; i < n && distinct.size() < MIN_IDENTICAL_VALUES; i++) {
                    distinct.add(chunk[i] == 0 ? 0f : chunk[i]); // (-0 and +0 alike)
                }
            }
        }
        return distinct.size() < MIN_IDENTICAL_VALUES ? null
                : new Identity(reference.names().size(), values, distinct.size());
    }

    /** Values read at a time while counting distinct ones. */
    private static final int IDENTITY_CHUNK = 4096;

    /** This verdict with the suspect found to be the reference permuted ({@code id}): derived, the test's p kept. */
    public Verdict withIdentity(Identity id) {
        return id == null ? this : new Verdict(true, pValue, log10P, level, groups, id);
    }

    /**
     * One group's test.
     *
     * @param group       the group
     * @param source      the evidence the statistic comes from (the strongest of the group's contributions)
     * @param sources     how many contributions were tested (the Bonferroni factor inside the group)
     * @param neurons     its size n (the null's number of candidates per row)
     * @param rows        reference neurons the statistic was computed on (all, or a seeded sample of a
     *                    large group)
     * @param zMedian     T, the median z-score of the matched similarities
     * @param pValue      {@code sources x (1 - Phi(T)^n)}, at most 1 (1 for an untested group)
     * @param log10P      log10 of the same
     * @param holmPValue  Holm-adjusted p-value over the groups (filled by {@link #of})
     */
    public record GroupTest(String group, String source, int sources, long neurons, int rows, double zMedian,
            double pValue, double log10P, double holmPValue) {
        /** The test of a group from the tests of its contributions: the smallest p-value times their number. */
        static GroupTest strongest(List<GroupTest> each) {
            GroupTest best = each.stream().min(Comparator.comparingDouble(GroupTest::log10P)).orElseThrow();
            int k = each.size();
            double log10 = Math.min(0, best.log10P() + Math.log10(k));
            return new GroupTest(best.group(), best.source(), k, best.neurons(), best.rows(), best.zMedian(),
                    Math.pow(10, log10), log10, 1);
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("group", group);
            m.put("source", source);
            m.put("sources", sources);
            m.put("neurons", neurons);
            m.put("rows", rows);
            m.put("z_median", Double.isNaN(zMedian) ? null : zMedian);
            m.put("p_value", pValue);
            m.put("log10_p_value", log10P);
            m.put("holm_p_value", holmPValue);
            return m;
        }
    }

    /** The verdict over the groups' tests (Holm-Bonferroni). */
    public static Verdict of(List<GroupTest> tests) {
        int g = tests.size();
        List<Integer> order = new ArrayList<>();
        for (int k = 0; k < g; k++) {
            order.add(k);
        }
        order.sort(Comparator.comparingDouble(k -> tests.get(k).log10P()));
        double[] adjustedLog = new double[g];
        double running = Double.NEGATIVE_INFINITY;
        for (int r = 0; r < g; r++) {
            int k = order.get(r);
            double log = Math.min(0, tests.get(k).log10P() + Math.log10(g - r));
            running = Math.max(running, log);
            adjustedLog[k] = running;
        }
        List<GroupTest> out = new ArrayList<>();
        double best = 0;
        for (int k = 0; k < g; k++) {
            GroupTest t = tests.get(k);
            out.add(new GroupTest(t.group(), t.source(), t.sources(), t.neurons(), t.rows(), t.zMedian(), t.pValue(),
                    t.log10P(), Math.pow(10, adjustedLog[k])));
            best = Math.min(best, adjustedLog[k]);
        }
        double p = Math.pow(10, best);
        return new Verdict(best < Math.log10(LEVEL), p, best, LEVEL, out, null);
    }

    /**
     * The test of a group of {@code n} neurons from a block of its similarity: {@code s} holds
     * {@code rows x cols} entries row-major (reference neurons x suspect neurons), and row r's matched
     * entry is at column {@code matched[r]}; every other entry of the row is an unmatched pair.
     */
    static GroupTest test(String group, String source, long n, float[] s, int rows, int cols, long[] matched) {
        double[] z = n < MIN_NEURONS ? null : zScores(s, rows, cols, matched);
        if (z == null) {
            return new GroupTest(group, source, 1, n, rows, Double.NaN, 1, 0, 1);
        }
        java.util.Arrays.sort(z);
        double t = rows % 2 == 1 ? z[rows / 2] : 0.5 * (z[rows / 2 - 1] + z[rows / 2]);
        double log10 = log10MaxTail(t, n);
        return new GroupTest(group, source, 1, n, rows, t, Math.pow(10, log10), log10, 1);
    }

    /**
     * Per row r of the rows x cols block {@code s}, the z-score of its matched entry {@code s[r, matched[r]]} against
     * the row's other entries (their mean; the spread pooled over the rows), in row order; null when there is no
     * spread to standardize by (fewer than 2 columns, no rows, every entry equal).
     */
    static double[] zScores(float[] s, int rows, int cols, long[] matched) {
        if (rows == 0 || cols < 2) {
            return null;
        }
        double pooled = 0;
        long count = 0;
        double[] z = new double[rows];
        for (int r = 0; r < rows; r++) {
            int m = (int) matched[r];
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                if (c != m) {
                    sum += s[r * cols + c];
                }
            }
            double mean = sum / (cols - 1);
            for (int c = 0; c < cols; c++) {
                if (c != m) {
                    double d = s[r * cols + c] - mean;
                    pooled += d * d;
                }
            }
            count += cols - 2;
            z[r] = s[r * cols + m] - mean;
        }
        double sigma = Math.sqrt(pooled / Math.max(1, count));
        if (!(sigma > 0)) {
            return null;
        }
        for (int r = 0; r < rows; r++) {
            z[r] /= sigma;
        }
        return z;
    }

    /**
     * The z-score that {@code trials} draws of a standard normal all stay below with probability at least 1 - {@link
     * #LEVEL} (Bonferroni: the smallest t with {@code trials (1 - Phi(t)) <= LEVEL}).
     */
    static double familyThreshold(double trials) {
        double target = Math.log(LEVEL / Math.max(1, trials));
        double lo = 0;
        double hi = 40;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (logUpperTail(mid) > target) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return hi;
    }

    /** log10 P(max of n independent N(0, 1) >= t) = log10(1 - Phi(t)^n), accurate far into the tail. */
    static double log10MaxTail(double t, long n) {
        double logQ = logUpperTail(t); // ln(1 - Phi(t))
        double q = Math.exp(logQ);
        double lnP;
        if (q < 1e-10) {
            lnP = logQ + Math.log(n) + Math.log1p(-(n - 1) * q / 2); // 1 - (1 - q)^n = n q (1 - (n - 1) q / 2 + ...)
        } else {
            lnP = Math.log(-Math.expm1(n * Math.log1p(-q)));
        }
        return Math.min(0, lnP / Math.log(10));
    }

    /** ln(1 - Phi(t)) for the standard normal, by the complementary error function (asymptotic far out). */
    static double logUpperTail(double t) {
        if (t < 8) {
            return Math.log(0.5 * erfc(t / Math.sqrt(2)));
        }
        // Mills ratio: 1 - Phi(t) = phi(t) / t * (1 - 1/t^2 + 3/t^4 - ...)
        double t2 = t * t;
        return -t2 / 2 - Math.log(t * Math.sqrt(2 * Math.PI)) + Math.log1p(-1 / t2 + 3 / (t2 * t2));
    }

    /** erfc with relative error below 1.2e-7 (Numerical Recipes' Chebyshev fit), enough for p-values. */
    static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1 / (1 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /** The top-level "verdict" of a report. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("derived", derived);
        if (identity != null) { // derived on this ground: the p-value below is the test's alone
            m.put("basis", "identical after resync");
            m.put("identical", identity.toJson());
        }
        m.put("p_value", pValue);
        m.put("log10_p_value", log10P);
        m.put("level", level);
        m.put("method", METHOD);
        m.put("null_hypothesis", "the suspect was trained independently of the reference, with the same architecture");
        m.put("groups", groups.stream().map(GroupTest::toJson).toList());
        return m;
    }

    /** One line for people. */
    public String summary() {
        GroupTest strongest = groups.stream().min(Comparator.comparingDouble(GroupTest::log10P)).orElse(null);
        String p = pValue >= 1e-4 ? String.format(Locale.ROOT, "%.3g", pValue)
                : String.format(Locale.ROOT, "10^%.1f", log10P);
        if (identity != null) {
            return String.format(Locale.ROOT, "verdict: DERIVED from the reference: once resynced, the suspect equals it "
                    + "bit for bit in every one of its %d tensors (at least %d distinct values): %s",
                    identity.tensors(), identity.distinct(), groups.isEmpty()
                            ? "the reference itself (no group of its neurons can move)"
                            : "the reference with its neurons permuted (the similarity test alone gives p = " + p
                                    + " on groups this small)");
        }
        if (derived) {
            return String.format(Locale.ROOT, "verdict: DERIVED from the reference (p = %s < %s; Holm-Bonferroni over %d "
                    + "groups; strongest %s, median z %.1f)", p, fmt(level), groups.size(), strongest.group(),
                    strongest.zMedian());
        }
        if (groups.isEmpty()) {
            return "verdict: not shown to be derived from the reference: no group of neurons was compared (a network "
                    + "with none that can move, or none selected), so the resync gives no evidence";
        }
        return String.format(Locale.ROOT, "verdict: not shown to be derived from the reference (p = %s >= %s; "
                + "Holm-Bonferroni over %d groups)", p, fmt(level), groups.size());
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.0e", v).replace("e-0", "e-");
    }
}
