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
import lady.graph.StructuralRules;
import lady.kernels.Kernels;
import lady.permutation.Group;
import lady.permutation.Lineage;
import lady.permutation.Member;
import lady.permutation.Nesting;
import lady.permutation.Permutation;
import lady.permutation.Permuter;
import lady.permutation.Role;
import lady.progress.ProgressListener;
import lady.structure.GroupEdit;
import lady.structure.Merging;
import lady.structure.NetworkView;
import lady.structure.NeuronGroup;
import lady.structure.ParallelNeurons;
import lady.structure.Tolerance;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;

/**
 * Undoes neural structural obfuscation against the reference (issue 18): the pre-pass of {@code lady resync}
 * that gives a rescaled, widened (dummy pairs, splits) and permuted suspect the reference's shapes and norms
 * again, before the ordinary resync ({@link ReferenceResync}) puts its neurons in order.
 *
 * <p>First a cheap check: when every group has the reference's size and its row norms and batch-norm gamma/beta
 * norms are the reference's (as multisets, up to the storage format's rounding), the suspect is left exactly as it
 * is. Otherwise:
 * <ol>
 *   <li><b>merge</b>, group after group until a whole pass changes nothing (a copy's rows become parallel only
 *       once the groups widened after it lost their dummies, whose fresh columns differ between the copies: a
 *       residual stream is widened before the blocks that write into it), the neurons whose incoming maps (rows
 *       and bias; with batch norm the normalized affine map) are positively parallel within {@link Tolerance}
 *       ({@link ParallelNeurons}): one neuron whose consumer columns are the sum of the members', each times its
 *       norm ratio to the representative (exactly 1 when the activation is not positively homogeneous);</li>
 *   <li><b>drop</b> the merged neurons whose columns vanish (a dummy pair cancels; a neuron with zero
 *       columns does nothing), unless the group would then have fewer neurons than the reference's;</li>
 *   <li>then per group in topological order, <b>match</b> the remaining neurons to the reference's by the cosine of
 *       their rows over the producers whose inputs are aligned already: with as many as the reference's, as
 *       {@link ReferenceResync} matches them (large groups through the prefilter); otherwise with the exact
 *       assignment on the matrix padded to a square with a constant score below every real one (a rectangular
 *       assignment: the padding takes the neurons left unmatched); a reference neuron left without a match gets a
 *       neuron that computes nothing;</li>
 *   <li><b>rescale</b> every matched neuron to the reference's norm when the group shows a rescaling (a
 *       matched row exactly parallel to the reference's with another norm, or a norm ratio that, relative to the
 *       group's median, lies outside the integrity ratio {@link ResyncOptions#integrityRatio()}, which noise,
 *       fine-tuning and quantization stay inside): its rows times {@code f}, compensated in the
 *       consumers ({@code 1/f}) or, with batch norm, absorbed by the running statistics; and the batch norm's
 *       gamma and beta to the reference's norm, compensated in the consumers, where the graph allows
 *       ({@link StructuralRules}).</li>
 * </ol>
 * Producers of a residual stream whose inputs were not aligned yet are rescaled at the end, each on its own
 * (batch norm absorbs each separately). The restored groups are then put back in the suspect's order (by each
 * restored neuron's lowest suspect index), so the ordinary resync and its Psi against a permutation secret work
 * as for any suspect. When the attack was purely structural the restored tensors equal the reference's up to
 * float rounding. The suspect is changed in place; its tensors get the reference's shapes.
 */
public final class StructuralUndo {
    private StructuralUndo() {}

    /**
     * What the undo did to one group.
     *
     * @param group           the group's name
     * @param suspectSize     its neurons in the suspect
     * @param referenceSize   its neurons in the reference (and after the undo)
     * @param mergedClusters  clusters of two or more parallel neurons merged into one (splits)
     * @param mergedNeurons   neurons in those clusters
     * @param droppedClusters clusters that did nothing (cancelling dummy pairs, zero columns), dropped
     * @param droppedNeurons  neurons in those clusters
     * @param rescaled        matched neurons whose rows were rescaled to the reference's norm
     * @param scaleMin        the smallest factor undone (suspect norm / reference norm), NaN when none
     * @param scaleMax        the largest factor undone, NaN when none
     * @param affineRescaled  matched neurons whose batch-norm gamma and beta were rescaled
     * @param unmatchedSuspect  suspect neurons (after merging) left without a reference neuron: dropped, which
     *                        changes the function unless they did nothing
     * @param unmatchedReference reference neurons left without a suspect neuron (given one that computes nothing)
     * @param note            why the group was only matched (its structure cannot be edited), or null
     * @param sources         per restored neuron (in the suspect order the result is left in), the suspect neurons
     *                        merged into it, lowest first; empty for a neuron that computes nothing
     */
    public record GroupReport(String group, int suspectSize, int referenceSize, int mergedClusters, int mergedNeurons,
            int droppedClusters, int droppedNeurons, int rescaled, double scaleMin, double scaleMax, int affineRescaled,
            int unmatchedSuspect, int unmatchedReference, String note, int[][] sources) {

        /** This report under another group's name (a nested group's, whose position now holds these neurons). */
        GroupReport at(String name) {
            return new GroupReport(name, suspectSize, referenceSize, mergedClusters, mergedNeurons, droppedClusters,
                    droppedNeurons, rescaled, scaleMin, scaleMax, affineRescaled, unmatchedSuspect, unmatchedReference,
                    note, sources);
        }

        /** Whether the undo changed anything in this group beyond the order of its neurons. */
        public boolean changed() {
            return suspectSize != referenceSize || mergedClusters > 0 || droppedClusters > 0 || rescaled > 0
                    || affineRescaled > 0 || unmatchedSuspect > 0 || unmatchedReference > 0;
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", group);
            m.put("suspect_size", suspectSize);
            m.put("reference_size", referenceSize);
            m.put("merged_clusters", mergedClusters);
            m.put("merged_neurons", mergedNeurons);
            m.put("dropped_clusters", droppedClusters);
            m.put("dropped_neurons", droppedNeurons);
            m.put("rescaled", rescaled);
            m.put("scale_min", Double.isNaN(scaleMin) ? null : scaleMin);
            m.put("scale_max", Double.isNaN(scaleMax) ? null : scaleMax);
            m.put("affine_rescaled", affineRescaled);
            m.put("unmatched_suspect", unmatchedSuspect);
            m.put("unmatched_reference", unmatchedReference);
            if (note != null) {
                m.put("note", note);
            }
            return m;
        }
    }

    /**
     * The undo of a whole network.
     *
     * @param changed whether anything beyond the neurons' order changed (false: the suspect was left as it was)
     * @param groups  per group, what was done (every selected group; unchanged ones with identity sources)
     * @param seconds wall time
     */
    public record Result(boolean changed, List<GroupReport> groups, double seconds, String skipped) {
        public Result {
            groups = List.copyOf(groups);
        }

        public Result(boolean changed, List<GroupReport> groups, double seconds) {
            this(changed, groups, seconds, null);
        }

        /** The report of group {@code name}, or null. */
        public GroupReport group(String name) {
            for (GroupReport g : groups) {
                if (g.group().equals(name)) {
                    return g;
                }
            }
            return null;
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("changed", changed);
            m.put("seconds", seconds);
            if (skipped != null) {
                m.put("skipped", skipped);
            }
            List<Object> gs = new ArrayList<>();
            for (GroupReport g : groups) {
                if (g.changed() || g.note() != null) {
                    gs.add(g.toJson());
                }
            }
            m.put("groups", gs);
            return m;
        }
    }

    /**
     * Undoes the structural obfuscation of {@code suspect} (in place) against {@code reference}.
     *
     * @param arch    the architecture (null: recognized from the reference)
     * @param options the resync's options: selected groups, backend, integrity ratio
     */
    public static Result run(StateDict reference, StateDict suspect, String arch, ResyncOptions options,
            ProgressListener progress) {
        return run(reference, suspect, arch, options, progress, SAME_SIZE_BUDGET);
    }

    /** {@link #run(StateDict, StateDict, String, ResyncOptions, ProgressListener)} with another same-size budget. */
    static Result run(StateDict reference, StateDict suspect, String arch, ResyncOptions options,
            ProgressListener progress, double sameSizeBudget) {
        NetworkView refView = NetworkView.of(reference, arch);
        return run(reference, suspect, refView, NetworkView.of(suspect, refView.architecture()), options, progress,
                sameSizeBudget);
    }

    /**
     * {@link #run(StateDict, StateDict, String, ResyncOptions, ProgressListener)} with the two networks' views given: an
     * ONNX reference's and suspect's, each read from its own graph ({@link NetworkView#of(lady.graph.Graph,
     * lady.permutation.PermutationSpec)}), whose groups have the same names.
     */
    public static Result run(StateDict reference, StateDict suspect, NetworkView refView, NetworkView susView,
            ResyncOptions options, ProgressListener progress) {
        return run(reference, suspect, refView, susView, options, progress, SAME_SIZE_BUDGET);
    }

    private static Result run(StateDict reference, StateDict suspect, NetworkView refView, NetworkView susView,
            ResyncOptions options, ProgressListener progress, double sameSizeBudget) {
        long start = System.nanoTime();
        List<Group> selected = selected(refView, options.groups());
        boolean needed = needed(reference, suspect, refView, susView, selected);
        double work = needed ? sameSizeWork(reference, susView, selected) : 0;
        if (!needed || work > sameSizeBudget) {
            List<GroupReport> same = new ArrayList<>();
            for (Group g : selected) {
                int n = Math.toIntExact(g.size());
                same.add(new GroupReport(g.name(), n, n, 0, 0, 0, 0, 0, Double.NaN, Double.NaN, 0, 0, 0, null,
                        identitySources(n)));
            }
            String skipped = !needed ? null : String.format(java.util.Locale.ROOT, "no group changed size and the undo "
                    + "of a rescaling would take about %.2g TFLOP of dense products here (over %.2g): not done; neurons "
                    + "rescaled relative to their group show in the integrity flags", work / 1e12, sameSizeBudget / 1e12);
            return new Result(false, same, (System.nanoTime() - start) / 1e9, skipped);
        }
        requireMemory(suspect.numel());
        progress.start("structural undo", 2L * selected.size(), "group steps");
        NetworkView[] view = {susView};
        Map<String, Long> floors = new LinkedHashMap<>();
        selected.forEach(g -> floors.put(g.name(), g.size()));
        Map<String, Merging.Merged> merged = Merging.run(suspect, view, floors, progress);
        Map<String, List<String>> inputGroups = inputGroups(refView);
        Set<String> selectedNames = new HashSet<>();
        selected.forEach(g -> selectedNames.add(g.name()));
        Set<String> solved = new HashSet<>();
        Map<String, GroupReport> reports = new LinkedHashMap<>();
        List<String> absorbedLater = new ArrayList<>();
        for (Group rg : selected) {
            List<String> aligned = new ArrayList<>();
            for (Member m : rg.members(Role.PRODUCER_WEIGHT)) {
                boolean ready = true;
                for (String input : inputGroups.getOrDefault(m.tensor(), List.of())) {
                    ready &= input.equals(rg.name()) || solved.contains(input) || !selectedNames.contains(input);
                }
                if (ready) {
                    aligned.add(m.tensor());
                }
            }
            if (aligned.isEmpty()) {
                rg.members(Role.PRODUCER_WEIGHT).forEach(m -> aligned.add(m.tensor()));
            }
            Step step = new Step(reference, suspect, refView, view[0], rg, aligned, options, merged.get(rg.name()));
            GroupReport r;
            try {
                r = step.run();
            } catch (lady.kernels.Kernels.NonFiniteInput e) {
                throw ReferenceResync.nonFinite(rg, e);
            }
            view[0] = view[0].resized(rg.name(), rg.size(), suspect);
            if (step.rescaleRowsLater) {
                absorbedLater.add(rg.name());
            }
            reports.put(rg.name(), r);
            solved.add(rg.name());
            progress.advance(1, Map.of("group", rg.name()));
        }
        progress.finish();
        for (String name : absorbedLater) {
            rescaleProducers(reference, suspect, refView, view[0], name);
        }
        // back to the suspect's order: restored neuron q sits where its lowest suspect neuron was
        NetworkView done = view[0];
        Map<String, Permutation> back = new LinkedHashMap<>();
        Map<String, GroupReport> byName = new LinkedHashMap<>();
        for (GroupReport r : reports.values()) {
            int[][] src = r.sources();
            Integer[] order = new Integer[src.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Integer.compare(key(src, a), key(src, b)));
            int[] p = new int[order.length];
            int[][] sorted = new int[order.length][];
            for (int q = 0; q < order.length; q++) {
                p[q] = order[q];
                sorted[q] = src[order[q]];
            }
            back.put(r.group(), Permutation.of(p));
            byName.put(r.group(), new GroupReport(r.group(), r.suspectSize(), r.referenceSize(), r.mergedClusters(),
                    r.mergedNeurons(), r.droppedClusters(), r.droppedNeurons(), r.rescaled(), r.scaleMin(), r.scaleMax(),
                    r.affineRescaled(), r.unmatchedSuspect(), r.unmatchedReference(), r.note(), sorted));
        }
        // each back permutation was computed on its group as it sits aligned; Permuter moves outer groups first, so a
        // nested group (the query heads of a KV head) gets the permutation of the block that lands at its position
        Nesting nesting = Nesting.of(done.spec());
        Map<String, long[]> backIndices = new LinkedHashMap<>();
        back.forEach((g, p) -> backIndices.put(g, p.longIndices()));
        Map<String, Permutation> placed = new LinkedHashMap<>();
        List<GroupReport> out = new ArrayList<>();
        back.forEach((g, p) -> {
            String source = nesting.sourceAfter(g, backIndices);
            placed.put(g, back.get(source));
            out.add(byName.get(source).at(g)); // the report follows its neurons too (their sources, merges)
        });
        Permuter.applyLazily(suspect, done.spec(), placed, options.backend());
        boolean changed = out.stream().anyMatch(GroupReport::changed);
        return new Result(changed, out, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Refuses, with the sizes, an undo whose edits would not fit the machine's available memory: it rewrites the
     * suspect's groups in float32 (an nso'd 2-layer Llama-3-8B-width folder, 1.5 G parameters: 5 GB of anonymous
     * memory), and the system would kill the process without a word.
     */
    static void requireMemory(long parameters) {
        lady.util.Memory.require(4.0 * parameters, parameters, "the structural undo rewrites the suspect's groups in "
                + "float32", "pass --no-structural to resync without it, or run it on a machine with more memory");
    }

    /**
     * The lineages in the resync's frame: a nested group's lineage (the query heads of a KV head) is recorded, as a
     * secret's permutation is, at its position after the attacker moved its outer group; the resync undoes the outer
     * group first, so the group at position k is measured against its sibling's ({@link Nesting#referenceFrame}).
     * Outer groups that only moved (every neuron original, the group's size kept: a KV head) are the ones followed.
     */
    private static Map<String, Lineage> referenceFrame(Map<String, Lineage> lineages,
            lady.permutation.PermutationSpec spec, ResyncReport resync) {
        Map<String, long[]> moves = new LinkedHashMap<>();
        lineages.forEach((g, l) -> {
            if (l.origin().length == l.originalSize()
                    && Arrays.stream(l.kind()).allMatch(k -> k == Lineage.Kind.ORIGINAL)) {
                moves.put(g, Arrays.stream(l.origin()).asLongStream().toArray());
            }
        });
        Set<String> resynced = new HashSet<>();
        resync.groups().forEach(g -> resynced.add(g.name()));
        Map<String, Lineage> out = new LinkedHashMap<>(lineages);
        Nesting.of(spec).attackerGroups(moves, resynced).forEach((group, source) -> {
            Lineage l = lineages.get(source);
            if (l != null) {
                out.put(group, l);
            }
        });
        return out;
    }

    /** Restored neuron i's place in the suspect order: its lowest suspect neuron; neurons from nothing last. */
    private static int key(int[][] src, int i) {
        return src[i].length > 0 ? src[i][0] : Integer.MAX_VALUE / 2 + i;
    }

    /**
     * The whole resync of a possibly obfuscated suspect, as {@code lady resync} does it: the structural undo, then
     * the ordinary resync ({@link ReferenceResync}), then Psi against {@code lineages} when given.
     *
     * @param undo       what the undo did
     * @param resync     the ordinary resync after it
     * @param psi        per group, Psi against the lineages (empty without them)
     * @param psiOverall over the groups, weighted by neurons (null without lineages)
     */
    public record Outcome(Result undo, ResyncReport resync, Map<String, Double> psi, Double psiOverall) {}

    /** {@link #run}, then {@link ReferenceResync#run}, then {@link #psi} (suspect changed in place). */
    public static Outcome resync(StateDict reference, StateDict suspect, String arch, ResyncOptions options,
            Map<String, Lineage> lineages, ProgressListener progress) {
        Result undo = run(reference, suspect, arch, options, progress);
        lady.permutation.PermutationSpec spec = NetworkView.of(reference, arch).spec();
        ResyncReport r = ReferenceResync.run(reference, suspect, spec, options, null, progress);
        Map<String, Double> psi = lineages == null ? Map.of() : psi(undo, r, lineages, spec);
        return new Outcome(undo, r, psi, lineages == null ? null : psiOverall(psi, r));
    }

    /**
     * Psi of the whole chain (undo, then the ordinary resync) against the lineages of a structural secret: per
     * group, % of reference neurons i whose restored neuron's representative descends from original neuron i.
     */
    public static Map<String, Double> psi(Result undo, ResyncReport resync, Map<String, Lineage> lineages,
            lady.permutation.PermutationSpec spec) {
        lineages = referenceFrame(lineages, spec, resync);
        Map<String, Double> out = new LinkedHashMap<>();
        for (GroupResult g : resync.groups()) {
            Lineage l = lineages.get(g.name());
            if (l == null) {
                continue;
            }
            GroupReport u = undo == null ? null : undo.group(g.name());
            long[] match = g.match();
            int right = 0;
            for (int i = 0; i < match.length; i++) {
                int q = (int) match[i];
                int rep = u == null ? q : (u.sources()[q].length == 0 ? -1 : u.sources()[q][0]);
                if (rep >= 0 && rep < l.size() && l.origin()[rep] == i) {
                    right++;
                }
            }
            out.put(g.name(), 100.0 * right / match.length);
        }
        return out;
    }

    /** Psi over several groups, weighted by the reference's neurons. */
    public static Double psiOverall(Map<String, Double> psi, ResyncReport resync) {
        double acc = 0;
        long n = 0;
        for (GroupResult g : resync.groups()) {
            Double v = psi.get(g.name());
            if (v != null) {
                acc += v * g.size();
                n += g.size();
            }
        }
        return n == 0 ? null : acc / n;
    }

    /**
     * The most dense work ({@link #sameSizeWork}) the undo takes on when no group changed size, where all it can find
     * is a rescaling (extra neurons, dummy pairs and splits, change a group's size): within it, a noisy or fine-tuned
     * copy whose norms moved gets the full undo as before (VGG16: about 0.5 TFLOP); over it, an LLM's groups (2 layers
     * of Llama-3-8B width: about 3 TFLOP) would spend minutes to hours in the undo's dense assignments and
     * parallel-neuron search (half-precision tolerances leave every pair a candidate) to find nothing.
     */
    static final double SAME_SIZE_BUDGET = 2e12;

    /**
     * When every selected group has the same size in both models, the undo's dense work: over the groups that can
     * be widened, n^2 times the values of a neuron's incoming weights (its producer rows), what the undo's assignment
     * multiplies (and its parallel-neuron search too, when the weights are half precision); else 0 (a structural
     * attack: the undo runs whatever it costs).
     */
    static double sameSizeWork(StateDict reference, NetworkView susView, List<Group> selected) {
        double work = 0;
        for (Group rg : selected) {
            Group sg = susView.spec().group(rg.name()).orElseThrow();
            if (sg.size() != rg.size()) {
                return 0;
            }
            if (!susView.rule(rg.name()).canWiden()) {
                continue;
            }
            double d = 0;
            for (Member m : rg.members(Role.PRODUCER_WEIGHT)) {
                long[] shape = reference.shape(m.tensor());
                if (shape.length <= m.axis() || shape[m.axis()] == 0) {
                    continue;
                }
                d += (double) lady.tensor.HostTensor.numel(shape) / shape[m.axis()] * m.block();
            }
            work += (double) rg.size() * rg.size() * d;
        }
        return work;
    }


    // ---- the cheap check ----

    /**
     * Whether any selected group differs from the reference beyond a permutation: its size, or the multiset of its
     * neurons' row norms (per producer) or batch-norm gamma/beta norms. A rescaling changes norms, a dummy pair or a
     * split changes the size (or, with neurons that did nothing removed to keep it, the norms: a split copy repeats a
     * norm); one pass over the producers' tensors, no consumer read.
     */
    private static boolean needed(StateDict reference, StateDict suspect, NetworkView refView, NetworkView susView,
            List<Group> selected) {
        for (Group rg : selected) {
            Group sg = susView.spec().group(rg.name()).orElse(null);
            if (sg == null) {
                throw LadyException.invalidInput("the suspect has no group '" + rg.name() + "': not the same architecture");
            }
            if (sg.size() != rg.size()) {
                return true;
            }
        }
        for (Group rg : selected) {
            StructuralRules.Rule rule = susView.rule(rg.name());
            if (!rule.canWiden()) {
                continue;
            }
            Group sg = susView.group(rg.name());
            double u = 0;
            for (Member m : sg.members()) {
                u = Math.max(u, Math.max(Tolerance.unitRoundoff(suspect, m.tensor()), Tolerance.unitRoundoff(reference, m.tensor())));
            }
            double t = Tolerance.of(u);
            StructuralRules.Rule refRule = refView.rule(rg.name());
            double[][][] ab = new double[2][][]; // the two models side by side
            lady.util.Parallel.forEach(2, k -> ab[k] = k == 0 ? NeuronGroup.norms(reference, rg, refRule)
                    : NeuronGroup.norms(suspect, sg, rule));
            double[][] a = ab[0];
            double[][] b = ab[1];
            for (int p = 0; p < a.length; p++) {
                if (!sameNorms(a[p], b[p], t)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether two sets of norms agree as multisets within relative {@code t}. */
    private static boolean sameNorms(double[] a, double[] b, double t) {
        double[] x = a.clone();
        double[] y = b.clone();
        Arrays.sort(x);
        Arrays.sort(y);
        for (int i = 0; i < x.length; i++) {
            if (Math.abs(x[i] - y[i]) > t * Math.max(x[i], y[i])) {
                return false;
            }
        }
        return true;
    }

    // ---- one group ----

    /** The undo of one group; {@link #rescaleRowsLater}: producers not aligned yet need their own rescaling at the end. */
    private static final class Step {
        final StateDict reference;
        final StateDict suspect;
        final Group rg;
        final Group sg;
        final NetworkView susView;
        final StructuralRules.Rule rule;
        final StructuralRules.Rule refRule;
        final List<String> aligned;
        final ResyncOptions options;
        final int n;
        final Merging.Merged merged;
        boolean rescaleRowsLater;

        Step(StateDict reference, StateDict suspect, NetworkView refView, NetworkView susView, Group rg, List<String> aligned,
                ResyncOptions options, Merging.Merged merged) {
            this.merged = merged;
            this.reference = reference;
            this.suspect = suspect;
            this.rg = rg;
            this.susView = susView;
            this.sg = susView.spec().group(rg.name()).orElseThrow(() -> LadyException.invalidInput(
                    "the suspect has no group '" + rg.name() + "': not the same architecture"));
            this.rule = susView.rule(rg.name());
            this.refRule = refView.rule(rg.name());
            this.aligned = aligned;
            this.options = options;
            this.n = Math.toIntExact(rg.size());
        }

        GroupReport run() {
            int m = merged == null ? Math.toIntExact(sg.size()) : merged.originalSize();
            if (!rule.canWiden()) {
                return matchOnly(m);
            }
            NeuronGroup sus = new NeuronGroup(suspect, sg, rule);
            NeuronGroup ref = new NeuronGroup(reference, rg, refRule);
            double t = Tolerance.of(Math.max(sus.roundoff(), ref.roundoff()));
            int k = sus.size();
            int[] reps = new int[k];
            for (int j = 0; j < k; j++) {
                reps[j] = j;
            }
            int[] match = assign(reps);

            // rescaling: rows (per producer; one factor for all when compensated in the consumers), then gamma/beta
            int producers = sus.producerCount();
            boolean[] alignedProducer = new boolean[producers];
            for (int p = 0; p < producers; p++) {
                alignedProducer[p] = aligned.contains(sus.producerWeight(p));
            }
            double[][] rowFactor = new double[n][];
            double[] ratio = new double[n];
            boolean[] exact = new boolean[n];
            for (int i = 0; i < n; i++) {
                ratio[i] = Double.NaN;
                if (match[i] < 0) {
                    continue;
                }
                int rep = match[i];
                double[] a = concat(ref, i, alignedProducer);
                double[] b = concat(sus, rep, alignedProducer);
                double na = norm(a);
                double nb = norm(b);
                if (na > 0 && nb > 0) {
                    ratio[i] = nb / na;
                    exact[i] = distance(a, na, b, nb) <= t;
                }
                double[] f = new double[producers];
                double common = na > 0 && nb > 0 ? na / nb : 1;
                for (int p = 0; p < producers; p++) {
                    f[p] = common;
                    if (rule.scaling() == StructuralRules.Scaling.ABSORBED && alignedProducer[p]) {
                        double x = norm(ref.rows(p, i));
                        double y = norm(sus.rows(p, rep));
                        f[p] = x > 0 && y > 0 ? x / y : 1;
                    }
                    if (Math.abs(f[p] - 1) <= t) {
                        f[p] = 1;
                    }
                }
                rowFactor[i] = f;
            }
            boolean rescaleRows = rule.canScale() && scaled(ratio, exact, t, options.integrityRatio());
            double[] affineFactor = new double[n];
            Arrays.fill(affineFactor, 1);
            int affineRescaled = 0;
            if (rule.scaling() == StructuralRules.Scaling.ABSORBED && rule.canRescaleAffine()) {
                double[] aRatio = new double[n];
                boolean[] aExact = new boolean[n];
                for (int i = 0; i < n; i++) {
                    aRatio[i] = Double.NaN;
                    if (match[i] >= 0) {
                        double[] a = ref.affine(i);
                        double[] b = sus.affine(match[i]);
                        double na = norm(a);
                        double nb = norm(b);
                        if (na > 0 && nb > 0) {
                            aRatio[i] = nb / na;
                            aExact[i] = distance(a, na, b, nb) <= t;
                            affineFactor[i] = Math.abs(na / nb - 1) <= t ? 1 : na / nb;
                        }
                    }
                }
                if (scaled(aRatio, aExact, t, options.integrityRatio())) {
                    for (double s : affineFactor) {
                        affineRescaled += s != 1 ? 1 : 0;
                    }
                } else {
                    Arrays.fill(affineFactor, 1);
                }
            }
            boolean compensated = rule.scaling() == StructuralRules.Scaling.COMPENSATED;
            List<GroupEdit.Neuron> neurons = new ArrayList<>();
            int[][] sources = new int[n][];
            int rescaled = 0;
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (match[i] < 0) {
                    neurons.add(GroupEdit.Neuron.empty());
                    sources[i] = new int[0];
                    continue;
                }
                int j = match[i];
                double[] f = rescaleRows ? rowFactor[i] : null;
                boolean moved = false;
                if (f != null) {
                    for (double x : f) {
                        moved |= x != 1;
                    }
                }
                if (moved) {
                    rescaled++;
                    lo = Math.min(lo, ratio[i]);
                    hi = Math.max(hi, ratio[i]);
                }
                double fOut = compensated && moved ? f[0] : 1;
                neurons.add(new GroupEdit.Neuron(j, moved ? f : null, affineFactor[i], new int[] {j},
                        new double[] {1 / fOut / affineFactor[i]}, Map.of(), Map.of()));
                sources[i] = merged == null ? new int[] {j} : merged.members().get(j);
            }
            boolean allAligned = true;
            for (boolean a : alignedProducer) {
                allAligned &= a;
            }
            rescaleRowsLater = rescaleRows && rule.scaling() == StructuralRules.Scaling.ABSORBED && !allAligned;
            GroupEdit.apply(suspect, sg, rule, neurons);

            int unmatchedSuspect = k - (int) Arrays.stream(match).filter(x -> x >= 0).count();
            int unmatchedReference = (int) Arrays.stream(match).filter(x -> x < 0).count();
            return new GroupReport(rg.name(), m, n, merged == null ? 0 : merged.mergedClusters(),
                    merged == null ? 0 : merged.mergedNeurons(), merged == null ? 0 : merged.droppedClusters(),
                    merged == null ? 0 : merged.droppedNeurons(), rescaled, rescaled == 0 ? Double.NaN : lo,
                    rescaled == 0 ? Double.NaN : hi, affineRescaled, unmatchedSuspect, unmatchedReference, null, sources);
        }

        /** A group whose structure cannot be edited: matched and permuted only (sizes must agree). */
        private GroupReport matchOnly(int m) {
            if (m != n) {
                throw LadyException.invalidInput(String.format("group '%s' has %d neurons in the reference but %d in the "
                        + "suspect, and its structure cannot be undone: %s", rg.name(), n, m, rule.wideningRefusal()));
            }
            int[] all = new int[n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            int[] match = assign(all);
            long[] p = new long[n];
            int[][] sources = new int[n][];
            for (int i = 0; i < n; i++) {
                p[i] = match[i];
                sources[i] = new int[] {match[i]};
            }
            // index maps over the suspect's tensors, gathered when read whole or written (the residual stream's
            // members are every weight of an LLM)
            Permuter.applyLazily(suspect, susView.spec(), Map.of(rg.name(), Permutation.of(p)), options.backend());
            return new GroupReport(rg.name(), m, n, 0, 0, 0, 0, 0, Double.NaN, Double.NaN, 0, 0, 0,
                    "matched only: " + rule.wideningRefusal(), sources);
        }

        /**
         * match[i] = index in {@code reps} of the suspect neuron for reference neuron i, or -1. With as many suspect
         * neurons as reference ones and the aligned producers' tensors of the same shapes, the match the ordinary
         * resync makes from those producers' rows ({@link Combination#solve}: the weighted mean of their cosines, the
         * exact assignment, large groups through the prefilter, which reads the rows where they lie: a Llama residual
         * stream's 128k-row embedding or a 14336-unit MLP without an n x n matrix). Otherwise the exact assignment of
         * the summed cosine, padded to a square ({@link #paddedAssign}).
         */
        private int[] assign(int[] reps) {
            int k = reps.length;
            if (k == n && n > 0 && !aligned.isEmpty() && sameShapes()) {
                List<Contribution> cs = new ArrayList<>();
                for (String w : aligned) {
                    RowPair rows = RowPair.of(reference.indexed(w), suspect.indexed(w), producer(rg, w), n);
                    cs.add(new Contribution(ProducerRows.NAME, w, rows.dimension(), rows, null, List.of()));
                }
                long[] match;
                try {
                    match = Combination.solve(cs, n, options.withMethod(Method.ASSIGNMENT).withMargins(Margins.BOUND))
                            .match();
                } finally {
                    cs.forEach(Contribution::release);
                }
                int[] out = new int[n];
                for (int i = 0; i < n; i++) {
                    out[i] = reps[(int) match[i]];
                }
                return out;
            }
            return paddedAssign(reps);
        }

        /** Whether every aligned producer's tensor has the same shape in both models. */
        private boolean sameShapes() {
            for (String w : aligned) {
                if (!Arrays.equals(reference.shape(w), suspect.shape(w))) {
                    return false;
                }
            }
            return true;
        }

        /**
         * The exact assignment of the summed cosine over the aligned producers, on the matrix padded to a square with
         * a constant score below every real one: match[i] = index in {@code reps} of reference neuron i's suspect
         * neuron, or -1 (the padding took it).
         */
        private int[] paddedAssign(int[] reps) {
            int k = reps.length;
            int size = Math.max(n, k);
            if (size == 0) {
                return new int[0];
            }
            int[] refAll = new int[n];
            for (int i = 0; i < n; i++) {
                refAll[i] = i;
            }
            float pad = -2f * aligned.size() - 1; // below any sum of cosines
            // the padded square in native memory, summed there row by row: no n x k Java arrays (at LLM width, 14336 x
            // 15052 floats each, they filled the heap)
            HostTensor square = HostTensor.allocate(lady.tensor.DType.FLOAT32, (long) size * size);
            HostTensor out = HostTensor.allocate(lady.tensor.DType.FLOAT32, Math.max(1, (long) n * k));
            try (HostMemory sq = square.memory(); HostMemory o = out.memory()) {
                float[] row = new float[size];
                float[] part = new float[k];
                for (int i = 0; i < size; i++) { // reference rows start at 0 over the suspect's k columns, pad elsewhere
                    Arrays.fill(row, pad);
                    if (i < n) {
                        Arrays.fill(row, 0, k, 0f);
                    }
                    square.writeFloats((long) i * size, row, 0, size);
                }
                HostTensor.ValueReader sums = square.valueReader();
                HostTensor.ValueReader parts = out.valueReader();
                for (String w : aligned) {
                    // the neurons' rows read where they lie (a mapped file's bytes, converted), only those compared
                    HostTensor a = NeuronRows.of(reference.indexed(w), producer(rg, w), n).materialize(refAll);
                    HostTensor b = NeuronRows.of(suspect.indexed(w), producer(sg, w), sg.size()).materialize(reps);
                    try (HostMemory am = a.memory(); HostMemory bm = b.memory()) { // native rows: no copy into the kernel
                        if (a.size(1) != b.size(1)) {
                            throw LadyException.invalidInput(String.format("group '%s': the rows of '%s' have %d values "
                                    + "in the reference but %d in the suspect", rg.name(), w, a.size(1), b.size(1)));
                        }
                        Kernels.cosineSimilarity(options.backend(), a.address(), b.address(), n, k,
                                Math.toIntExact(a.size(1)), false, out.address());
                    }
                    for (int i = 0; i < n; i++) { // the same float sums, in the same order, as one n x k array had
                        sums.read((long) i * size, row, 0, k);
                        parts.read((long) i * k, part, 0, k);
                        for (int j = 0; j < k; j++) {
                            row[j] += part[j];
                            if (!Float.isFinite(row[j])) {
                                throw ReferenceResync.nonFinite(rg, String.format(java.util.Locale.ROOT, "the structural "
                                        + "undo's similarity is %s at row %d, column %d", row[j], i, j));
                            }
                        }
                        square.writeFloats((long) i * size, row, 0, k);
                    }
                }
                int[] col = new int[size];
                try (HostMemory perm = HostMemory.allocate(4L * size)) {
                    Kernels.assign(options.backend(), square.address(), size, perm.address());
                    perm.buffer(0, 4 * size).asIntBuffer().get(col);
                }
                int[] match = new int[n];
                for (int i = 0; i < n; i++) {
                    match[i] = col[i] < k ? reps[col[i]] : -1;
                }
                return match;
            }
        }
    }

    /** The member of {@code g} that is producer weight {@code tensor}. */
    private static Member producer(Group g, String tensor) {
        for (Member m : g.members(Role.PRODUCER_WEIGHT)) {
            if (m.tensor().equals(tensor)) {
                return m;
            }
        }
        throw new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "' has no producer '" + tensor + "'");
    }

    /**
     * Whether a group's matched neurons show a rescaling: one matched exactly (parallel within {@code t}) with a
     * norm ratio away from 1, or a norm ratio that, relative to the group's median ratio, lies outside [1/r, r]
     * (the integrity check's test, calibrated so that noise, fine-tuning and quantization stay inside).
     */
    private static boolean scaled(double[] ratio, boolean[] exact, double t, double r) {
        List<Double> seen = new ArrayList<>();
        for (int i = 0; i < ratio.length; i++) {
            if (Double.isNaN(ratio[i])) {
                continue;
            }
            if (exact[i] && Math.abs(ratio[i] - 1) > t) {
                return true;
            }
            seen.add(ratio[i]);
        }
        if (seen.isEmpty()) {
            return false;
        }
        double[] sorted = seen.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int k = sorted.length;
        double median = k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
        return sorted[0] / median < 1 / r || sorted[k - 1] / median > r;
    }

    /** Each producer of an absorbed (batch-norm) group rescaled on its own to the reference's norms. */
    private static void rescaleProducers(StateDict reference, StateDict suspect, NetworkView refView, NetworkView susView,
            String name) {
        Group sg = susView.group(name);
        StructuralRules.Rule rule = susView.rule(name);
        NeuronGroup sus = new NeuronGroup(suspect, sg, rule);
        NeuronGroup ref = new NeuronGroup(reference, refView.group(name), refView.rule(name));
        double t = Tolerance.of(Math.max(sus.roundoff(), ref.roundoff()));
        List<GroupEdit.Neuron> neurons = new ArrayList<>();
        boolean any = false;
        for (int i = 0; i < sus.size(); i++) {
            double[] f = new double[sus.producerCount()];
            for (int p = 0; p < f.length; p++) {
                double x = norm(ref.rows(p, i));
                double y = norm(sus.rows(p, i));
                f[p] = x > 0 && y > 0 && Math.abs(x / y - 1) > t ? x / y : 1;
                any |= f[p] != 1;
            }
            neurons.add(new GroupEdit.Neuron(i, f, 1, new int[] {i}, new double[] {1}, Map.of(), Map.of()));
        }
        if (any) {
            GroupEdit.apply(suspect, sg, rule, neurons);
        }
    }

    // ---- helpers ----

    private static List<Group> selected(NetworkView view, Set<String> names) {
        if (names.isEmpty()) {
            return view.spec().groups();
        }
        return Permuter.select(view.spec(), String.join(",", names)).stream().map(view::group).toList();
    }

    /** For each tensor that consumes groups, those groups (names). */
    private static Map<String, List<String>> inputGroups(NetworkView view) {
        Map<String, List<String>> m = new HashMap<>();
        for (Group g : view.spec().groups()) {
            for (Member c : g.members(Role.CONSUMER_WEIGHT)) {
                List<String> l = m.computeIfAbsent(c.tensor(), x -> new ArrayList<>());
                if (!l.contains(g.name())) {
                    l.add(g.name());
                }
            }
        }
        return m;
    }

    private static int[][] identitySources(int n) {
        int[][] s = new int[n][];
        for (int i = 0; i < n; i++) {
            s[i] = new int[] {i};
        }
        return s;
    }

    /** Rows and bias of neuron j over the flagged producers, concatenated. */
    private static double[] concat(NeuronGroup g, int j, boolean[] producers) {
        List<double[]> parts = new ArrayList<>();
        int len = 0;
        for (int p = 0; p < producers.length; p++) {
            if (producers[p]) {
                double[] r = g.rows(p, j);
                parts.add(r);
                len += r.length;
            }
        }
        double[] out = new double[len];
        int at = 0;
        for (double[] r : parts) {
            System.arraycopy(r, 0, out, at, r.length);
            at += r.length;
        }
        return out;
    }

    private static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    /** Distance of the unit vectors of a and b. */
    private static double distance(double[] a, double na, double[] b, double nb) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double e = a[i] / na - b[i] / nb;
            s += e * e;
        }
        return Math.sqrt(s);
    }
}
