package lady.permutation;

import java.util.List;

/**
 * A set of {@code size} neurons and every (tensor, axis) that must be permuted with them.
 *
 * @param name    stable name: the producer module for chains ("features.17", "classifier.0"),
 *                a documented name for residual streams (see the architecture's spec)
 * @param size    number of neurons N
 * @param members every tensor that moves with the neurons
 */
public record Group(String name, long size, List<Member> members) {
    public Group {
        members = List.copyOf(members);
    }

    /** Members with the given role, in order. */
    public List<Member> members(Role role) {
        return members.stream().filter(m -> m.role() == role).toList();
    }
}
