package lady.canon;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.checkpoint.StateDict;
import lady.graph.StructuralRules;
import lady.kernels.Backend;
import lady.permutation.Group;
import lady.permutation.Permutation;
import lady.permutation.Permuter;
import lady.progress.ProgressListener;
import lady.structure.GroupEdit;
import lady.structure.Merging;
import lady.structure.NetworkView;
import lady.structure.NeuronGroup;
import lady.structure.StateDiff;

/**
 * A normal form of a network that structural obfuscation does not change (issue 18): an owner who kept only the
 * normal form of the original can compute the suspect's and compare the two tensor by tensor. Per group, in
 * topological order, after merging every cluster of parallel neurons and dropping those that do nothing
 * ({@link Merging}, no reference needed):
 * <ul>
 *   <li><b>scale</b>: without batch norm, every neuron's rows and bias to unit norm (over all its producers), its
 *       consumer columns compensated; with batch norm, every producer's rows so that the running variance plus
 *       eps is 1 (a standardized batch norm: scaling the rows by {@code a} multiplies {@code var + eps} by
 *       {@code a^2}, so this choice is the same whatever the attacker's factor, and never makes a variance
 *       negative), and gamma and beta to unit norm with the consumers compensated where the graph allows
 *       ({@link StructuralRules}); groups the graph does not let rescale keep their scale;</li>
 *   <li><b>order</b>: the canonical order of the basic ranking (signed sums of the producer rows, descending;
 *       method.md 5), computed on the rescaled rows.</li>
 * </ul>
 * A model and any copy of it obfuscated by rescaling, dummy pairs, splits and permutations have the same normal
 * form up to float rounding (two neurons whose scores differ by less than the rounding may trade places).
 */
public final class NormalForm {
    private NormalForm() {}

    /**
     * One group of the normal form.
     *
     * @param group          its name
     * @param sizeBefore     neurons in the model
     * @param size           neurons in the normal form
     * @param mergedClusters clusters of parallel neurons merged
     * @param droppedNeurons neurons dropped (they did nothing)
     * @param rescaled       whether its neurons were rescaled (the graph allows it)
     */
    public record GroupReport(String group, int sizeBefore, int size, int mergedClusters, int droppedNeurons,
            boolean rescaled) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", group);
            m.put("size_before", sizeBefore);
            m.put("size", size);
            m.put("merged_clusters", mergedClusters);
            m.put("dropped_neurons", droppedNeurons);
            m.put("rescaled", rescaled);
            return m;
        }
    }

    /** The normal form and what it took. */
    public record Result(String architecture, StateDict state, List<GroupReport> groups) {
        public Result {
            groups = List.copyOf(groups);
        }
    }

    /**
     * How a normal form compares with the owner's ({@link #compare}).
     *
     * @param sameShapes      the same tensor names and shapes
     * @param maxRelativeDiff the largest relative difference of a tensor ({@link StateDiff#relative}), after the
     *                        alignment when one was needed; infinite when the shapes differ
     * @param limit           the largest the same network shows ({@link StateDiff#sameRel})
     * @param tradedNeurons   neurons the alignment moved (0: compared as they are)
     * @param tradedGroups    groups in which it moved some
     * @param same            whether it is the same network
     */
    public record Comparison(boolean sameShapes, double maxRelativeDiff, double limit, int tradedNeurons,
            int tradedGroups, boolean same) {}

    /**
     * Compares normal form {@code candidate} with the owner's ({@code owner}; architecture {@code arch}, null:
     * recognized). Tensor by tensor first; when that fails with the same shapes, the candidate is aligned to the
     * owner's by the ordinary resync and compared again. The canonical order sorts each group by a score, and two
     * neurons whose scores differ by less than the rounding of what came before may trade places: in a bfloat16
     * Llama whose split neurons were merged back (their down-projection columns within a unit of the format) the
     * residual stream's sums moved enough to reorder 7.5 % of its neurons, and a copy read as another network.
     */
    public static Comparison compare(StateDict owner, StateDict candidate, String arch, ProgressListener progress) {
        Map<String, Double> diff = StateDiff.relative(owner, candidate);
        double limit = StateDiff.sameRel(owner, candidate);
        if (diff == null) {
            return new Comparison(false, Double.POSITIVE_INFINITY, limit, 0, 0, false);
        }
        double worst = StateDiff.max(diff);
        if (worst <= limit) {
            return new Comparison(true, worst, limit, 0, 0, true);
        }
        StateDict aligned = new StateDict(); // the candidate's tensors, shared: the resync's matches are index maps
        candidate.names().forEach(name -> aligned.put(name, candidate.get(name)));
        if (candidate.config() != null) {
            aligned.setConfig(candidate.config());
        }
        lady.permutation.PermutationSpec spec = NetworkView.of(owner, arch).spec();
        lady.resync.ResyncReport r = lady.resync.ReferenceResync.run(owner, aligned, spec,
                lady.resync.ResyncOptions.defaults().withMargins(lady.resync.Margins.BOUND), null, progress);
        int traded = 0;
        int groups = 0;
        for (lady.resync.GroupResult g : r.groups()) {
            int moved = 0;
            for (int i = 0; i < g.match().length; i++) {
                moved += g.match()[i] != i ? 1 : 0;
            }
            traded += moved;
            groups += moved > 0 ? 1 : 0;
        }
        double after = StateDiff.max(owner, aligned);
        return new Comparison(true, after, limit, traded, groups, after <= limit);
    }

    /** The normal form of {@code state} (unchanged) of architecture {@code arch} (null: recognized). */
    public static Result of(StateDict state, String arch, ProgressListener progress) {
        requireMemory(state);
        StateDict s = state.copy();
        NetworkView[] view = {NetworkView.of(s, arch)};
        List<String> names = view[0].spec().groups().stream().map(Group::name).toList();
        Map<String, Long> floors = new LinkedHashMap<>();
        names.forEach(n -> floors.put(n, 0L));
        progress.start("normal form", 2L * names.size(), "group steps");
        Map<String, Merging.Merged> merged = Merging.run(s, view, floors, progress);
        List<GroupReport> reports = new ArrayList<>();
        for (String name : names) {
            Group g = view[0].group(name);
            StructuralRules.Rule rule = view[0].rule(name);
            boolean rescaled = rescale(s, g, rule);
            Permutation order = BasicRanking.rank(s, g).order();
            Permuter.applyInPlace(s, view[0].spec(), Map.of(name, order), Backend.CPU);
            Merging.Merged m = merged.get(name);
            reports.add(new GroupReport(name, m.originalSize(), Math.toIntExact(g.size()), m.mergedClusters(),
                    m.droppedNeurons(), rescaled));
            progress.advance(1, Map.of("group", name));
        }
        progress.finish();
        return new Result(view[0].architecture(), s, reports);
    }

    /**
     * Refuses, with the sizes, a normal form that would not fit the machine's available memory: it copies the model in
     * its own format and rewrites its groups in float32 (2 layers of Llama-3-8B width, 1.5 G bfloat16 parameters: 7.6
     * GB resident with the file mapped), and the system would kill the process without a word. Nothing is read.
     */
    static void requireMemory(StateDict state) {
        long parameters = state.numel();
        double bytes = 4.0 * parameters;
        for (String name : state.names()) {
            bytes += state.indexed(name).byteSize();
        }
        lady.util.Memory.require(bytes, parameters, "the normal form copies the model and rewrites its groups in "
                + "float32", "compute it on a machine with more memory");
    }

    /** Puts group {@code g}'s neurons at the normal form's scale; false when the graph does not allow it. */
    private static boolean rescale(StateDict s, Group g, StructuralRules.Rule rule) {
        if (!rule.canScale()) {
            return false;
        }
        NeuronGroup d = new NeuronGroup(s, g, rule);
        int producers = d.producerCount();
        boolean absorbed = rule.scaling() == StructuralRules.Scaling.ABSORBED;
        float[][] vars = new float[producers][];
        if (absorbed) {
            for (int p = 0; p < producers; p++) {
                vars[p] = d.runningVariances(p);
            }
        }
        List<GroupEdit.Neuron> neurons = new ArrayList<>();
        for (int j = 0; j < d.size(); j++) {
            double[] f = new double[producers];
            double norm = 0;
            for (int p = 0; p < producers; p++) {
                double[] r = d.rows(p, j);
                for (double x : r) {
                    norm += x * x;
                }
            }
            norm = Math.sqrt(norm);
            for (int p = 0; p < producers; p++) {
                if (absorbed) {
                    f[p] = 1 / Math.sqrt(vars[p][j] + rule.producers().get(p).eps());
                } else {
                    f[p] = norm > 0 ? 1 / norm : 1;
                }
            }
            double a = 1;
            if (absorbed && rule.canRescaleAffine()) {
                double n2 = 0;
                for (double x : d.affine(j)) {
                    n2 += x * x;
                }
                a = n2 > 0 ? 1 / Math.sqrt(n2) : 1;
            }
            double out = (absorbed ? 1 : f[0]) * a;
            neurons.add(new GroupEdit.Neuron(j, f, a, new int[] {j}, new double[] {1 / out}, Map.of(), Map.of()));
        }
        GroupEdit.apply(s, g, rule, neurons);
        return true;
    }

}
