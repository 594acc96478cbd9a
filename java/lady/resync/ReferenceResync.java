package lady.resync;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.permutation.Nesting;
import lady.permutation.Permutation;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.tensor.HostMemory;
import lady.util.Seeds;
import lady.util.Text;

/**
 * Re-synchronization with the reference model (method.md section 4). It orders the groups, asks the
 * evidence, combines, solves, applies, and repeats for the groups whose evidence changed:
 * <ol>
 * <li><b>Order.</b> Groups are solved in topological order; each group's match is applied to the
 * suspect at once (producer rows, bias, norms and consumer columns), so that the next group's
 * producer rows become comparable.</li>
 * <li><b>Evidence.</b> Each source of {@link ResyncOptions#sources()} ({@link Evidence}) contributes
 * what it can tell about the group now: the producers' rows whose input group is aligned (the
 * paper's evidence), the neurons' bias and batch-norm values, the consumers' columns whose own
 * output group is aligned (the classifier's at once, the others once solved), or the activation
 * signal.</li>
 * <li><b>Combine and solve.</b> {@link Combination}: the weighted mean of the contributions'
 * cosines (weights sqrt(d) by default), then the exact assignment or the paper's argmax; large
 * groups through the prefilter.</li>
 * <li><b>Later passes.</b> A group is solved again (its correction, usually the identity, composed
 * with its match) when a group its evidence depends on was aligned or corrected after it was solved:
 * a residual stream's producers that read a later group, a producer that reads its own group (MobileNet's
 * projection after a depthwise conv that kept the stream: its columns are unaligned until the group is
 * solved), and every consumer's columns, join in the second pass; a correction in one pass makes its neighbours' evidence change for the next. At most
 * {@link #MAX_PASSES} passes. When only new contributions joined, {@link Combination#keep} first tries to
 * certify from the matched pairs alone that they cannot change the order (an exact copy's second pass).</li>
 * <li><b>Verdict.</b> Each group's forward-pass solve is tested ({@link Verdict}); the report carries the
 * verdict over all groups.</li>
 * </ol>
 * <p>Margins: before any group is solved, {@link Margins#AUTO} is resolved once for the whole resync from its dense
 * margin work ({@link #denseMarginFlop}: exact within {@link Margins#AUTO_EXACT_BUDGET_FLOP}, else lower bounds on
 * prefiltered groups). A margin that is a lower bound (the prefilter's in {@link Margins#BOUND}, a kept order's in
 * every mode) and falls below the low-margin threshold is replaced by the exact one, so the low-margin count is
 * exact in every mode; the report says which groups' figures are bounds ({@link MarginsChoice}).
 * <p>Nested groups ({@link Nesting}: the query heads and value dimensions inside a KV head's block) follow from
 * the same rule: the outer group's members that an unsolved inner group scrambles are not aligned yet
 * ({@link EvidenceContext#orderedBy}), so the KV heads are first matched on their k rows; Psi of a nested group
 * is measured in the resync's frame ({@link Nesting#referenceFrame}).
 * <p>The argmax method reads the producers' rows only (the paper's faithful mode); so does
 * {@link EvidenceScope#PRODUCERS}.
 */
public final class ReferenceResync {
    private ReferenceResync() {}

    /** The most passes over the groups (the first, the consumers' second pass, and corrections of corrections). */
    static final int MAX_PASSES = 4;

    /** What the resync knows about one group while it runs. */
    private static final class State {
        final Group group;
        long[] match; // composed over the passes: reference i -> suspect index before any of this group's moves
        Combination.Solved last;
        List<EvidenceUse> evidence;
        List<String> producers;
        Map<String, Integer> seen; // the versions of the groups its last solve depended on
        Map<String, List<Integer>> used; // the last solve's contributions: key -> versions of the groups ordering it
        Double psiPaper;
        Verdict.GroupTest test;
        double[] susNorm2;
        double[] refNorm2;
        int passes;

        State(Group group) {
            this.group = group;
        }
    }

    /**
     * Resyncs {@code suspect} in place into the reference's order.
     *
     * @param secret per group, the permutation p the attacker applied (new j = old p[j]), or null;
     *               when given, Psi is computed per group
     */
    public static ResyncReport run(StateDict reference, StateDict suspect, PermutationSpec spec, ResyncOptions options,
            Map<String, long[]> secret, ProgressListener progress) {
        return run(reference, suspect, spec, spec, options, secret, progress);
    }

    /**
     * As {@link #run(StateDict, StateDict, PermutationSpec, ResyncOptions, Map, ProgressListener)}, the matches applied
     * to the suspect through {@code suspectSpec}: the same groups, whose members may include tensors only the suspect
     * holds (a Hugging Face folder that saved its tied lm_head.weight, against a reference that did not), which then
     * move with their group. The evidence reads {@code spec}'s members only.
     */
    public static ResyncReport run(StateDict reference, StateDict suspect, PermutationSpec spec, PermutationSpec suspectSpec,
            ResyncOptions options, Map<String, long[]> secret, ProgressListener progress) {
        long start = System.nanoTime();
        double cpuStart = ResyncReport.processCpuSeconds();
        List<Group> selected = select(spec, options.groups());
        selected.forEach(g -> checkShapes(reference, suspect, g));
        Set<String> selectedNames = new HashSet<>();
        selected.forEach(g -> selectedNames.add(g.name()));
        secret = Nesting.of(spec).referenceFrame(secret, selectedNames); // nested groups: Psi in the resync's frame
        EvidenceContext context = new EvidenceContext(reference, suspect, spec, selected, options.backend());
        List<Evidence> sources = options.sources();
        Margins requested = options.margins();
        double denseFlop = denseMarginFlop(reference, spec, selected, sources, options);
        options = options.withMargins(requested.resolved(denseFlop)); // once, before any group is solved
        Map<String, State> states = new LinkedHashMap<>();
        progress.start("resync", selected.size(), "groups");
        for (Group g : selected) {
            State s = new State(g);
            states.put(g.name(), s);
            s.susNorm2 = squaredNorms(suspect, g);
            s.refNorm2 = squaredNorms(reference, g);
            requireFinite("suspect", g, s.susNorm2);
            requireFinite("reference", g, s.refNorm2);
            solveFinite(s, context, sources, suspectSpec, options, secret);
            progress.advance(1, Map.of("group", g.name()));
        }
        for (int pass = 2; pass <= MAX_PASSES; pass++) {
            boolean any = false;
            for (State s : states.values()) {
                if (stale(s, context)) {
                    solveFinite(s, context, sources, suspectSpec, options, secret);
                    any = true;
                }
            }
            if (!any) {
                break;
            }
        }
        progress.finish();
        List<GroupResult> results = new ArrayList<>();
        List<Verdict.GroupTest> tests = new ArrayList<>();
        for (State s : states.values()) {
            results.add(summarize(s, reference, options, secret));
            tests.add(s.test);
        }
        int boundGroups = (int) results.stream().filter(r -> r.marginBounds() > 0).count();
        return new ResyncReport(options.method(), results, Verdict.of(tests), (System.nanoTime() - start) / 1e9,
                ResyncReport.processCpuSeconds() - cpuStart, new MarginsChoice(requested, options.margins(), denseFlop,
                        options.marginThreshold(), boundGroups));
    }

    /**
     * The resync's dense margin work, what {@link Margins#AUTO} is resolved by: the sum over the selected groups of
     * 2 n^2 D, D the values per neuron of the group's first-pass evidence ({@link Evidence#dimension}, from the
     * tensors' shapes: the producer rows whose inputs are aligned by then, the neurons' own values, the consumer
     * columns already comparable), walking the groups in order as the first pass does. Nothing is read.
     */
    static double denseMarginFlop(StateDict reference, PermutationSpec spec, List<Group> selected,
            List<Evidence> sources, ResyncOptions options) {
        EvidenceContext walk = new EvidenceContext(reference, reference, spec, selected, options.backend());
        double flop = 0;
        for (Group g : selected) {
            long d = 0;
            for (Evidence e : sources) {
                d += e.dimension(g, walk);
            }
            flop += 2.0 * g.size() * g.size() * d;
            walk.solved(g.name(), false);
        }
        return flop;
    }

    /** Whether a group its last solve depended on was aligned or corrected since. */
    private static boolean stale(State s, EvidenceContext context) {
        for (Map.Entry<String, Integer> e : s.seen.entrySet()) {
            if (context.version(e.getKey()) != e.getValue()) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@link #solve}, a kernel's refusal of a NaN or infinite value named: the producers' rows are checked first
     * ({@link #requireFinite}), so this is a consumer's column or a bias of the group.
     */
    private static void solveFinite(State s, EvidenceContext context, List<Evidence> sources, PermutationSpec suspectSpec,
            ResyncOptions options, Map<String, long[]> secret) {
        try {
            solve(s, context, sources, suspectSpec, options, secret);
        } catch (lady.kernels.Kernels.NonFiniteInput e) {
            throw nonFinite(s.group, e);
        }
    }

    /** What the user reads when a non-finite value reaches the kernels: what to do about it. */
    private static final String FINITE_ONLY = "Lady compares finite weights only: check or repair the file";

    /** A kernel's refusal of a NaN or infinite value met while solving group g (here, or in the structural undo),
     * named: the group and its tensors. */
    static LadyException nonFinite(Group g, lady.kernels.Kernels.NonFiniteInput e) {
        return nonFinite(g, e.getMessage());
    }

    /** As {@link #nonFinite(Group, lady.kernels.Kernels.NonFiniteInput)}, {@code detail} saying where. */
    static LadyException nonFinite(Group g, String detail) {
        List<String> tensors = g.members().stream().map(Member::tensor).distinct().toList();
        return LadyException.invalidInput(String.format("the reference or the suspect has a NaN or infinite weight in "
                + "group %s (tensors %s; %s); %s", Text.quote(g.name()), Text.list(tensors, 3), detail, FINITE_ONLY));
    }

    /** One solve of a group: ask the evidence, combine, solve, apply, compose. */
    private static void solve(State s, EvidenceContext context, List<Evidence> sources, PermutationSpec suspectSpec,
            ResyncOptions options, Map<String, long[]> secret) {
        Group g = s.group;
        int n = Math.toIntExact(g.size());
        Map<String, Integer> seen = new HashMap<>();
        for (Evidence e : sources) {
            e.dependencies(g, context).forEach(d -> seen.put(d, context.version(d)));
        }
        Combination.Solved solved = null;
        List<EvidenceUse> uses = new ArrayList<>();
        List<String> producers = new ArrayList<>();
        Map<String, List<Integer>> used = new HashMap<>();
        List<Contribution> cs = new ArrayList<>();
        try {
            for (Evidence e : sources) {
                cs.addAll(e.contributions(g, context));
            }
            if (cs.isEmpty()) {
                throw new LadyException(LadyException.Kind.INTERNAL, "no evidence about group '" + g.name() + "'");
            }
            for (Contribution c : cs) {
                used.put(c.key(), versionOf(c, context));
            }
            if (s.used != null) {
                Set<String> unchanged = new HashSet<>();
                for (Map.Entry<String, List<Integer>> e : s.used.entrySet()) {
                    if (e.getValue().equals(used.get(e.getKey()))) {
                        unchanged.add(e.getKey());
                    }
                }
                if (unchanged.size() == s.used.size()) { // the last solve's evidence is all still there, unchanged
                    solved = Combination.keep(cs, unchanged, s.last.margins(), n, options);
                    if (solved != null) { // the order kept is the last solve's: so is the way it was found
                        solved = new Combination.Solved(solved.match(), solved.margins(), null, solved.weights(),
                                s.last.prefiltered(), true, null, null);
                        solved = resolveInstead(solved, options) ? null : exactLowKeptMargins(solved, cs, n, options);
                    }
                }
            }
            if (solved == null) {
                long[] sample = verdictRows(g); // the verdict's rows, and the screen's
                solved = Combination.solve(cs, n, options, s.passes == 0 ? sample : null, g.name(), sample);
            }
            if (s.passes == 0) { // the verdict reads the forward pass (see Verdict: no evidence aligned by itself)
                s.test = solved.screened() != null ? solved.screened().test() : test(g, solved, cs, options);
            }
            for (int k = 0; k < cs.size(); k++) {
                Contribution c = cs.get(k);
                uses.add(new EvidenceUse(c.source(), c.tensor(), c.dimension(), solved.weights()[k]));
                if (c.source().equals(ProducerRows.NAME)) {
                    producers.add(c.tensor());
                }
            }
        } finally {
            cs.forEach(Contribution::release); // the gathered rows' memory at once, not when collected
        }
        if (s.passes == 0 && options.method() == Method.ARGMAX && secret != null && secret.get(g.name()) != null) {
            s.psiPaper = psiPaper(solved.similarity(), n, secret.get(g.name()), g);
        }
        if (!solved.kept()) {
            apply(context.suspect(), suspectSpec, g, solved.match(), options);
        }
        for (Evidence e : sources) {
            e.applied(g, solved.match());
        }
        boolean identity = true;
        for (int i = 0; i < n && identity; i++) {
            identity = solved.match()[i] == i;
        }
        if (s.match == null) {
            s.match = solved.match();
        } else {
            long[] composed = new long[n];
            for (int j = 0; j < n; j++) {
                composed[j] = s.match[(int) solved.match()[j]];
            }
            s.match = composed;
        }
        context.solved(g.name(), !identity);
        s.last = solved;
        s.evidence = List.copyOf(uses);
        s.producers = List.copyOf(producers);
        s.seen = seen;
        s.used = used;
        s.passes++;
    }

    /**
     * Whether a kept order is better solved again than given exact margins: with {@link Margins#BOUND} on a
     * prefiltered group whose certificate bounds fall below the low-margin threshold. The certificate's bound
     * shrinks with the share of the evidence that is new ({@link Combination#keep}: a residual stream's first
     * pass reads a few producers, its second every layer's), so its rows would all take their dense margins (a
     * Llama-3.2-1B stream: 2 x 2048^2 x 603k values, 5 TFLOP); the prefilter on the whole evidence costs its
     * sketch passes and bounds the margins far tighter (its low rows still get exact margins).
     */
    private static boolean resolveInstead(Combination.Solved kept, ResyncOptions options) {
        if (options.margins() != Margins.BOUND || !kept.prefiltered()) {
            return false;
        }
        for (double m : kept.margins()) {
            if (m < options.marginThreshold()) {
                return true;
            }
        }
        return false;
    }

    /**
     * A kept order's margins are the certificate's lower bounds ({@link Combination#keep}); those below the
     * low-margin threshold are replaced by the exact margins of the combined similarity (the rows' full
     * similarities, {@link PrefilteredMatch#exactMargins}, as the dense path computes them), so the low-margin
     * count is exact. With a ready similarity among the contributions (no rows to read) the bounds stay.
     */
    private static Combination.Solved exactLowKeptMargins(Combination.Solved kept, List<Contribution> cs, int n,
            ResyncOptions options) {
        double[] margins = kept.margins().clone();
        boolean[] bounds = new boolean[n];
        Arrays.fill(bounds, true);
        int[] low = java.util.stream.IntStream.range(0, n).filter(i -> margins[i] < options.marginThreshold())
                .toArray();
        if (low.length > 0 && cs.stream().allMatch(Contribution::isRows)) {
            List<NeuronRows> refs = new ArrayList<>();
            List<NeuronRows> suss = new ArrayList<>();
            for (Contribution c : cs) {
                NeuronRows[] pair = c.rows().neuronRows();
                refs.add(pair[0]);
                suss.add(pair[1]);
            }
            PrefilteredMatch.exactMargins(options.backend(), refs, suss, kept.weights(), n, kept.match(), low, margins);
            for (int i : low) {
                bounds[i] = false;
            }
        }
        return new Combination.Solved(kept.match(), margins, null, kept.weights(), kept.prefiltered(), true, null,
                bounds);
    }

    /**
     * The verdict's test of a group ({@link Verdict}): each contribution of the solve on its own, on the
     * block of (up to) {@link Verdict#SAMPLE_ROWS} reference neurons against the suspect neurons just
     * matched to them, then the smallest p-value times the number of contributions (Bonferroni).
     */
    private static Verdict.GroupTest test(Group g, Combination.Solved solved, List<Contribution> cs,
            ResyncOptions options) {
        int n = Math.toIntExact(g.size());
        long[] rows = verdictRows(g);
        int m = rows.length;
        long[] columns = new long[m];
        long[] diagonal = new long[m];
        for (int r = 0; r < m; r++) {
            columns[r] = solved.match()[(int) rows[r]];
            diagonal[r] = r;
        }
        List<Verdict.GroupTest> each = new ArrayList<>();
        HostMemory[] buffers = new HostMemory[2]; // the sampled rows of one contribution after the other
        try {
            testEach(g, solved, cs, options, n, rows, columns, diagonal, each, buffers);
        } finally {
            Combination.closeAll(buffers);
        }
        return Verdict.GroupTest.strongest(each);
    }

    /** {@link #test}'s loop over the contributions, the sampled rows read into {@code buffers}. */
    private static void testEach(Group g, Combination.Solved solved, List<Contribution> cs, ResyncOptions options,
            int n, long[] rows, long[] columns, long[] diagonal, List<Verdict.GroupTest> each, HostMemory[] buffers) {
        int m = rows.length;
        for (int k = 0; k < cs.size(); k++) {
            Contribution c = cs.get(k);
            float[] block;
            if (solved.sampled() != null && solved.sampled()[k] != null) { // the dense solve's own cosines
                float[] rowsOfK = solved.sampled()[k];
                block = new float[m * m];
                for (int a = 0; a < m; a++) {
                    for (int b = 0; b < m; b++) {
                        block[a * m + b] = rowsOfK[a * n + (int) columns[b]];
                    }
                }
            } else {
                block = Combination.block(List.of(c), new double[] {1}, options, n, rows, columns, buffers);
            }
            each.add(Verdict.test(g.name(), c.source() + ":" + c.tensor(), n, block, m, m, diagonal));
        }
    }

    /** The reference neurons the verdict tests group {@code g} on: all, or a seeded sample of {@link Verdict#SAMPLE_ROWS}. */
    private static long[] verdictRows(Group g) {
        int n = Math.toIntExact(g.size());
        int m = Math.min(n, Verdict.SAMPLE_ROWS);
        return m == n ? java.util.stream.LongStream.range(0, n).toArray()
                : sample(n, m, Seeds.derive(Verdict.SAMPLE_SEED, "verdict:" + g.name()));
    }

    /** m distinct indices of 0..n-1, ascending, drawn from {@code seed}. */
    private static long[] sample(int n, int m, long seed) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < m; i++) { // partial Fisher-Yates
            int j = i + r.nextInt(n - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        long[] out = new long[m];
        for (int i = 0; i < m; i++) {
            out[i] = all[i];
        }
        Arrays.sort(out);
        return out;
    }

    /** The versions of the groups that order a contribution's values (empty for none). */
    private static List<Integer> versionOf(Contribution c, EvidenceContext context) {
        return c.dependencies().stream().map(context::version).toList();
    }

    /** The paper's argmax count: origin[j] = argmax_i S[i, j] compared with the secret p[j], in %. */
    private static double psiPaper(float[] s, int n, long[] p, Group g) {
        checkSecret(p, n, g);
        long[] origin = Similarity.columnArgmax(s, n);
        int right = 0;
        for (int j = 0; j < n; j++) {
            if (origin[j] == p[j]) {
                right++;
            }
        }
        return 100.0 * right / n;
    }

    private static void checkSecret(long[] p, int n, Group g) {
        if (p.length != n) {
            throw LadyException.invalidInput("the secret's permutation for group '" + g.name() + "' has size "
                    + p.length + " but the group has " + n + " neurons");
        }
    }

    /**
     * A NaN or infinite weight makes a neuron's squared norm (summed in double: finite floats cannot overflow it)
     * non-finite: refused here, naming the model, the group, the neuron and the tensors, before any similarity is
     * computed (the kernels would refuse it later as "matrix has a NaN value at row 0, column 0").
     */
    private static void requireFinite(String model, Group g, double[] norm2) {
        for (int j = 0; j < norm2.length; j++) {
            if (!Double.isFinite(norm2[j])) {
                List<String> tensors = g.members(Role.PRODUCER_WEIGHT).stream().map(Member::tensor).distinct().toList();
                throw LadyException.invalidInput(String.format("the %s has a NaN or infinite weight in neuron %d of group "
                        + "%s (tensors %s); %s", model, j, Text.quote(g.name()), Text.list(tensors, 3), FINITE_ONLY));
            }
        }
    }

    /** Per neuron, the squared L2 norm of its rows over every producer of the group (the integrity check's). */
    private static double[] squaredNorms(StateDict state, Group g) {
        double[] acc = new double[Math.toIntExact(g.size())];
        for (Member m : g.members(Role.PRODUCER_WEIGHT)) { // read where the rows lie (no float32 copy)
            NeuronRows.of(state.indexed(m.tensor()), m, g.size()).accumulateSquaredNorms(acc);
        }
        return acc;
    }

    private static List<Group> select(PermutationSpec spec, Set<String> names) {
        if (names.isEmpty()) {
            return spec.groups();
        }
        List<String> known = spec.groups().stream().map(Group::name).toList();
        for (String n : names) {
            if (!known.contains(n)) {
                throw LadyException.invalidInput("unknown group '" + n + "'; the groups of " + spec.architecture()
                        + " are: " + String.join(", ", known));
            }
        }
        return spec.groups().stream().filter(g -> names.contains(g.name())).toList();
    }

    private static void checkShapes(StateDict reference, StateDict suspect, Group g) {
        for (Member m : g.members()) {
            long[] a = reference.shape(m.tensor());
            long[] b = suspect.shape(m.tensor());
            if (!Arrays.equals(a, b)) {
                throw LadyException.invalidInput(String.format(
                        "tensor '%s' has shape %s in the reference but %s in the suspect: not the same architecture",
                        m.tensor(), lady.util.Text.shape(a), lady.util.Text.shape(b)));
            }
        }
    }

    /** The group's figures from its composed match and its last solve. */
    private static GroupResult summarize(State s, StateDict reference, ResyncOptions options,
            Map<String, long[]> secret) {
        Group g = s.group;
        int n = Math.toIntExact(g.size());
        long[] match = s.match;
        double[] margins = s.last.margins();
        double[] sorted = margins.clone();
        Arrays.sort(sorted);
        int low = 0;
        for (double m : margins) {
            if (m < options.marginThreshold()) {
                low++;
            }
        }
        int zero = 0;
        for (double v : s.susNorm2) {
            if (v == 0) {
                zero++;
            }
        }
        int duplicates = n - (int) Arrays.stream(match).distinct().count();
        Integrity integrity = integrity(match, s.refNorm2, s.susNorm2, options.integrityRatio());
        Double psi = null;
        long[] p = secret == null ? null : secret.get(g.name());
        if (p != null) {
            checkSecret(p, n, g);
            psi = psi(match, p);
        }
        boolean[] bounds = s.last.marginBounds();
        int boundRows = 0;
        int argmin = 0;
        for (int i = 0; i < n; i++) {
            boundRows += bounds != null && bounds[i] ? 1 : 0;
            argmin = margins[i] < margins[argmin] ? i : argmin;
        }
        // the smallest value is the exact minimum when its own row is exact: every other row's true margin is at
        // least its bound, at least this value
        boolean minExact = bounds == null || n == 0 || !bounds[argmin];
        boolean unrelated = s.last.screened() != null;
        return new GroupResult(g.name(), n, s.producers, match, duplicates, sorted.length == 0 ? 0 : sorted[0],
                sorted.length == 0 ? 0 : median(sorted), low, zero, unrelated ? List.of() : integrity.flags(),
                unrelated ? Double.NaN : integrity.maxRatio(), psi, s.psiPaper, s.last.prefiltered(), s.evidence,
                s.passes, boundRows, minExact, unrelated);
    }

    /**
     * What the integrity check found in one group.
     *
     * @param flags    reference neurons whose relative norm ratio lies outside [1/r, r]
     * @param maxRatio the largest max(q, 1/q) over compared neurons; NaN when none could be compared
     */
    record Integrity(List<Integer> flags, double maxRatio) {}

    /** The integrity check: norm ratio of matched rows relative to the group's median ratio. */
    static Integrity integrity(long[] match, double[] refNorm2, double[] susNorm2, double r) {
        int n = match.length;
        double[] ratios = new double[n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            double a = refNorm2[i];
            double b = susNorm2[(int) match[i]];
            if (a > 0 && b > 0) {
                ratios[k++] = Math.sqrt(b / a);
            }
        }
        if (k == 0) {
            return new Integrity(List.of(), Double.NaN);
        }
        double[] sorted = Arrays.copyOf(ratios, k);
        Arrays.sort(sorted);
        double med = median(sorted);
        List<Integer> flags = new ArrayList<>();
        double worst = 1;
        for (int i = 0; i < n; i++) {
            double a = refNorm2[i];
            double b = susNorm2[(int) match[i]];
            if (a > 0 && b > 0) {
                double rel = Math.sqrt(b / a) / med;
                worst = Math.max(worst, Math.max(rel, 1 / rel));
                if (rel > r || rel < 1 / r) {
                    flags.add(i);
                }
            }
        }
        return new Integrity(List.copyOf(flags), worst);
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /** Psi (method.md 2): % of reference neurons i whose match is inv(p)[i], i.e. match[p[j]] == j. */
    public static double psi(long[] match, long[] p) {
        int right = 0;
        for (int j = 0; j < p.length; j++) {
            if (match[(int) p[j]] == j) {
                right++;
            }
        }
        return 100.0 * right / p.length;
    }

    /** Applies {@code match} to the group's members in the suspect (new j = old match[j]), one
     * native pass. With argmax duplicates the match is not a permutation: then every member is
     * gathered into new memory, and the result is not function-preserving (the paper's behaviour). */
    private static void apply(StateDict suspect, PermutationSpec spec, Group g, long[] match, ResyncOptions options) {
        if (Permutation.isPermutation(match)) { // index maps over the suspect's bytes (its mapped file), gathered when written
            Permuter.applyLazily(suspect, spec, Map.of(g.name(), Permutation.of(match)), options.backend());
        } else {
            Group sg = spec.group(g.name()).orElse(g);
            List<List<String>> slots = Permuter.wholeTensors(sg); // an expert's tensors: neuron j's copies match[j]'s
            Map<String, lady.tensor.HostTensor> whole = new java.util.HashMap<>();
            for (int j = 0; j < slots.size(); j++) {
                for (int k = 0; k < slots.get(j).size(); k++) {
                    whole.put(slots.get(j).get(k), suspect.get(slots.get((int) match[j]).get(k)).copy());
                }
            }
            for (Member m : sg.members()) {
                if (m.role() != Role.WHOLE_TENSOR) {
                    suspect.put(m.tensor(), MemberSlices.gather(suspect.get(m.tensor()), m, match));
                }
            }
            whole.forEach(suspect::put);
        }
    }
}
