package lady.structure;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.graph.StructuralRules;
import lady.permutation.Group;
import lady.permutation.Member;

/**
 * Rewrites one group of a state dict into a new list of neurons, each described by a {@link Neuron}: whose
 * incoming weights it takes (and by which factor per producer), by which factor its batch norms' gamma and
 * beta are multiplied, and which combination of old neurons' consumer columns it gets. Every structural edit
 * is one of these: a rescaling (one neuron per old neuron, factors), a split (an extra copy, columns shared), a
 * dummy pair (fresh rows, fresh columns c and -c), a merge (one neuron, the sum of several columns), a drop
 * (a neuron left out), a permutation. The group may change size; tensors outside its range are copied.
 *
 * <p>Per member role: producer rows and bias are the source's times the row factor (or fresh values);
 * {@code running_mean} is the source's times the row factor and {@code running_var} becomes
 * {@code f^2 (var + eps) - eps}, so the batch norm's output does not change; gamma and beta are the source's
 * times the norm factor; consumer columns are {@code sum_k coef_k * column(out_k)} plus fresh values. A neuron
 * without a source ({@code source = -1}) has zero rows, gamma and beta 0, mean 0 and variance 1 (it computes
 * a constant zero after its batch norm). Values are combined in double and rounded once to float32, so a
 * neuron copied with factor 1 keeps its exact bits.
 */
public final class GroupEdit {
    private GroupEdit() {}

    /**
     * One neuron of the rewritten group.
     *
     * @param source       the old neuron whose incoming weights (and batch-norm vectors) it takes; -1: none
     * @param rowFactors   per producer of the rule (in order), the factor of its row, bias and running mean;
     *                     null: all 1
     * @param normFactor   factor of its batch norms' gamma and beta
     * @param outSources   old neurons whose consumer columns it sums
     * @param outCoefs     their coefficients
     * @param freshRows    producer weight or bias tensor name -> the neuron's fresh slice (replaces the source's)
     * @param freshColumns consumer tensor name -> values added to its columns (a dummy's own columns)
     */
    public record Neuron(int source, double[] rowFactors, double normFactor, int[] outSources, double[] outCoefs,
            Map<String, double[]> freshRows, Map<String, double[]> freshColumns) {
        public Neuron {
            if (outSources.length != outCoefs.length) {
                throw new IllegalArgumentException("one coefficient per outgoing source expected");
            }
            freshRows = Map.copyOf(freshRows);
            freshColumns = Map.copyOf(freshColumns);
        }

        /** Old neuron {@code j} as it is. */
        public static Neuron copy(int j) {
            return new Neuron(j, null, 1, new int[] {j}, new double[] {1}, Map.of(), Map.of());
        }

        /** A neuron that computes nothing (zero rows, zero columns). */
        public static Neuron empty() {
            return new Neuron(-1, null, 1, new int[0], new double[0], Map.of(), Map.of());
        }

        double rowFactor(int producer) {
            return rowFactors == null ? 1 : rowFactors[producer];
        }
    }

    /**
     * Rewrites group {@code g} of {@code state} (in place: its tensors are replaced) into {@code neurons}.
     *
     * @return the names of the tensors that were rewritten
     */
    public static List<String> apply(StateDict state, Group g, StructuralRules.Rule rule, List<Neuron> neurons) {
        int n = Math.toIntExact(g.size());
        for (Neuron x : neurons) {
            if (x.source() < -1 || x.source() >= n) {
                throw new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "': source " + x.source()
                        + " out of range");
            }
            for (int s : x.outSources()) {
                if (s < 0 || s >= n) {
                    throw new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "': outgoing source " + s
                            + " out of range");
                }
            }
            if (x.rowFactors() != null && x.rowFactors().length != rule.producers().size()) {
                throw new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "': one row factor per producer");
            }
        }
        Set<String> tensors = new LinkedHashSet<>();
        for (Member m : g.members()) {
            tensors.add(m.tensor());
        }
        for (String t : tensors) {
            List<Member> ms = g.members().stream().filter(m -> m.tensor().equals(t)).toList();
            if (ms.size() != 1) {
                throw new LadyException(LadyException.Kind.USAGE, "group '" + g.name() + "': tensor '" + t
                        + "' holds the group " + ms.size() + " times; structural edits need it once");
            }
            Member m = ms.get(0);
            float[] values = Floats.read(state, t);
            Slices s = new Slices(values, state.shape(t), m, n);
            s.readingAll();
            int producer = producerOf(rule, t);
            // one slice buffer (and one part buffer) per tensor, reused neuron after neuron: rebuild copies each
            // slice out before it asks for the next; fresh megabyte arrays per neuron were most of nso's time
            // (zeroing and first-touch page faults)
            double[] out = new double[s.sliceLength()];
            double[] part = m.role() == lady.permutation.Role.CONSUMER_WEIGHT ? new double[s.sliceLength()] : null;
            Floats.write(state, t, s.rebuild(neurons.size(), j -> slice(s, m, producer, rule, neurons.get(j), g, out, part)));
        }
        return new ArrayList<>(tensors);
    }

    /** Neuron x's new slice of member m, into {@code out} (all of it written); {@code part}: a consumer's scratch. */
    private static double[] slice(Slices s, Member m, int p, StructuralRules.Rule rule, Neuron x, Group g, double[] out,
            double[] part) {
        int len = s.sliceLength();
        java.util.Arrays.fill(out, 0);
        switch (m.role()) {
            case PRODUCER_WEIGHT, PRODUCER_BIAS -> {
                double[] fresh = x.freshRows().get(m.tensor());
                if (fresh != null) {
                    check(fresh, len, m, g);
                    System.arraycopy(fresh, 0, out, 0, len);
                } else if (x.source() >= 0) {
                    s.get(x.source(), out);
                    scale(out, p < 0 ? 1 : x.rowFactor(p));
                }
            }
            case RUNNING_MEAN -> {
                if (x.source() >= 0) {
                    s.get(x.source(), out);
                    scale(out, p < 0 ? 1 : x.rowFactor(p));
                }
            }
            case RUNNING_VAR -> {
                if (x.source() >= 0) {
                    s.get(x.source(), out);
                    double f = p < 0 ? 1 : x.rowFactor(p);
                    if (f != 1) {
                        double eps = rule.producers().get(p).eps();
                        for (int i = 0; i < len; i++) {
                            out[i] = f * f * (out[i] + eps) - eps;
                        }
                    }
                } else {
                    java.util.Arrays.fill(out, 1);
                }
            }
            case NORM_WEIGHT, NORM_BIAS -> {
                if (x.source() >= 0) {
                    s.get(x.source(), out);
                    scale(out, x.normFactor());
                }
            }
            case CONSUMER_WEIGHT -> {
                for (int k = 0; k < x.outSources().length; k++) {
                    s.get(x.outSources()[k], part);
                    double c = x.outCoefs()[k];
                    for (int i = 0; i < len; i++) {
                        out[i] += c * part[i];
                    }
                }
                double[] fresh = x.freshColumns().get(m.tensor());
                if (fresh != null) {
                    check(fresh, len, m, g);
                    for (int i = 0; i < len; i++) {
                        out[i] += fresh[i];
                    }
                }
            }
            default -> {
                if (x.source() >= 0) {
                    s.get(x.source(), out);
                }
            }
        }
        return out;
    }

    private static void check(double[] fresh, int len, Member m, Group g) {
        if (fresh.length != len) {
            throw new LadyException(LadyException.Kind.INTERNAL, "group '" + g.name() + "': fresh slice of '" + m.tensor()
                    + "' has " + fresh.length + " values, the tensor's slices have " + len);
        }
    }

    private static void scale(double[] v, double f) {
        if (f != 1) {
            for (int i = 0; i < v.length; i++) {
                v[i] *= f;
            }
        }
    }

    /** Index in the rule's producers of the producer that owns {@code tensor} (weight, bias or batch norm), or -1. */
    private static int producerOf(StructuralRules.Rule rule, String tensor) {
        List<StructuralRules.Producer> ps = rule.producers();
        for (int i = 0; i < ps.size(); i++) {
            StructuralRules.Producer p = ps.get(i);
            if (tensor.equals(p.weight()) || tensor.equals(p.bias()) || tensor.equals(p.normWeight())
                    || tensor.equals(p.normBias()) || tensor.equals(p.runningMean()) || tensor.equals(p.runningVar())) {
                return i;
            }
        }
        return -1;
    }
}
