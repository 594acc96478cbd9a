package lady.resync;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Role;

/**
 * The paper's evidence (method.md section 4): each producer's weight rows (a conv's filter, a
 * Linear's row, the q/k/v rows of an attention head, a token embedding's column), one contribution per
 * producer whose input groups are aligned ({@link EvidenceContext#aligned(Group, Member)}). A residual
 * stream's producers that read a later group (a block's conv2 reads the block-internal group) join once
 * that group is solved; so does a producer that reads its own group (a projection after a depthwise
 * convolution that kept the stream: its columns are in the suspect's order until the group itself is
 * solved). When none of a group's producers is aligned yet, every producer is compared as it is (best
 * effort) and the group is solved again once its inputs are aligned.
 */
final class ProducerRows implements Evidence {
    static final String NAME = "producer_rows";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Contribution> contributions(Group g, EvidenceContext context) {
        List<Contribution> out = new ArrayList<>();
        for (Member m : compared(g, context)) {
            out.add(Contribution.member(NAME, m, context, g.size(), context.dependencies(g, m)));
        }
        return out;
    }

    @Override
    public long dimension(Group g, EvidenceContext context) {
        return compared(g, context).stream().mapToLong(m -> context.values(g, m)).sum();
    }

    /** The producers compared now: those whose input groups are aligned, or every one when none is. */
    private static List<Member> compared(Group g, EvidenceContext context) {
        List<Member> all = g.members(Role.PRODUCER_WEIGHT);
        List<Member> aligned = all.stream().filter(m -> context.aligned(g, m)).toList();
        return aligned.isEmpty() ? all : aligned;
    }

    @Override
    public Set<String> dependencies(Group g, EvidenceContext context) {
        return context.dependencies(g, Role.PRODUCER_WEIGHT);
    }
}
