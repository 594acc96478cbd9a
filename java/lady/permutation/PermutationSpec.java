package lady.permutation;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The permutation groups of one network, in topological order (a group's producers read only from
 * earlier groups or from the input, except the residual producers resync handles in a second pass),
 * plus the tensors declared fixed (the final classifier's outputs, the first layer's input channels,
 * num_batches_tracked, ...). Derived from the network's graph by lady.graph.ChannelSpaces, or read
 * from a user's spec file ({@link SpecFile}); never found by matching substrings of names.
 *
 * @param architecture the architecture's name
 * @param groups       groups in topological order
 * @param fixed        tensors (or their named axes, {@link SpecValidator#fixedAxis}) no permutation touches
 * @param notes        what the derivation left in place and why (grouped convolutions, unknown operators)
 */
public record PermutationSpec(String architecture, List<Group> groups, Set<String> fixed, List<String> notes) {
    public PermutationSpec {
        groups = List.copyOf(groups);
        fixed = java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(fixed));
        notes = List.copyOf(notes);
    }

    public PermutationSpec(String architecture, List<Group> groups, Set<String> fixed) {
        this(architecture, groups, fixed, List.of());
    }

    public Optional<Group> group(String name) {
        return groups.stream().filter(g -> g.name().equals(name)).findFirst();
    }
}
