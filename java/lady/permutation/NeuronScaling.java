package lady.permutation;

import java.nio.FloatBuffer;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;


import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.util.Seeds;

/**
 * The function-preserving scaling attack (method.md 7, beyond the paper): every neuron {@code i}
 * of a group gets a positive factor {@code a_i}; its producer rows (weight and bias) are
 * multiplied by {@code a_i}, which cosine matching cannot see. The function is kept as follows.
 *
 * <ul>
 * <li><b>No batch norm after the producers</b>: the consumer columns of neuron {@code i} (its
 * block, for conv -> flatten -> linear) are divided by {@code a_i}. Exact because ReLU, max pool,
 * average pool and flatten commute with a positive per-channel factor: {@code relu(a z) = a relu(z)}.
 * <li><b>Batch norm after every producer</b> (VGG16-BN, ResNet18, including residual streams whose
 * writers all end in BN): in eval mode BN computes {@code gamma (z - mean) / sqrt(var + eps) +
 * beta} with FIXED running statistics, so scaling the producer ({@code z -> a z}) is NOT undone by
 * BN by itself. It is undone exactly when {@code running_mean -> a mean} and {@code running_var ->
 * a^2 (var + eps) - eps}: then {@code (a z - a mean) / sqrt(a^2 (var + eps)) = (z - mean) / sqrt(var
 * + eps)}, BN's output is unchanged and the consumers stay untouched; gamma and beta are not scaled
 * (scaling them instead, with the consumer compensated, would leave the producer rows unchanged,
 * which is not this attack). {@code eps} is PyTorch's default {@link #BN_EPS}, which every Lady
 * architecture uses. A factor that would make a running variance negative (a tiny variance and
 * {@code a < 1}) is refused with a clear message. In training mode BN uses batch statistics, which
 * scale with {@code a} too, so the function is preserved up to eps there as well.
 * <li>A group mixing producers with and without BN is refused.
 * </ul>
 * Factors are indexed by ORIGINAL neuron and applied before any permutation (the secret file records
 * them that way). Only float32 tensors are supported.
 */
public final class NeuronScaling {
    private NeuronScaling() {}

    /** BatchNorm's eps (PyTorch's default; Lady's architectures build BatchNorm2d with it). */
    public static final double BN_EPS = 1e-5;

    /**
     * Random factors for each named group, log-uniform in {@code [lo, hi]}, a pure function of
     * {@code seed} and the group's name.
     */
    public static Map<String, double[]> random(PermutationSpec spec, Collection<String> groups, double lo, double hi,
            long seed) {
        if (!(lo > 0) || !(hi >= lo) || Double.isInfinite(hi)) {
            throw new LadyException(LadyException.Kind.USAGE,
                    "scale range must satisfy 0 < lo <= hi, got " + lo + ":" + hi);
        }
        Map<String, double[]> scales = new LinkedHashMap<>();
        for (String name : groups) {
            Group g = Permuter.group(spec, name);
            SplittableRandom rng = new SplittableRandom(Seeds.derive(seed, "scale:" + name));
            double[] a = new double[Math.toIntExact(g.size())];
            double l = Math.log(lo), h = Math.log(hi);
            for (int i = 0; i < a.length; i++) {
                a[i] = lo == hi ? lo : Math.exp(l + (h - l) * rng.nextDouble());
            }
            scales.put(name, a);
        }
        return scales;
    }

    /** Applies {@code scales} (group name -> factor per original neuron) to {@code state}, in place. */
    public static void apply(StateDict state, PermutationSpec spec, Map<String, double[]> scales) {
        // validate everything first, so that a refusal leaves the state untouched
        for (Map.Entry<String, double[]> e : scales.entrySet()) {
            check(state, spec, e.getKey(), e.getValue());
        }
        for (Map.Entry<String, double[]> e : scales.entrySet()) {
            Group g = Permuter.group(spec, e.getKey());
            double[] a = e.getValue();
            boolean bn = !runningVars(g).isEmpty();
            for (Member m : g.members()) {
                switch (m.role()) {
                    case PRODUCER_WEIGHT, PRODUCER_BIAS -> scaleAxis(state.writable(m.tensor()), m, a, false);
                    case CONSUMER_WEIGHT -> {
                        if (!bn) {
                            scaleAxis(state.writable(m.tensor()), m, a, true);
                        }
                    }
                    case RUNNING_MEAN -> scaleAxis(state.writable(m.tensor()), m, a, false);
                    case RUNNING_VAR -> {
                        FloatBuffer v = floats(state.writable(m.tensor()), m.tensor());
                        for (int i = 0; i < a.length; i++) {
                            int k = Math.toIntExact(m.offset() + i);
                            v.put(k, (float) (a[i] * a[i] * (v.get(k) + BN_EPS) - BN_EPS));
                        }
                    }
                    case NORM_WEIGHT, NORM_BIAS -> {
                        // batch norm renormalizes the scaled rows: its affine parameters stay as they are
                    }
                    default -> throw LadyException.invalidInput(String.format("group '%s': scaling does not support "
                            + "member '%s' (%s)", g.name(), m.tensor(), m.role().key()));
                }
            }
        }
    }

    private static List<Member> runningVars(Group g) {
        return g.members(Role.RUNNING_VAR);
    }

    private static void check(StateDict state, PermutationSpec spec, String name, double[] a) {
        Group g = Permuter.group(spec, name);
        if (a.length != g.size()) {
            throw LadyException.invalidInput(String.format("group '%s' has %d neurons but %d scale factors", name,
                    g.size(), a.length));
        }
        for (int i = 0; i < a.length; i++) {
            if (!(a[i] > 0) || Double.isInfinite(a[i])) {
                throw LadyException.invalidInput(String.format(
                        "group '%s': scale factor %d is %s; scaling preserves the function only for finite factors > 0",
                        name, i, a[i]));
            }
        }
        for (Member m : g.members()) {
            floats(state.get(m.tensor()), m.tensor());
        }
        List<Member> vars = runningVars(g);
        int producers = g.members(Role.PRODUCER_WEIGHT).size();
        if (!vars.isEmpty() && vars.size() != producers) {
            throw LadyException.invalidInput(String.format(
                    "group '%s' has %d producers but %d batch norms: scaling a group that mixes producers with and "
                            + "without batch norm is not supported",
                    name, producers, vars.size()));
        }
        for (Member m : vars) {
            FloatBuffer v = floats(state.get(m.tensor()), m.tensor());
            for (int i = 0; i < a.length; i++) {
                double nv = a[i] * a[i] * (v.get(Math.toIntExact(m.offset() + i)) + BN_EPS) - BN_EPS;
                if (nv < 0) {
                    throw LadyException.invalidInput(String.format(
                            "group '%s': scaling neuron %d by %.4g would make %s negative (variance %.3g is below eps "
                                    + "* (1/a^2 - 1)); use a scale range with a larger lower bound",
                            name, i, a[i], m.tensor(), v.get(Math.toIntExact(m.offset() + i))));
                }
            }
        }
    }

    /** Multiplies (or divides) neuron i's slice of member {@code m} (its axis, offset and block) by a[i]. */
    private static void scaleAxis(HostTensor t, Member m, double[] a, boolean divide) {
        int axis = m.axis();
        long block = m.block();
        long[] shape = t.shape();
        FloatBuffer f = floats(t, "tensor");
        long outer = 1;
        for (int d = 0; d < axis; d++) {
            outer *= shape[d];
        }
        long inner = 1;
        for (int d = axis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        long axisLength = shape[axis];
        int n = a.length;
        for (long o = 0; o < outer; o++) {
            for (int i = 0; i < n; i++) {
                float s = (float) (divide ? 1.0 / a[i] : a[i]);
                int base = Math.toIntExact((o * axisLength + m.offset() + (long) i * block) * inner);
                for (long r = 0; r < inner * block; r++) {
                    int k = base + (int) r;
                    f.put(k, f.get(k) * s);
                }
            }
        }
    }

    private static FloatBuffer floats(HostTensor t, String name) {
        if (t.dtype() != DType.FLOAT32) {
            throw LadyException.invalidInput("scaling supports float32 tensors only; '" + name + "' is "
                    + t.dtype().name().toLowerCase(java.util.Locale.ROOT));
        }
        return t.floats();
    }
}
