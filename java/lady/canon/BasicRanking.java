package lady.canon;

import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Role;
import lady.resync.MemberSums;

/**
 * Basic ranking (method.md section 5): the score of neuron n of a group is the signed sum of all its
 * producer weights (every PRODUCER_WEIGHT member of the group: one row per neuron; a residual stream
 * sums the rows of all its producers). Biases and normalization are not part of it.
 *
 * <p>The sum is taken in double and rounded once to float32 (the scores the native sort ranks), so
 * it does not depend, beyond double rounding, on the order of the neuron's inputs: permuting an
 * earlier group (the consumer columns of this group's producers) leaves the scores as they are. The
 * members are read where they lie ({@link MemberSums}): float32, bfloat16 or float16, without a copy.
 */
public final class BasicRanking {
    private BasicRanking() {}

    /** The score of each of the group's neurons in {@code state}. */
    public static float[] scores(StateDict state, Group group) {
        return rounded(sums(state, group));
    }

    /** The scores before their rounding to float32: the sums in double. */
    static double[] sums(StateDict state, Group group) {
        int n = Math.toIntExact(group.size());
        double[] acc = new double[n];
        for (Member m : group.members(Role.PRODUCER_WEIGHT)) { // read in place: no float32 copy of a member
            MemberSums.accumulate(state, m, n, acc);
        }
        return acc;
    }

    private static float[] rounded(double[] sums) {
        float[] scores = new float[sums.length];
        for (int i = 0; i < sums.length; i++) {
            scores[i] = (float) sums[i];
        }
        return scores;
    }

    /**
     * The group's basic canonical order: by float32 score, descending (the native sort), and neurons with equal
     * float32 scores by their sums in double, descending, then by lower index. Thousands of units (a Llama MLP's 14336)
     * have pairs of equal float32 scores; two copies of a model would otherwise order such a pair by its positions.
     */
    static LayerOrder rank(StateDict state, Group group) {
        double[] exact = sums(state, group);
        float[] scores = rounded(exact);
        int[] order = Canon.order(scores).toArray();
        for (int k = 0; k < order.length;) {
            int e = k + 1;
            while (e < order.length && scores[order[e]] == scores[order[k]]) {
                e++;
            }
            if (e - k > 1) { // a run of equal float32 scores: by the exact sums, then by index
                Integer[] run = new Integer[e - k];
                for (int i = k; i < e; i++) {
                    run[i - k] = order[i];
                }
                java.util.Arrays.sort(run, (a, b) -> exact[a] != exact[b] ? Double.compare(exact[b], exact[a])
                        : Integer.compare(a, b));
                for (int i = k; i < e; i++) {
                    order[i] = run[i - k];
                }
            }
            k = e;
        }
        return new LayerOrder(group.name(), scores, lady.permutation.Permutation.of(order), null, exact);
    }
}
