package lady.structure;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.checkpoint.StateDict;
import lady.graph.StructuralRules;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.progress.ProgressListener;
import lady.tensor.HostTensor;

/**
 * The reference-free half of undoing structural obfuscation: in every group, drop the clusters of neurons that
 * do nothing (a dummy pair cancels; a neuron with zero consumer columns) and merge each cluster of positively
 * parallel neurons ({@link ParallelNeurons}) into one whose consumer columns are the members' sum, each times its
 * ratio to the representative. Function-preserving by construction.
 *
 * <p>A neuron's copies are parallel only once the groups widened after it lost their dummies (a dummy's fresh
 * columns differ between the copies: a residual stream is widened before the blocks that write into it), and a
 * dummy pair vanishes only once the groups that read it lost theirs. So drops run first, over every group, until a
 * whole pass drops nothing, then merges the same way; a group is looked at again only when it or a group sharing a
 * tensor with it changed. The representative stays where it was (clusters ordered by representative).
 */
public final class Merging {
    private Merging() {}

    /**
     * What the merging did to one group.
     *
     * @param originalSize    neurons before
     * @param mergedClusters  clusters of two or more neurons merged into one
     * @param mergedNeurons   original neurons in them
     * @param droppedClusters clusters dropped (they did nothing)
     * @param droppedNeurons  original neurons in them
     * @param members         per current neuron, the original neurons it stands for, lowest first
     */
    public record Merged(int originalSize, int mergedClusters, int mergedNeurons, int droppedClusters, int droppedNeurons,
            List<int[]> members) {
        public Merged {
            members = Collections.unmodifiableList(new ArrayList<>(members));
        }

        static Merged identity(int n) {
            List<int[]> m = new ArrayList<>();
            for (int j = 0; j < n; j++) {
                m.add(new int[] {j});
            }
            return new Merged(n, 0, 0, 0, 0, m);
        }

        /** Whether anything was merged or dropped. */
        public boolean changed() {
            return mergedClusters > 0 || droppedClusters > 0;
        }
    }

    /**
     * Merges and drops in the groups named by {@code floors}' keys (in that order) of {@code state}, in place.
     *
     * @param view     the state's view, replaced as widths change
     * @param floors   per group, the fewest neurons it may be left with (drops stop there; 0: none)
     * @param progress one step per group
     */
    public static Map<String, Merged> run(StateDict state, NetworkView[] view, Map<String, Long> floors,
            ProgressListener progress) {
        List<String> names = new ArrayList<>(floors.keySet());
        Map<String, Merged> merged = new LinkedHashMap<>();
        Map<String, Set<String>> byTensor = new HashMap<>();
        for (String name : names) {
            Group g = view[0].group(name);
            merged.put(name, Merged.identity(Math.toIntExact(g.size())));
            for (Member m : g.members()) {
                byTensor.computeIfAbsent(m.tensor(), k -> new LinkedHashSet<>()).add(name);
            }
        }
        Map<String, Set<String>> neighbours = new HashMap<>();
        for (String name : names) {
            Set<String> n = new HashSet<>();
            for (Member m : view[0].group(name).members()) {
                n.addAll(byTensor.get(m.tensor()));
            }
            neighbours.put(name, n);
        }
        Map<String, Known> known = new HashMap<>();
        for (boolean mergeToo : new boolean[] {false, true}) {
            Set<String> dirty = new HashSet<>(names);
            for (int pass = 0; !dirty.isEmpty() && pass <= names.size(); pass++) {
                Set<String> next = new HashSet<>();
                for (String name : names) {
                    if (dirty.contains(name)) {
                        Merged before = merged.get(name);
                        Merged after = pass(state, view, name, before, floors.get(name), mergeToo, known);
                        if (after != before) {
                            merged.put(name, after);
                            next.addAll(neighbours.get(name));
                        }
                    }
                    if (pass == 0 && mergeToo) {
                        progress.advance(1, Map.of("group", name));
                    }
                }
                dirty = next;
            }
        }
        return merged;
    }

    /**
     * The partition of a group's neurons by their incoming maps that its last pass found ({@code classes[j]}: neuron
     * j's), and the tensors it holds for the group's incoming side (every member but the consumers' columns) since
     * then: while those are the same objects, nothing changed the incoming maps, and the next pass of the group
     * takes the partition instead of searching again (an LLM's MLP of 16k units: a search is an all-pairs cosine
     * product of 8k-value rows, 8 to 15 s here, and the passes that confirm a group made twice as many).
     */
    private record Known(int[] classes, Map<String, HostTensor> tensors) {
        static Known of(StateDict state, Group g, int[] classes) {
            Map<String, HostTensor> t = new HashMap<>();
            for (Member m : incomingSide(g)) {
                t.put(m.tensor(), state.get(m.tensor()));
            }
            return new Known(classes, t);
        }

        /** The classes when the group's incoming tensors are still those (the same objects), else null. */
        int[] current(StateDict state, Group g) {
            for (Member m : incomingSide(g)) {
                if (tensors.get(m.tensor()) != state.get(m.tensor())) {
                    return null;
                }
            }
            return classes.length == g.size() ? classes : null;
        }

        /** The group's members that its incoming maps read: all but the consumers' columns. */
        private static List<Member> incomingSide(Group g) {
            return g.members().stream().filter(m -> m.role() != lady.permutation.Role.CONSUMER_WEIGHT).toList();
        }
    }

    /**
     * One group's drops and (with {@code mergeToo}) merges; {@code m} itself when nothing changed. The kept neurons'
     * incoming maps are the ones they had (a merge keeps its representative's, whole clusters are kept, dropped or
     * merged), so their partition is recorded in {@code known} for the group's next pass.
     */
    private static Merged pass(StateDict state, NetworkView[] view, String name, Merged m, long floor, boolean mergeToo,
            Map<String, Known> known) {
        Group g = view[0].group(name);
        StructuralRules.Rule rule = view[0].rule(name);
        if (!rule.canWiden()) {
            return m;
        }
        NeuronGroup d = new NeuronGroup(state, g, rule);
        Known k = known.get(name);
        List<ParallelNeurons.Cluster> clusters = ParallelNeurons.find(d, Tolerance.of(d.roundoff()),
                k == null ? null : k.current(state, g));
        long live = clusters.stream().filter(c -> !c.vanishing()).count();
        boolean drop = live >= floor;
        int mergedClusters = m.mergedClusters();
        int mergedNeurons = m.mergedNeurons();
        int droppedClusters = m.droppedClusters();
        int droppedNeurons = m.droppedNeurons();
        List<GroupEdit.Neuron> neurons = new ArrayList<>();
        List<int[]> members = new ArrayList<>();
        List<Integer> classes = new ArrayList<>(); // per kept neuron, its cluster
        boolean edit = false;
        for (int ci = 0; ci < clusters.size(); ci++) {
            ParallelNeurons.Cluster c = clusters.get(ci);
            int size = 0;
            for (int x : c.members()) {
                size += m.members().get(x).length;
            }
            if (c.vanishing() && drop) {
                droppedClusters++;
                droppedNeurons += size;
                edit = true;
            } else if (mergeToo || c.members().length == 1) {
                if (c.members().length > 1) {
                    mergedClusters++;
                    mergedNeurons += size;
                    edit = true;
                }
                neurons.add(new GroupEdit.Neuron(c.representative(), null, 1, c.members(), c.ratios(), Map.of(), Map.of()));
                int[] all = new int[size];
                int at = 0;
                for (int x : c.members()) {
                    for (int y : m.members().get(x)) {
                        all[at++] = y;
                    }
                }
                Arrays.sort(all);
                members.add(all);
                classes.add(ci);
            } else {
                for (int x : c.members()) { // kept apart until nothing more vanishes
                    neurons.add(GroupEdit.Neuron.copy(x));
                    members.add(m.members().get(x));
                    classes.add(ci);
                }
            }
        }
        if (!edit) {
            int[] same = new int[d.n];
            for (int ci = 0; ci < clusters.size(); ci++) {
                for (int x : clusters.get(ci).members()) {
                    same[x] = ci;
                }
            }
            known.put(name, Known.of(state, g, same));
            return m;
        }
        // the kept neurons in their order
        Integer[] order = new Integer[neurons.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(neurons.get(a).source(), neurons.get(b).source()));
        List<GroupEdit.Neuron> sortedNeurons = new ArrayList<>();
        List<int[]> sortedMembers = new ArrayList<>();
        int[] sortedClasses = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            sortedNeurons.add(neurons.get(order[i]));
            sortedMembers.add(members.get(order[i]));
            sortedClasses[i] = classes.get(order[i]);
        }
        GroupEdit.apply(state, g, rule, sortedNeurons);
        view[0] = view[0].resized(name, sortedNeurons.size(), state);
        known.put(name, Known.of(state, view[0].group(name), sortedClasses));
        return new Merged(m.originalSize(), mergedClusters, mergedNeurons, droppedClusters, droppedNeurons, sortedMembers);
    }
}
