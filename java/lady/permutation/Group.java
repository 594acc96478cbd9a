package lady.permutation;

import java.util.Arrays;
import java.util.List;

/**
 * A set of {@code size} neurons and every (tensor, axis, range) that must be permuted with them.
 *
 * @param name    stable name: the producer module for chains ("features.17", "classifier.0"), the
 *                stream name for residual streams ("stream.layer1"), the attention module plus
 *                ".heads" for attention heads (see lady.graph.ChannelSpaces for the rules)
 * @param size    number of neurons N
 * @param members every tensor range that moves with the neurons
 */
public record Group(String name, long size, List<Member> members) {
    public Group {
        members = List.copyOf(members);
    }

    /** Members with any of the given roles, in order. */
    public List<Member> members(Role... roles) {
        List<Role> wanted = Arrays.asList(roles);
        return members.stream().filter(m -> wanted.contains(m.role())).toList();
    }
}
