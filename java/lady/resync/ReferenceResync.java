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
import lady.tensor.HostTensor;

/**
 * Re-synchronization with the reference model (method.md section 4): per group, in topological
 * order, compare the producer rows of the reference and of the suspect (cosine similarity), match
 * the neurons (argmax or exact assignment), and apply the match to the suspect (producer rows,
 * bias, norms and consumer columns), so that the next group's rows become comparable.
 *
 * <p>Nested groups ({@link Nesting}: the query heads and value dimensions inside a KV head's block) are
 * solved after their outer group, which is matched on the members the inner groups do not scramble (the
 * KV heads on their k rows); Psi of a nested group is measured in the resync's frame
 * ({@link Nesting#referenceFrame}).
 *
 * <p>Residual streams: a group's producers whose inputs are not aligned yet (their input group
 * comes later in the order, e.g. a ResNet block's conv2 reads the block-internal group) are left
 * out of the first pass; once every group is solved, a second pass recomputes those groups with
 * all their producers and applies the (usually identity) correction.
 */
public final class ReferenceResync {
    private ReferenceResync() {}

    /**
     * Resyncs {@code suspect} in place into the reference's order.
     *
     * @param secret per group, the permutation p the attacker applied (new j = old p[j]), or null;
     *               when given, Psi is computed per group
     */
    public static ResyncReport run(StateDict reference, StateDict suspect, PermutationSpec spec, ResyncOptions options,
            Map<String, long[]> secret, ProgressListener progress) {
        long start = System.nanoTime();
        List<Group> selected = select(spec, options.groups());
        Map<String, List<Group>> inputGroupOf = inputGroups(spec);
        Set<String> solved = new HashSet<>();
        Set<String> selectedNames = new HashSet<>();
        selected.forEach(g -> selectedNames.add(g.name()));
        Nesting nesting = Nesting.of(spec);
        secret = nesting.referenceFrame(secret, selectedNames); // nested groups: Psi in the resync's frame
        Map<String, GroupResult> results = new LinkedHashMap<>();
        List<Group> secondPass = new ArrayList<>();
        progress.start("resync", selected.size(), "groups");
        for (Group g : selected) {
            checkShapes(reference, suspect, g);
            // members that a later nested group permutes inside are left out while others remain
            List<Member> all = nesting.unrefined(g.name(), g.members(Role.PRODUCER_WEIGHT));
            List<Member> aligned = new ArrayList<>();
            for (Member m : all) {
                boolean ready = true;
                for (Group input : inputGroupOf.getOrDefault(m.tensor(), List.of())) {
                    // a producer reading its own group (MobileNet's projection after a depthwise conv that
                    // kept the stream) has columns this group has not aligned yet: second pass
                    ready &= input != g && (solved.contains(input.name()) || !selectedNames.contains(input.name()));
                }
                if (ready) {
                    aligned.add(m);
                }
            }
            if (aligned.isEmpty() || options.similarity() != null) {
                // nothing aligned yet: best effort with every producer; a signal other than the weights
                // does not read the producers' inputs, so every producer counts and no second pass is needed
                aligned = all;
            }
            if (aligned.size() < all.size()) {
                secondPass.add(g);
            }
            GroupResult r = solve(reference, suspect, g, aligned, options, secret);
            apply(suspect, spec, g, r.match(), options);
            if (options.similarity() != null) {
                options.similarity().applied(g, r.match());
            }
            results.put(g.name(), r);
            solved.add(g.name());
            progress.advance(1, Map.of("group", g.name()));
        }
        for (Group g : secondPass) {
            GroupResult first = results.get(g.name());
            GroupResult correction = solve(reference, suspect, g, nesting.unrefined(g.name(),
                    g.members(Role.PRODUCER_WEIGHT)), options, null);
            apply(suspect, spec, g, correction.match(), options);
            long[] match = new long[first.match().length];
            for (int j = 0; j < match.length; j++) {
                match[j] = first.match()[(int) correction.match()[j]];
            }
            // the paper's argmax count is kept from the first pass (the correction is solved without the secret)
            results.put(g.name(), withMatch(correction, first.psiPaper(), match, secret));
        }
        progress.finish();
        return new ResyncReport(options.method(), new ArrayList<>(results.values()), (System.nanoTime() - start) / 1e9);
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

    /** For each tensor that consumes groups (CONSUMER_WEIGHT members: several after a concatenation), those groups. */
    private static Map<String, List<Group>> inputGroups(PermutationSpec spec) {
        Map<String, List<Group>> m = new HashMap<>();
        for (Group g : spec.groups()) {
            for (Member c : g.members(Role.CONSUMER_WEIGHT)) {
                List<Group> l = m.computeIfAbsent(c.tensor(), k -> new ArrayList<>());
                if (!l.contains(g)) {
                    l.add(g);
                }
            }
        }
        return m;
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

    /** Similarity of the group's neurons over the given producers, then the match and its figures. Large
     * groups (weights, assignment) go through the prefilter ({@link PrefilteredMatch}) when the options ask
     * for it; it answers with the dense method's match or hands the group back to the dense path. */
    static GroupResult solve(StateDict reference, StateDict suspect, Group g, List<Member> producers,
            ResyncOptions options, Map<String, long[]> secret) {
        int n = Math.toIntExact(g.size());
        List<String> names = producers.stream().map(Member::tensor).toList();
        float[] s = null;
        double[] refNorm2 = new double[n];
        double[] susNorm2 = new double[n];
        long d = 0;
        for (Member m : producers) {
            long[] shape = reference.shape(m.tensor());
            d += lady.tensor.HostTensor.numel(shape) / shape[m.axis()] * m.block();
        }
        if (options.similarity() == null && options.method() == Method.ASSIGNMENT
                && PrefilteredMatch.wanted(options.prefilter(), n, d)) {
            // rows read where they lie: the mapped files, the suspect through its lazy index maps
            List<NeuronRows> refRows = new ArrayList<>();
            List<NeuronRows> susRows = new ArrayList<>();
            for (Member m : producers) {
                refRows.add(NeuronRows.of(reference.indexed(m.tensor()), m, n));
                susRows.add(NeuronRows.of(suspect.indexed(m.tensor()), m, n));
            }
            PrefilteredMatch.Outcome o = PrefilteredMatch.solveRows(options.backend(), refRows, susRows, n, options.margins());
            if (o != null) {
                return summarize(g, names, null, n, o.match(), o.margins(), o.refNorm2(), o.susNorm2(), options,
                        secret, true);
            }
        }
        List<HostTensor> refs = new ArrayList<>();
        List<HostTensor> suss = new ArrayList<>();
        for (Member m : producers) {
            refs.add(MemberSlices.rows(reference.indexed(m.tensor()), m, n));
            suss.add(MemberSlices.rows(suspect.indexed(m.tensor()), m, n)); // lazily permuted: read, not copied
        }
        if (options.similarity() == null) {
            s = new float[n * n];
        }
        for (int k = 0; k < refs.size(); k++) {
            if (options.similarity() == null) {
                Similarity.accumulateCosine(options.backend(), refs.get(k), suss.get(k), s);
            }
            Similarity.accumulateSquaredNorms(refs.get(k), refNorm2);
            Similarity.accumulateSquaredNorms(suss.get(k), susNorm2);
        }
        if (options.similarity() != null) {
            s = options.similarity().similarity(g, suspect); // the norms (integrity check) stay the weights'
        }
        long[] match = options.method() == Method.ARGMAX ? Similarity.rowArgmax(s, n) : Similarity.assign(options.backend(), s, n);
        return summarize(g, names, s, n, match, margins(s, n, match), refNorm2, susNorm2, options, secret, false);
    }

    /** Confidence: margin of each reference neuron's match over the best other suspect neuron. */
    private static double[] margins(float[] s, int n, long[] match) {
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

    /** The group's figures from its match and margins; {@code s} (the dense similarity) is only read for
     * the paper's argmax count, so it may be null for the assignment method. */
    private static GroupResult summarize(Group g, List<String> producers, float[] s, int n, long[] match,
            double[] margins, double[] refNorm2, double[] susNorm2, ResyncOptions options, Map<String, long[]> secret,
            boolean prefiltered) {
        double[] sorted = margins.clone();
        Arrays.sort(sorted);
        int low = 0;
        for (double m : margins) {
            if (m < options.marginThreshold()) {
                low++;
            }
        }
        int zero = 0;
        for (double v : susNorm2) {
            if (v == 0) {
                zero++;
            }
        }
        int duplicates = n - (int) Arrays.stream(match).distinct().count();
        Integrity integrity = integrity(match, refNorm2, susNorm2, options.integrityRatio());
        Double psi = null;
        Double psiPaper = null;
        long[] p = secret == null ? null : secret.get(g.name());
        if (p != null) {
            if (p.length != n) {
                throw LadyException.invalidInput("the secret's permutation for group '" + g.name() + "' has size "
                        + p.length + " but the group has " + n + " neurons");
            }
            psi = psi(match, p);
            if (options.method() == Method.ARGMAX) {
                long[] origin = Similarity.columnArgmax(s, n);
                int rightPaper = 0;
                for (int j = 0; j < n; j++) {
                    if (origin[j] == p[j]) {
                        rightPaper++;
                    }
                }
                psiPaper = 100.0 * rightPaper / n;
            }
        }
        return new GroupResult(g.name(), n, producers, match, duplicates, sorted.length == 0 ? 0 : sorted[0],
                sorted.length == 0 ? 0 : median(sorted), low, zero, integrity.flags(), integrity.maxRatio(), psi, psiPaper,
                prefiltered);
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

    private static GroupResult withMatch(GroupResult r, Double psiPaper, long[] match, Map<String, long[]> secret) {
        Double psi = r.psi();
        long[] p = secret == null ? null : secret.get(r.name());
        if (p != null) {
            psi = psi(match, p);
        }
        return new GroupResult(r.name(), r.size(), r.producers(), match, r.duplicates(), r.minMargin(), r.medianMargin(),
                r.lowMargin(), r.zeroRows(), r.integrityFlags(), r.integrityMaxRatio(), psi, psiPaper, r.prefiltered());
    }

    /** Applies {@code match} to the group's members in the suspect (new j = old match[j]), one
     * native pass. With argmax duplicates the match is not a permutation: then every member is
     * gathered into new memory, and the result is not function-preserving (the paper's behaviour). */
    private static void apply(StateDict suspect, PermutationSpec spec, Group g, long[] match, ResyncOptions options) {
        boolean bijective = Arrays.stream(match).distinct().count() == match.length;
        if (bijective) { // index maps over the suspect's bytes (its mapped file), gathered when written
            Permuter.applyLazily(suspect, spec, Map.of(g.name(), Permutation.of(match)), options.backend());
        } else {
            for (Member m : g.members()) {
                suspect.put(m.tensor(), MemberSlices.gather(suspect.get(m.tensor()), m, match));
            }
        }
    }
}
