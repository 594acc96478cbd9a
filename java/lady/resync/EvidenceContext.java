package lady.resync;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;

/**
 * What the evidence sources of a resync see: the reference, the suspect as re-ordered so far, the
 * kernels' backend, and which groups are aligned. Groups are related through the tensors their members
 * share ({@link #orderedBy}): a member's per-neuron slices ({@link lady.permutation.MemberSlices}) hold
 * values indexed by every other group with a member on the same tensor, on another axis (a producer's
 * columns belong to its input groups, a consumer's rows to its output groups) or on the same axis inside
 * the member's range (query heads inside a KV head); such a slice is comparable only once those groups
 * are aligned.
 */
public final class EvidenceContext {
    /** Version of a group that was not solved yet. */
    static final int UNSOLVED = -1;

    private record Use(Group group, Member member) {}

    private final StateDict reference;
    private final StateDict suspect;
    private final Backend backend;
    private final Map<String, List<Use>> uses = new HashMap<>(); // tensor -> every group member on it
    private final Set<String> selected;
    private final Map<String, Integer> versions = new HashMap<>();
    private final PermutationSpec spec;
    private lady.permutation.Nesting nesting; // (built when first asked: a spec of thousands of groups takes a while)

    EvidenceContext(StateDict reference, StateDict suspect, PermutationSpec spec, List<Group> selected,
            Backend backend) {
        this.reference = reference;
        this.suspect = suspect;
        this.backend = backend;
        this.spec = spec;
        for (Group g : spec.groups()) {
            for (Member m : g.members()) {
                uses.computeIfAbsent(m.tensor(), k -> new ArrayList<>()).add(new Use(g, m));
            }
        }
        this.selected = Set.copyOf(selected.stream().map(Group::name).toList());
    }

    /**
     * The groups outside {@code selected} (group names of {@code spec}) that order the slices of a selected group's
     * members ({@link #orderedBy}): a resync of the selection takes them in the suspect's order as they are, so a
     * selected group's evidence is misaligned where the suspect permuted them too. In spec order; empty when every
     * group is selected.
     */
    public static List<String> orderingOutside(PermutationSpec spec, Set<String> selected) {
        List<Group> groups = spec.groups().stream().filter(g -> selected.contains(g.name())).toList();
        EvidenceContext c = new EvidenceContext(null, null, spec, groups, Backend.CPU);
        Set<String> outside = new java.util.HashSet<>();
        for (Group g : groups) {
            for (Member m : g.members()) {
                c.orderedBy(g, m).stream().map(Group::name).filter(n -> !selected.contains(n)).forEach(outside::add);
            }
        }
        return spec.groups().stream().map(Group::name).filter(outside::contains).toList();
    }

    public StateDict reference() {
        return reference;
    }

    /** The suspect as re-ordered so far. */
    public StateDict suspect() {
        return suspect;
    }

    public Backend backend() {
        return backend;
    }

    /**
     * The groups that order the values of member {@code m}'s slices of group {@code g} besides g's neurons
     * themselves: every group with a member on the same tensor on another axis ({@code g} itself when the
     * tensor reads and writes the group: a projection after a depthwise convolution that kept the stream), or
     * on the same axis with a range overlapping m's (nested groups); in spec order, each once.
     */
    public List<Group> orderedBy(Group g, Member m) {
        long length = m.length(g.size());
        List<Group> out = new ArrayList<>();
        for (Use u : uses.getOrDefault(m.tensor(), List.of())) {
            Member o = u.member();
            boolean depends;
            if (o.role() == Role.WHOLE_TENSOR || m.role() == Role.WHOLE_TENSOR) {
                depends = u.group() != g; // the tensor moves whole with a neuron of the other group (an expert)
            } else if (o.axis() != m.axis()) {
                depends = true;
            } else if (u.group() == g) {
                depends = false; // the same neurons on the same axis (q, k and v segments; a tied embedding)
            } else {
                long oLength = o.length(u.group().size());
                depends = o.offset() < m.offset() + length && m.offset() < o.offset() + oLength;
            }
            if (depends && !out.contains(u.group())) {
                out.add(u.group());
            }
        }
        return out;
    }

    /**
     * Whether group {@code g} is in the reference's order in the suspect: true for a group outside the
     * resync (taken as it is) and for a solved group.
     */
    public boolean aligned(Group g) {
        return !selected.contains(g.name()) || version(g.name()) != UNSOLVED;
    }

    /**
     * Whether every group ordering member {@code m}'s slices of group {@code g} that is not aligned yet is nested in
     * {@code g} (and at least one is): the slices are then in the reference's order but for the order of the slots
     * inside each neuron's block that those nested groups permute ({@link #nestedSegments}).
     */
    boolean alignedButNested(Group g, Member m) {
        List<Group> unaligned = orderedBy(g, m).stream().filter(h -> !aligned(h)).toList();
        return !unaligned.isEmpty() && unaligned.stream().allMatch(h -> g.name().equals(nesting().outer(h.name())));
    }

    /**
     * The ranges [start, end) of slots of neuron j's block of member {@code m} (of group {@code g}) that a group nested
     * in g, not aligned yet, permutes among themselves (GPT-2's q/k and v dimensions inside a head: all of a head's
     * slots); relative to the block's start.
     */
    List<long[]> nestedSegments(Group g, Member m, long j) {
        List<long[]> out = new ArrayList<>();
        for (Use u : uses.getOrDefault(m.tensor(), List.of())) {
            Member o = u.member();
            String name = u.group().name();
            if (u.group() == g || o.axis() != m.axis() || aligned(u.group()) || !g.name().equals(nesting().outer(name))
                    || nesting().position(name) != j) {
                continue;
            }
            long start = o.offset() - (m.offset() + j * m.block());
            long end = start + o.length(u.group().size());
            if (start >= 0 && end <= m.block()) {
                out.add(new long[] {start, end});
            }
        }
        return out;
    }

    private lady.permutation.Nesting nesting() {
        if (nesting == null) {
            nesting = lady.permutation.Nesting.of(spec);
        }
        return nesting;
    }

    /** Whether every group ordering member {@code m}'s slices of group {@code g} is aligned ({@link #orderedBy}). */
    public boolean aligned(Group g, Member m) {
        return orderedBy(g, m).stream().allMatch(this::aligned);
    }

    /** Values per neuron of member {@code m} of group {@code g} (the length of its rows; from the reference's shape). */
    long values(Group g, Member m) {
        lady.permutation.MemberSlices.Layout layout = lady.permutation.MemberSlices.layout(reference.shape(m.tensor()), m,
                g.size());
        return layout.outer() * layout.run();
    }

    /** The names of the groups ordering member {@code m}'s slices whose alignment can still change (selected ones). */
    List<String> dependencies(Group g, Member m) {
        return orderedBy(g, m).stream().filter(h -> selected.contains(h.name())).map(Group::name).toList();
    }

    /** The groups ordering the slices of any of {@code g}'s members of {@code role} whose alignment can still change. */
    Set<String> dependencies(Group g, Role role) {
        Set<String> out = new LinkedHashSet<>();
        for (Member m : g.members(role)) {
            out.addAll(dependencies(g, m));
        }
        return out;
    }

    /** How often group {@code name}'s order changed: {@link #UNSOLVED}, 0 once solved, +1 per later correction. */
    int version(String name) {
        return versions.getOrDefault(name, UNSOLVED);
    }

    /** Records that group {@code name} was solved; {@code changed}: its order in the suspect changed again. */
    void solved(String name, boolean changed) {
        int v = version(name);
        versions.put(name, v == UNSOLVED ? 0 : changed ? v + 1 : v);
    }
}
