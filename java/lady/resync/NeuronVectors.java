package lady.resync;

import java.util.ArrayList;
import java.util.List;

import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Role;
import lady.torch.FloatTensors;

/**
 * The neurons' own scalars (method.md section 4, "More evidence"): a producer's bias and the batch
 * norm's weight, bias, running mean and running variance, as one short vector per neuron. They are
 * indexed by the group alone, so they are usable at once. Each scalar is standardized over the
 * group's neurons in each model separately (zero mean, unit variance: a permutation leaves both
 * unchanged, and no scalar outweighs another by its units); a scalar that is constant over the
 * reference's neurons tells nothing and is left out.
 */
final class NeuronVectors implements Evidence {
    static final String NAME = "neuron_vectors";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Contribution> contributions(Group g, EvidenceContext context) {
        List<Member> members = new ArrayList<>(g.members(Role.PRODUCER_BIAS));
        members.addAll(g.members(Role.NORM));
        int n = Math.toIntExact(g.size());
        List<float[]> ref = new ArrayList<>();
        List<float[]> sus = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Member m : members) {
            float[] a = columns(context.reference(), m, n);
            float[] b = columns(context.suspect(), m, n);
            int per = a.length / n;
            for (int c = 0; c < per; c++) {
                float[] ca = standardized(a, per, c, n);
                if (ca == null) {
                    continue; // constant over the reference's neurons: no information
                }
                float[] cb = standardized(b, per, c, n);
                ref.add(ca);
                sus.add(cb == null ? new float[n] : cb);
            }
            names.add(m.tensor());
        }
        if (ref.isEmpty()) {
            return List.of();
        }
        int k = ref.size();
        return List.of(Contribution.rows(NAME, String.join("+", names), FloatTensors.of(interleave(ref, n), n, k),
                FloatTensors.of(interleave(sus, n), n, k)));
    }

    private static float[] columns(StateDict state, Member m, int n) {
        return FloatTensors.read(NeuronSlices.rows(state.get(m.tensor()), m, n));
    }

    /** Column c of an n x per matrix, standardized over the n rows; null when it is constant. */
    private static float[] standardized(float[] rows, int per, int c, int n) {
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += rows[i * per + c];
        }
        mean /= n;
        double ss = 0;
        for (int i = 0; i < n; i++) {
            double d = rows[i * per + c] - mean;
            ss += d * d;
        }
        double std = Math.sqrt(ss / n);
        if (!(std > 0)) {
            return null;
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) ((rows[i * per + c] - mean) / std);
        }
        return out;
    }

    /** k columns of length n as an n x k row-major matrix. */
    private static float[] interleave(List<float[]> cols, int n) {
        int k = cols.size();
        float[] out = new float[n * k];
        for (int c = 0; c < k; c++) {
            float[] col = cols.get(c);
            for (int i = 0; i < n; i++) {
                out[i * k + c] = col[i];
            }
        }
        return out;
    }
}
