package lady.resync;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Role;
import lady.tensor.HostTensor;

/**
 * The paper's evidence (method.md section 4): each producer's weight rows (a conv's filter, a
 * Linear's row, the q/k/v rows of an attention head, a token embedding's column), one contribution per
 * producer whose input groups are aligned ({@link EvidenceContext#aligned(Group, Member)}). A residual
 * stream's producers that read a later group (a block's conv2 reads the block-internal group) join once
 * that group is solved; so does a producer that reads its own group (a projection after a depthwise
 * convolution that kept the stream: its columns are in the suspect's order until the group itself is
 * solved). When none of a group's producers is aligned yet, every producer is compared as it is (best
 * effort; with its slots sorted where only groups nested in it scramble them: {@link #sortedSlots}) and the group
 * is solved again once its inputs are aligned.
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
        boolean none = g.members(Role.PRODUCER_WEIGHT).stream().noneMatch(m -> context.aligned(g, m));
        for (Member m : compared(g, context)) {
            out.add(none && context.alignedButNested(g, m) ? sortedSlots(g, m, context)
                    : Contribution.member(NAME, m, context, g.size(), context.dependencies(g, m)));
        }
        return out;
    }

    /**
     * Member {@code m}'s rows with the slots that groups nested in g (not solved yet) permute sorted, value by value:
     * a head's rows when the dimensions inside it are permuted too (GPT-2: no rotary embedding pins them, so every
     * producer row of a head is scrambled until the head is matched). A nested permutation moves a neuron's slots
     * among themselves, so the sorted values at each position of the other axes do not depend on it; they compare
     * the neurons where the rows as they are would not (the group is solved again once the nested groups are).
     */
    private static Contribution sortedSlots(Group g, Member m, EvidenceContext context) {
        long n = g.size();
        List<List<long[]>> segments = new ArrayList<>();
        for (int j = 0; j < n; j++) {
            segments.add(context.nestedSegments(g, m, j));
        }
        HostTensor[] rows = new HostTensor[2];
        for (int side = 0; side < 2; side++) {
            float[] v = lady.permutation.MemberSlices.rows((side == 0 ? context.reference() : context.suspect())
                    .indexed(m.tensor()), m, n).readFloats(); // (a copy: the rows may be a view of the tensor)
            int d = v.length / (int) n;
            int across = d / (int) m.block(); // values per slot (the other axes): a neuron's row is [block, across]
            lady.util.Parallel.forEach((int) n, j -> {
                for (long[] seg : segments.get(j)) { // slots [seg[0], seg[1]): each position's run sorted
                    lady.util.SortingNetwork.sortColumns(v, j * d + (int) seg[0] * across, (int) (seg[1] - seg[0]),
                            across);
                }
            });
            rows[side] = HostTensor.ofFloats(v, n, d);
        }
        return new Contribution(NAME, m.tensor(), rows[0].size(1), RowPair.of(rows[0], rows[1]), null,
                context.dependencies(g, m));
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
