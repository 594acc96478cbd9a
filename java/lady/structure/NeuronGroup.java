package lady.structure;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.graph.StructuralRules;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.Role;

/**
 * One group's values in a state dict (each member tensor read once, when first used), per neuron: its producers' rows
 * and biases, the batch-norm vectors after them, its consumer columns. The vectors the structural edits compare:
 * <ul>
 *   <li>{@link #incoming(int)}: what the neuron computes from its inputs, over every producer: the row and
 *       bias, or for a batch-norm group the normalized affine map {@code (gamma / sigma) row} and
 *       {@code (gamma / sigma) (bias - mean) + beta} (sigma = sqrt(running_var + eps)), which the scaling
 *       that batch norm absorbs leaves unchanged;</li>
 *   <li>{@link #outgoing(int)}: its columns in every consumer;</li>
 *   <li>{@link #rows(int, int)}: one producer's row and bias (what rescaling acts on);</li>
 *   <li>{@link #affine(int)}: its batch norms' gamma and beta.</li>
 * </ul>
 */
public final class NeuronGroup {
    final Group group;
    final StructuralRules.Rule rule;
    final int n;
    private final StateDict state;
    /** Every member's slices, by member (in the group's order), read on first use: a look at a few members (the
     * producer rows an assignment compares) never reads the others (at LLM width the residual stream's members are
     * the whole model, its 128k-row embedding and lm_head included). */
    private final Map<Member, Slices> slices = new LinkedHashMap<>();
    private final Map<String, float[]> values = new HashMap<>();
    final List<ProducerData> producers = new ArrayList<>();
    final List<Member> consumers = new ArrayList<>();
    /** The largest unit roundoff among the group's tensors. */
    final double roundoff;

    /** A producer's members: its rows, bias and batch norm (nulls when absent); {@link #of(Member)} reads them. */
    record ProducerData(StructuralRules.Producer producer, Member weight, Member bias, Member gamma, Member beta,
            Member mean, Member var) {}

    /** The values of {@code group} in {@code state}, with its {@code rule} (each member read when first used). */
    public NeuronGroup(StateDict state, Group group, StructuralRules.Rule rule) {
        this.group = group;
        this.rule = rule;
        this.state = state;
        this.n = Math.toIntExact(group.size());
        double u = 0;
        for (Member m : group.members()) {
            Slices.checkRange(state.shape(m.tensor()), m.axis(), m.offset(), m.block(), n, m.tensor());
            u = Math.max(u, Floats.unitRoundoff(state, m.tensor()));
            if (m.role() == Role.CONSUMER_WEIGHT) {
                consumers.add(m);
            }
        }
        roundoff = u;
        for (StructuralRules.Producer p : rule.producers()) {
            producers.add(new ProducerData(p, find(p.weight(), Role.PRODUCER_WEIGHT), find(p.bias(), Role.PRODUCER_BIAS),
                    find(p.normWeight(), Role.NORM_WEIGHT), find(p.normBias(), Role.NORM_BIAS),
                    find(p.runningMean(), Role.RUNNING_MEAN), find(p.runningVar(), Role.RUNNING_VAR)));
        }
    }

    /** The slices of member {@code m} (its tensor read as float32 on first use), or null for null. */
    Slices of(Member m) {
        if (m == null) {
            return null;
        }
        return slices.computeIfAbsent(m, x -> new Slices(values.computeIfAbsent(x.tensor(), t -> Floats.read(state, t)),
                state.shape(x.tensor()), x, n));
    }

    /** Neuron j's value in a one-value-per-neuron member (a bias, a batch-norm vector). */
    private double value(Member m, int j) {
        Slices s = of(m);
        return s.data[Math.toIntExact(s.offset) + j];
    }

    /**
     * Per producer of {@code rule} (in order), the norm of every neuron's row and bias; then, last, the norm of every
     * neuron's batch-norm gamma and beta over all the group's batch norms (zeros without batch norm). Reads only those
     * tensors, each in one pass: the cheap look at a group that a full {@link NeuronGroup} is not needed for.
     */
    public static double[][] norms(StateDict state, Group group, StructuralRules.Rule rule) {
        int n = Math.toIntExact(group.size());
        int producers = rule.producers().size();
        double[][] out = new double[producers + 1][n];
        for (Member m : group.members()) {
            int p = -1;
            for (int i = 0; i < producers; i++) {
                StructuralRules.Producer pr = rule.producers().get(i);
                if ((m.role() == Role.PRODUCER_WEIGHT && m.tensor().equals(pr.weight()))
                        || (m.role() == Role.PRODUCER_BIAS && m.tensor().equals(pr.bias()))) {
                    p = i;
                } else if ((m.role() == Role.NORM_WEIGHT && m.tensor().equals(pr.normWeight()))
                        || (m.role() == Role.NORM_BIAS && m.tensor().equals(pr.normBias()))) {
                    p = producers;
                }
            }
            if (p < 0) {
                continue;
            }
            if (m.axis() >= state.shape(m.tensor()).length || m.offset() + n * m.block() > state.shape(m.tensor())[m.axis()]) {
                throw LadyException.invalidInput("tensor '" + m.tensor() + "' has no range for " + n + " neurons on axis "
                        + m.axis());
            }
            double[] sq = Floats.squaredNorms(state, m, n);
            for (int j = 0; j < n; j++) {
                out[p][j] += sq[j];
            }
        }
        for (double[] row : out) {
            for (int j = 0; j < n; j++) {
                row[j] = Math.sqrt(row[j]);
            }
        }
        return out;
    }

    /** Neurons of the group. */
    public int size() {
        return n;
    }

    /** The group. */
    public Group group() {
        return group;
    }

    /** Its rules. */
    public StructuralRules.Rule rule() {
        return rule;
    }

    /** The largest unit roundoff among the group's tensors (their storage format). */
    public double roundoff() {
        return roundoff;
    }

    /** Producers of the rule (row factors of {@link GroupEdit.Neuron} are indexed like this). */
    public int producerCount() {
        return producers.size();
    }

    /** The weight tensor of producer {@code p}. */
    public String producerWeight(int p) {
        return producers.get(p).producer().weight();
    }

    private Member find(String tensor, Role role) {
        if (tensor == null) {
            return null;
        }
        for (Member m : group.members()) {
            if (m.tensor().equals(tensor) && m.role() == role) {
                return m;
            }
        }
        return null;
    }

    /** Whether the incoming vectors are batch-norm normalized maps (the scaling is absorbed by batch norm). */
    public boolean normalized() {
        return rule.scaling() == StructuralRules.Scaling.ABSORBED;
    }

    /**
     * Whether every value of {@link #incoming(int)} is a stored bfloat16 value: every producer's rows and bias stored
     * as bfloat16, and the maps not normalized by a batch norm (whose factors are not bfloat16 values).
     */
    boolean bfloat16Incoming() {
        for (ProducerData p : producers) {
            if (normalized() && p.var() != null) {
                return false;
            }
            for (Member m : new Member[] {p.weight(), p.bias()}) {
                if (m != null && state.indexed(m.tensor()).dtype() != lady.tensor.DType.BFLOAT16) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Length of {@link #incoming(int)}. */
    public int incomingLength() {
        int d = 0;
        for (ProducerData p : producers) {
            d += of(p.weight()).sliceLength() + 1;
        }
        return d;
    }

    /** Neuron j's incoming map over every producer (normalized by its batch norm in a batch-norm group). */
    public double[] incoming(int j) {
        double[] v = new double[incomingLength()];
        int at = 0;
        for (ProducerData p : producers) {
            Slices w = of(p.weight());
            int k = w.sliceLength();
            double[] row = w.get(j);
            double[] map = affineMap(p, j);
            for (int i = 0; i < k; i++) {
                v[at + i] = map[0] * row[i];
            }
            v[at + k] = map[1];
            at += k + 1;
        }
        return v;
    }

    /**
     * {scale, bias} of neuron j's incoming map from producer {@code p}: the row's factor and the map's constant, {1,
     * bias} as it is, or with the batch norm of a normalized group {gamma / sigma, gamma (bias - mean) / sigma + beta}.
     */
    private double[] affineMap(ProducerData p, int j) {
        double bias = p.bias() == null ? 0 : value(p.bias(), j);
        if (!normalized() || p.var() == null) {
            return new double[] {1, bias};
        }
        double var = value(p.var(), j);
        double gamma = p.gamma() == null ? 1 : value(p.gamma(), j);
        double beta = p.beta() == null ? 0 : value(p.beta(), j);
        double mean = value(p.mean(), j);
        double scale = gamma / Math.sqrt(var + p.producer().eps());
        return new double[] {scale, scale * (bias - mean) + beta};
    }

    /**
     * The squared norm of {@link #incoming(int)} and its dot product with {@code direction}, computed without building
     * the vector (the pass over every neuron that {@link ParallelNeurons} makes).
     */
    double[] incomingSquaresAndDot(int j, double[] direction) {
        double ss = 0;
        double dot = 0;
        int at = 0;
        for (ProducerData p : producers) {
            Slices w = of(p.weight());
            int k = w.sliceLength();
            double[] map = affineMap(p, j);
            double[] r = w.squaresAndDot(j, map[0], direction, at);
            double b = map[1];
            ss += r[0] + b * b;
            dot += r[1] + b * direction[at + k];
            at += k + 1;
        }
        return new double[] {ss, dot};
    }

    /** Producer {@code p}'s row and bias of neuron j (the bias slot is 0 without a bias). */
    public double[] rows(int p, int j) {
        ProducerData d = producers.get(p);
        double[] row = of(d.weight()).get(j);
        double[] v = java.util.Arrays.copyOf(row, row.length + 1);
        v[row.length] = d.bias() == null ? 0 : value(d.bias(), j);
        return v;
    }

    /** The gamma and beta of neuron j in every batch norm of the group (empty without batch norm). */
    public double[] affine(int j) {
        List<Double> v = new ArrayList<>();
        for (ProducerData p : producers) {
            if (p.gamma() != null) {
                v.add(value(p.gamma(), j));
            }
            if (p.beta() != null) {
                v.add(value(p.beta(), j));
            }
        }
        return v.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** Producer {@code p}'s batch-norm running variance of every neuron (its batch norm must exist). */
    public float[] runningVariances(int p) {
        Member v = producers.get(p).var();
        float[] out = new float[n];
        for (int j = 0; j < n; j++) {
            out[j] = (float) value(v, j);
        }
        return out;
    }

    /** Length of {@link #outgoing(int)}. */
    public int outgoingLength() {
        int d = 0;
        for (Member c : consumers) {
            d += of(c).sliceLength();
        }
        return d;
    }

    /** The norm of every neuron's columns in every consumer ({@link #outgoing(int)}), in one pass. */
    public double[] outgoingNorms() {
        double[] acc = new double[n];
        for (Member c : consumers) {
            double[] s = of(c).squaredNorms();
            for (int j = 0; j < n; j++) {
                acc[j] += s[j];
            }
        }
        for (int j = 0; j < n; j++) {
            acc[j] = Math.sqrt(acc[j]);
        }
        return acc;
    }

    /** Neuron j's columns in every consumer, concatenated. */
    public double[] outgoing(int j) {
        double[] v = new double[outgoingLength()];
        int at = 0;
        for (Member c : consumers) {
            double[] s = of(c).get(j);
            System.arraycopy(s, 0, v, at, s.length);
            at += s.length;
        }
        return v;
    }
}
