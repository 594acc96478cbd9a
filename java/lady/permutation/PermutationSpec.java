package lady.permutation;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The permutation groups of one architecture, in topological order (a group's producers read
 * only from earlier groups or from the input), plus the tensors declared fixed (the final
 * classifier's outputs, the first layer's input channels, num_batches_tracked, ...).
 * Derived from the typed architecture description, never by matching substrings of names.
 *
 * @param architecture the architecture's name
 * @param groups       groups in topological order
 * @param fixed        tensors (or their named axes) that no permutation touches
 */
public record PermutationSpec(String architecture, List<Group> groups, Set<String> fixed) {
    public PermutationSpec {
        groups = List.copyOf(groups);
        fixed = Set.copyOf(fixed);
    }

    public Optional<Group> group(String name) {
        return groups.stream().filter(g -> g.name().equals(name)).findFirst();
    }
}
