package lady.resync;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import lady.checkpoint.StateDict;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.permutation.Role;
import lady.tensor.HostTensor;

/**
 * The neurons' own values (method.md section 4, "More evidence"): a producer's bias, a batch norm's
 * weight, bias, running mean and running variance (a layer norm's or RMS norm's weight and bias), a
 * depthwise convolution's per-channel filter and bias, and the parameters added into the neurons (a
 * class token, a position embedding), as one short vector per neuron. They are indexed by the group
 * alone ({@link #ROLES}), so they are usable at once. Each value is standardized over the group's
 * neurons in each model separately (zero mean, unit variance: a permutation leaves both unchanged, and
 * no value outweighs another by its units); a value that is constant over the reference's neurons
 * tells nothing and is left out.
 */
final class NeuronVectors implements Evidence {
    static final String NAME = "neuron_vectors";

    /** The roles whose slices belong to the group's neurons alone. */
    static final Set<Role> ROLES = Set.of(Role.PRODUCER_BIAS, Role.NORM_WEIGHT, Role.NORM_BIAS, Role.RUNNING_MEAN,
            Role.RUNNING_VAR, Role.CHANNEL_WEIGHT, Role.CHANNEL_BIAS, Role.PARAMETER);

    /** The group's members of {@link #ROLES}, in spec order. */
    private static List<Member> members(Group g) {
        return g.members().stream().filter(m -> ROLES.contains(m.role())).toList();
    }

    @Override
    public Set<String> dependencies(Group g, EvidenceContext context) {
        Set<String> out = new LinkedHashSet<>();
        for (Member m : members(g)) {
            out.addAll(context.dependencies(g, m));
        }
        return out;
    }

    @Override
    public String name() {
        return NAME;
    }

    /** At most: a value constant over the reference's neurons is left out of the contribution. */
    @Override
    public long dimension(Group g, EvidenceContext context) {
        return members(g).stream().filter(m -> context.aligned(g, m)).mapToLong(m -> context.values(g, m)).sum();
    }

    @Override
    public List<Contribution> contributions(Group g, EvidenceContext context) {
        List<Member> members = members(g).stream().filter(m -> context.aligned(g, m)).toList();
        int n = Math.toIntExact(g.size());
        Set<String> dependencies = new LinkedHashSet<>();
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
            dependencies.addAll(context.dependencies(g, m));
        }
        if (ref.isEmpty()) {
            return List.of();
        }
        int k = ref.size();
        RowPair rows = RowPair.of(HostTensor.ofFloats(interleave(ref, n), n, k), HostTensor.ofFloats(interleave(sus, n), n, k));
        return List.of(new Contribution(NAME, String.join("+", names), k, rows, null, List.copyOf(dependencies)));
    }

    private static float[] columns(StateDict state, Member m, int n) {
        return MemberSlices.rows(state.get(m.tensor()), m, n).readFloats();
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
