package lady.resync;

import java.util.HashMap;
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
 * kernels' backend, and which groups are aligned. Groups are related through their members'
 * roles only: a tensor that is a group's CONSUMER_WEIGHT (axis 1) is the PRODUCER_WEIGHT (axis 0)
 * of the next group.
 */
public final class EvidenceContext {
    /** Version of a group that was not solved yet. */
    static final int UNSOLVED = -1;

    private final StateDict reference;
    private final StateDict suspect;
    private final Backend backend;
    private final Map<String, Group> consumedBy = new HashMap<>(); // tensor -> group it reads (axis 1)
    private final Map<String, Group> producedBy = new HashMap<>(); // tensor -> group it writes (axis 0)
    private final Set<String> selected;
    private final Map<String, Integer> versions = new HashMap<>();

    EvidenceContext(StateDict reference, StateDict suspect, PermutationSpec spec, List<Group> selected,
            Backend backend) {
        this.reference = reference;
        this.suspect = suspect;
        this.backend = backend;
        for (Group g : spec.groups()) {
            g.members(Role.CONSUMER_WEIGHT).forEach(m -> consumedBy.put(m.tensor(), g));
            g.members(Role.PRODUCER_WEIGHT).forEach(m -> producedBy.put(m.tensor(), g));
        }
        this.selected = Set.copyOf(selected.stream().map(Group::name).toList());
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

    /** The group whose neurons {@code producer}'s tensor reads along its input axis; null for the network's input. */
    public Group inputGroup(Member producer) {
        return consumedBy.get(producer.tensor());
    }

    /** The group whose neurons {@code consumer}'s tensor writes (its rows); null when they are fixed (the outputs). */
    public Group outputGroup(Member consumer) {
        return producedBy.get(consumer.tensor());
    }

    /**
     * Whether group {@code g} is in the reference's order in the suspect: true for null (the input
     * or the fixed outputs), for a group outside the resync (taken as it is), and for a solved group.
     */
    public boolean aligned(Group g) {
        return g == null || !selected.contains(g.name()) || version(g.name()) != UNSOLVED;
    }

    /** The name of {@code g} when its alignment can still change in this resync (a selected group), else null. */
    String dependency(Group g) {
        return g != null && selected.contains(g.name()) ? g.name() : null;
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
