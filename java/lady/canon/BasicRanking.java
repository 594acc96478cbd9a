package lady.canon;

import java.nio.FloatBuffer;

import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.permutation.Role;
import lady.tensor.HostTensor;

/**
 * Basic ranking (method.md section 5): the score of neuron n of a group is the signed sum of all its
 * producer weights (every PRODUCER_WEIGHT member of the group: one row per neuron; a residual stream
 * sums the rows of all its producers). Biases and normalization are not part of it.
 *
 * <p>The sum is taken in double and rounded once to float32 (the scores the native sort ranks), so
 * it does not depend, beyond double rounding, on the order of the neuron's inputs: permuting an
 * earlier group (the consumer columns of this group's producers) leaves the scores as they are.
 */
public final class BasicRanking {
    private BasicRanking() {}

    /** The score of each of the group's neurons in {@code state}. */
    public static float[] scores(StateDict state, Group group) {
        int n = Math.toIntExact(group.size());
        double[] acc = new double[n];
        for (Member m : group.members(Role.PRODUCER_WEIGHT)) {
            HostTensor rows = MemberSlices.rows(state.get(m.tensor()), m, n);
            long d = rows.numel() / Math.max(n, 1);
            for (int i = 0; i < n; i++) {
                FloatBuffer row = rows.bytes(i * d * 4, Math.toIntExact(d * 4)).asFloatBuffer();
                double sum = 0;
                for (int k = 0; k < d; k++) {
                    sum += row.get(k);
                }
                acc[i] += sum;
            }
            java.lang.ref.Reference.reachabilityFence(rows);
        }
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) {
            scores[i] = (float) acc[i];
        }
        return scores;
    }
}
