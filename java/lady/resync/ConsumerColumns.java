package lady.resync;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Role;

/**
 * The consumers' columns (method.md section 4, "More evidence"): neuron j of a group is also
 * everything its consumers read from it, the slice {@code W[:, j]} of each consumer weight (a conv's
 * 576 values for a 64-filter 3 x 3 consumer, where the producer's own first-layer rows hold 27; a block
 * of columns after a flatten, the columns at a concatenation's offset, an attention output projection's
 * head_dim columns). A column's entries are ordered by the consumer's own output neurons, so it is
 * comparable only once that output group is aligned ({@link EvidenceContext#aligned(Group, Member)}): the
 * classifier's columns at once (its outputs are fixed), the others in the resync's second pass.
 */
final class ConsumerColumns implements Evidence {
    static final String NAME = "consumer_columns";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Contribution> contributions(Group g, EvidenceContext context) {
        List<Contribution> out = new ArrayList<>();
        for (Member m : g.members(Role.CONSUMER_WEIGHT)) {
            if (context.aligned(g, m)) {
                out.add(Contribution.member(NAME, m, context, g.size(), context.dependencies(g, m)));
            }
        }
        return out;
    }

    @Override
    public long dimension(Group g, EvidenceContext context) {
        return g.members(Role.CONSUMER_WEIGHT).stream().filter(m -> context.aligned(g, m))
                .mapToLong(m -> context.values(g, m)).sum();
    }

    @Override
    public Set<String> dependencies(Group g, EvidenceContext context) {
        return context.dependencies(g, Role.CONSUMER_WEIGHT);
    }
}
