package lady.structure;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.graph.StructuralRules;
import lady.permutation.Group;
import lady.permutation.Member;

/**
 * Adds neurons to a group without changing its function (the widening half of neural structural obfuscation,
 * Yan et al., USENIX Security 2023), appended after the group's neurons:
 * <ul>
 *   <li><b>dummy pairs</b>: two neurons with the same fresh incoming weights (so the same activation, whatever
 *       the activation function) and consumer columns {@code c} and {@code -c}: their contributions cancel;</li>
 *   <li><b>splits</b>: a copy of neuron k (same incoming weights and batch-norm vectors); k keeps {@code lambda}
 *       of its consumer columns and the copy gets {@code 1 - lambda}.</li>
 * </ul>
 * Every producer row, bias and batch-norm vector gets the new entries and every consumer the new columns (a
 * residual stream: every producer of the stream, identically). Groups whose rule refuses widening
 * ({@link StructuralRules.Rule#wideningRefusal()}) are refused with that reason.
 */
public final class Widening {
    private Widening() {}

    /** Where a dummy's fresh values come from: {@code length} values for a slice of {@code tensor}. */
    @FunctionalInterface
    public interface Draw {
        /**
         * @param tensor       the producer weight, bias or consumer tensor the slice belongs to
         * @param tensorValues all of that tensor's current values (for their scale)
         * @param length       values wanted
         */
        double[] values(String tensor, float[] tensorValues, int length);
    }

    /**
     * What a widening did.
     *
     * @param tensors the tensors rewritten
     * @param before  neurons before
     * @param after   neurons after
     */
    public record Widened(List<String> tensors, int before, int after) {}

    /**
     * Appends {@code pairs} dummy pairs to group {@code name}. Each pair's incoming weights, bias and columns
     * are drawn from {@code draw} (rows first, per producer weight then bias, then columns per consumer, in
     * member order); its batch-norm vectors (if any) are those of neuron {@code normSource.applyAsInt(pair)}.
     */
    public static Widened dummies(StateDict state, NetworkView view, String name, int pairs, IntUnaryOperator normSource,
            Draw draw) {
        Group g = view.group(name);
        StructuralRules.Rule rule = view.rule(name);
        rule.requireWidening("dummy");
        NeuronGroup d = new NeuronGroup(state, g, rule);
        List<GroupEdit.Neuron> neurons = identity(d.n);
        for (int k = 0; k < pairs; k++) {
            Map<String, double[]> rows = new LinkedHashMap<>();
            for (NeuronGroup.ProducerData p : d.producers) {
                Slices w = d.of(p.weight());
                rows.put(p.producer().weight(), draw.values(p.producer().weight(), w.data, w.sliceLength()));
                if (p.bias() != null) {
                    rows.put(p.producer().bias(), draw.values(p.producer().bias(), d.of(p.bias()).data, 1));
                }
            }
            Map<String, double[]> plus = new LinkedHashMap<>();
            Map<String, double[]> minus = new LinkedHashMap<>();
            for (Member cm : d.consumers) {
                Slices cs = d.of(cm);
                double[] c = draw.values(cm.tensor(), cs.data, cs.sliceLength());
                double[] m = new double[c.length];
                for (int i = 0; i < c.length; i++) {
                    m[i] = -c[i];
                }
                plus.put(cm.tensor(), c);
                minus.put(cm.tensor(), m);
            }
            int source = normSource.applyAsInt(k);
            if (source < 0 || source >= d.n) {
                throw new LadyException(LadyException.Kind.INTERNAL, "dummy: batch-norm source " + source + " out of range");
            }
            neurons.add(new GroupEdit.Neuron(source, null, 1, new int[0], new double[0], rows, plus));
            neurons.add(new GroupEdit.Neuron(source, null, 1, new int[0], new double[0], rows, minus));
        }
        List<String> tensors = GroupEdit.apply(state, g, rule, neurons);
        return new Widened(tensors, d.n, neurons.size());
    }

    /**
     * Appends one copy of each neuron of {@code sources} to group {@code name}; neuron {@code sources[k]} keeps
     * {@code shares[k]} of its consumer columns and its copy gets the rest. A neuron listed twice is split in
     * three, and so on (each share applies to what is left).
     */
    public static Widened splits(StateDict state, NetworkView view, String name, int[] sources, double[] shares) {
        if (sources.length != shares.length) {
            throw new LadyException(LadyException.Kind.INTERNAL, "split: one share per source");
        }
        Group g = view.group(name);
        StructuralRules.Rule rule = view.rule(name);
        rule.requireWidening("split");
        int n = Math.toIntExact(g.size());
        double[] kept = new double[n];
        java.util.Arrays.fill(kept, 1);
        List<GroupEdit.Neuron> copies = new ArrayList<>();
        for (int k = 0; k < sources.length; k++) {
            int s = sources[k];
            if (s < 0 || s >= n) {
                throw new LadyException(LadyException.Kind.INTERNAL, "split: source " + s + " out of range");
            }
            double copyShare = kept[s] * (1 - shares[k]);
            kept[s] *= shares[k];
            copies.add(new GroupEdit.Neuron(s, null, 1, new int[] {s}, new double[] {copyShare}, Map.of(), Map.of()));
        }
        List<GroupEdit.Neuron> neurons = new ArrayList<>();
        for (int j = 0; j < n; j++) {
            neurons.add(new GroupEdit.Neuron(j, null, 1, new int[] {j}, new double[] {kept[j]}, Map.of(), Map.of()));
        }
        neurons.addAll(copies);
        List<String> tensors = GroupEdit.apply(state, g, rule, neurons);
        return new Widened(tensors, n, neurons.size());
    }

    private static List<GroupEdit.Neuron> identity(int n) {
        List<GroupEdit.Neuron> out = new ArrayList<>();
        for (int j = 0; j < n; j++) {
            out.add(GroupEdit.Neuron.copy(j));
        }
        return out;
    }
}
