package lady.structure;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.graph.StructuralRules;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;
import lady.permutation.Permuter;
import lady.util.Seeds;

/**
 * The function-preserving scaling attack (method.md 7, beyond the paper; symmetries.md): every neuron
 * {@code i} of a group gets a positive factor {@code a_i}; its producer rows and bias are multiplied by
 * {@code a_i}, which cosine matching cannot see. How the function is kept is the graph's business
 * ({@link StructuralRules}):
 * <ul>
 * <li><b>no batch norm in the group</b>: the consumer columns of neuron {@code i} (its block, for conv ->
 * flatten -> linear) are divided by {@code a_i}; exact when the neurons reach their consumers through
 * positively homogeneous operations only (ReLU, pooling, flatten, additions of the group's own producers);
 * a group whose neurons pass through GELU, SiLU, a layer norm... is refused with the reason;</li>
 * <li><b>a batch norm after every producer</b> (VGG16-BN, ResNet, residual streams included): in eval mode
 * the batch norm computes {@code gamma (z - mean) / sqrt(var + eps) + beta} with fixed running statistics,
 * so {@code running_mean -> a mean} and {@code running_var -> a^2 (var + eps) - eps} leave its output
 * unchanged, whatever follows; the consumers stay untouched. A factor that would make a running variance
 * negative (a tiny variance and {@code a < 1}) is refused. In training mode batch norm uses batch
 * statistics, which scale with {@code a} too.</li>
 * </ul>
 * Factors are indexed by the group's neurons as they are when applied.
 */
public final class NeuronScaling {
    private NeuronScaling() {}

    /**
     * Random factors for each named group, log-uniform in {@code [lo, hi]}, a pure function of {@code seed}
     * and the group's name.
     */
    public static Map<String, double[]> random(PermutationSpec spec, Collection<String> groups, double lo, double hi,
            long seed) {
        if (!(lo > 0) || !(hi >= lo) || Double.isInfinite(hi)) {
            throw new LadyException(LadyException.Kind.USAGE, "scale range must satisfy 0 < lo <= hi, got " + lo + ":" + hi);
        }
        Map<String, double[]> scales = new LinkedHashMap<>();
        for (String name : groups) {
            Group g = Permuter.group(spec, name);
            SplittableRandom rng = new SplittableRandom(Seeds.derive(seed, "scale:" + name));
            double[] a = new double[Math.toIntExact(g.size())];
            double l = Math.log(lo);
            double h = Math.log(hi);
            for (int i = 0; i < a.length; i++) {
                a[i] = lo == hi ? lo : Math.exp(l + (h - l) * rng.nextDouble());
            }
            scales.put(name, a);
        }
        return scales;
    }

    /**
     * Applies {@code scales} (group name -> factor per neuron) to {@code state} in place. Everything is checked
     * first, so a refusal leaves the state untouched.
     *
     * @return the tensors rewritten
     */
    public static List<String> apply(StateDict state, NetworkView view, Map<String, double[]> scales) {
        for (Map.Entry<String, double[]> e : scales.entrySet()) {
            check(state, view, e.getKey(), e.getValue());
        }
        Set<String> changed = new LinkedHashSet<>();
        for (Map.Entry<String, double[]> e : scales.entrySet()) {
            Group g = view.group(e.getKey());
            StructuralRules.Rule rule = view.rule(e.getKey());
            double[] a = e.getValue();
            boolean compensated = rule.scaling() == StructuralRules.Scaling.COMPENSATED;
            int producers = rule.producers().size();
            List<GroupEdit.Neuron> neurons = new ArrayList<>();
            for (int j = 0; j < a.length; j++) {
                double[] f = new double[producers];
                java.util.Arrays.fill(f, a[j]);
                neurons.add(new GroupEdit.Neuron(j, f, 1, new int[] {j}, new double[] {compensated ? 1 / a[j] : 1},
                        Map.of(), Map.of()));
            }
            changed.addAll(GroupEdit.apply(state, g, rule, neurons));
        }
        return new ArrayList<>(changed);
    }

    private static void check(StateDict state, NetworkView view, String name, double[] a) {
        Group g = view.group(name);
        StructuralRules.Rule rule = view.rule(name);
        rule.requireScaling("scale");
        if (a.length != g.size()) {
            throw LadyException.invalidInput(String.format("group '%s' has %d neurons but %d scale factors", name, g.size(),
                    a.length));
        }
        for (int i = 0; i < a.length; i++) {
            if (!(a[i] > 0) || Double.isInfinite(a[i])) {
                throw LadyException.invalidInput(String.format(
                        "group '%s': scale factor %d is %s; scaling preserves the function only for finite factors > 0",
                        name, i, a[i]));
            }
        }
        if (rule.scaling() != StructuralRules.Scaling.ABSORBED) {
            return;
        }
        for (StructuralRules.Producer p : rule.producers()) {
            float[] v = Floats.read(state, p.runningVar());
            long offset = g.members().stream().filter(m -> m.tensor().equals(p.runningVar())).findFirst().orElseThrow()
                    .offset();
            for (int i = 0; i < a.length; i++) {
                float var = v[Math.toIntExact(offset + i)];
                double nv = a[i] * a[i] * (var + p.eps()) - p.eps();
                if (nv < 0) {
                    throw LadyException.invalidInput(String.format(
                            "group '%s': scaling neuron %d by %.4g would make %s negative (variance %.3g is below eps "
                                    + "* (1/a^2 - 1)); use a scale range with a larger lower bound",
                            name, i, a[i], p.runningVar(), var));
                }
            }
        }
    }
}
