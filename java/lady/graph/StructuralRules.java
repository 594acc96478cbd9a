package lady.graph;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.permutation.Group;
import lady.permutation.Member;
import lady.permutation.PermutationSpec;
import lady.permutation.Role;

/**
 * What structural edits keep a group's function, read off the graph (symmetries.md, "Beyond
 * permutations"): whether its neurons may be rescaled by positive factors, whether neurons may be added
 * (dummy pairs, splits) or merged, and, for batch-norm groups, whether the normalization's own affine
 * parameters may be rescaled. The rules:
 * <ul>
 *   <li><b>Scaling compensated in the consumers</b> (no batch norm in the group): a neuron's rows and bias
 *       times {@code a > 0}, its consumer columns divided by {@code a}. Exact when everything between the
 *       producers and the consumers commutes with a positive per-channel factor: positively homogeneous
 *       activations ({@link Op.Activation#positivelyHomogeneous()}: ReLU, identity), pooling, dropout,
 *       flatten, concatenation, additions of the group's own producers (a residual stream: every producer
 *       gets the same factor). GELU, SiLU, hardswish, sigmoid, a multiplication, a layer norm, a grouped or
 *       depthwise convolution or a network output on the way refuse it.</li>
 *   <li><b>Scaling absorbed by batch norm</b> (every producer read by exactly one batch norm with running
 *       statistics): rows and bias times {@code a}, {@code running_mean} times {@code a},
 *       {@code running_var -> a^2 (var + eps) - eps}; the normalization's output does not change in eval
 *       mode, so the activation after it does not matter and the consumers stay as they are.</li>
 *   <li><b>Affine rescaling</b> (batch-norm groups): gamma and beta times {@code s}, consumer columns divided
 *       by {@code s}; valid when the path from the batch norms to the consumers passes the test of the
 *       first rule.</li>
 *   <li><b>Widening</b> (dummy pairs, splits) and <b>merging</b>: a neuron is copied whole (rows, bias,
 *       batch-norm vectors) and its consumer columns are shared, or two copies cancel; identical incoming
 *       weights give identical activations whatever the activation, so this holds for every group whose
 *       members are rows and biases of convolutions (without groups) or linear layers, batch-norm vectors
 *       directly after them, and consumer columns. Layer and RMS norms (their statistics run over the
 *       channels), depthwise filters, attention heads and parameters added into the neurons refuse it.</li>
 * </ul>
 * This class never touches tensors; lady.structure applies the edits.
 */
public final class StructuralRules {
    private StructuralRules() {}

    /** How a group's neurons can be rescaled. */
    public enum Scaling {
        /** Rows and bias times a, consumer columns divided by a (no batch norm in the group). */
        COMPENSATED,
        /** Rows and bias times a, batch-norm running statistics adjusted; consumers untouched. */
        ABSORBED,
        /** No rescaling keeps the function (the rule says why). */
        REFUSED
    }

    /**
     * A producer of a group and the batch norm that directly normalizes it (if any).
     *
     * @param weight      the producer's weight (rows are the neurons)
     * @param bias        its bias, or null
     * @param node        the producer node
     * @param normWeight  the batch norm's weight (gamma), or null
     * @param normBias    its bias (beta), or null
     * @param runningMean its running mean, or null
     * @param runningVar  its running variance, or null
     * @param eps         its eps (NaN without a batch norm)
     */
    public record Producer(String weight, String bias, Node node, String normWeight, String normBias,
            String runningMean, String runningVar, double eps) {
        /** Whether a batch norm with running statistics follows the producer directly. */
        public boolean hasNorm() {
            return runningVar != null;
        }
    }

    /**
     * The structural rules of one group.
     *
     * @param group          the group's name
     * @param producers      its producers (with their batch norms), in member order
     * @param scaling        how its neurons can be rescaled
     * @param scalingRefusal why scaling is refused (null when it is not)
     * @param affineRefusal  why the batch norms' gamma and beta cannot be rescaled against the consumers
     *                       (null when they can; always set for a group without batch norm)
     * @param wideningRefusal why neurons cannot be added or merged (null when they can)
     */
    public record Rule(String group, List<Producer> producers, Scaling scaling, String scalingRefusal,
            String affineRefusal, String wideningRefusal) {
        public Rule {
            producers = List.copyOf(producers);
        }

        public boolean canScale() {
            return scaling != Scaling.REFUSED;
        }

        public boolean canRescaleAffine() {
            return affineRefusal == null;
        }

        public boolean canWiden() {
            return wideningRefusal == null;
        }

        /**
         * Whether a neuron's value reaches the consumers through positively homogeneous operations only (after
         * its batch norm, if any): then two neurons whose (normalized) incoming maps are positively parallel
         * with ratio r compute r times the same thing, and can be merged with their columns weighted by r.
         */
        public boolean homogeneous() {
            return scaling == Scaling.COMPENSATED || (scaling == Scaling.ABSORBED && affineRefusal == null);
        }

        /** Throws a clear USAGE error when scaling is refused. */
        public void requireScaling(String attack) {
            if (!canScale()) {
                throw new LadyException(LadyException.Kind.USAGE, attack + ": group '" + group + "' cannot be rescaled: "
                        + scalingRefusal + " (choose other groups with --groups)");
            }
        }

        /** Throws a clear USAGE error when widening is refused. */
        public void requireWidening(String attack) {
            if (!canWiden()) {
                throw new LadyException(LadyException.Kind.USAGE, attack + ": group '" + group + "' cannot get extra neurons: "
                        + wideningRefusal + " (choose other groups with --groups)");
            }
        }
    }

    /** The rules of every group of {@code spec}, by group name, in spec order. */
    public static Map<String, Rule> of(Graph graph, PermutationSpec spec) {
        Index index = new Index(graph);
        Map<String, Rule> out = new LinkedHashMap<>();
        for (Group g : spec.groups()) {
            out.put(g.name(), rule(index, g));
        }
        return out;
    }

    /** The rules of {@code group} of {@code graph}. */
    public static Rule of(Graph graph, Group group) {
        return rule(new Index(graph), group);
    }

    /** Tensor -> the node that holds it, and value -> readers. */
    private record Index(Graph graph, Map<String, Node> byTensor, Map<String, List<Node>> readers, Set<String> outputs) {
        Index(Graph graph) {
            this(graph, tensorOwners(graph), graph.readerIndex(), new HashSet<>(graph.outputs()));
        }

        private static Map<String, Node> tensorOwners(Graph graph) {
            Map<String, Node> m = new HashMap<>();
            for (Node n : graph.nodes()) {
                for (String t : n.params().values()) {
                    m.putIfAbsent(t, n);
                }
            }
            return m;
        }
    }

    private static Rule rule(Index index, Group g) {
        List<Producer> producers = new ArrayList<>();
        String widening = null;
        String scalingProblem = null;
        Set<String> seen = new HashSet<>();
        Set<Node> norms = new java.util.LinkedHashSet<>();
        Map<String, Integer> axes = new HashMap<>();
        for (Member m : g.members()) {
            if (!seen.add(m.tensor() + "[" + m.axis() + "]") && widening == null) {
                widening = "tensor '" + m.tensor() + "' holds the group twice on axis " + m.axis();
            }
            Integer other = axes.putIfAbsent(m.tensor(), m.axis());
            if (other != null && other != m.axis()) { // a layer from the group's channels to themselves (a pyramid's P6)
                widening = first(widening, "layer '" + m.tensor() + "' reads and writes the group's channels");
                scalingProblem = first(scalingProblem, widening);
            }
            Node n = index.byTensor().get(m.tensor());
            switch (m.role()) {
                case PRODUCER_WEIGHT -> {
                    // (a linear layer stored [in, out], GPT-2's Conv1D, has its rows on axis 1)
                    boolean plain = n != null && (n.op() == Op.LINEAR || (n.op() == Op.CONV && n.longAttr("groups", 1) == 1))
                            && m.axis() == (n.op() == Op.LINEAR ? n.longAttr("transposed", 0) : 0) && m.offset() == 0
                            && m.block() == 1 && m.tensor().equals(n.param("weight"));
                    if (!plain) {
                        String what = n == null ? "an unknown node" : n.op() + " '" + n.name() + "'";
                        widening = first(widening, "its producer '" + m.tensor() + "' (" + what
                                + ") is not the rows of a convolution or linear layer");
                        scalingProblem = first(scalingProblem, widening);
                    } else {
                        producers.add(producer(index, n));
                    }
                }
                case PRODUCER_BIAS -> {
                    if (m.axis() != 0 || m.offset() != 0 || m.block() != 1) {
                        widening = first(widening, "its bias '" + m.tensor() + "' is not one entry per neuron");
                        scalingProblem = first(scalingProblem, widening);
                    }
                }
                case NORM_WEIGHT, NORM_BIAS, RUNNING_MEAN, RUNNING_VAR -> {
                    if (n == null || n.op() != Op.BATCH_NORM) {
                        String op = n == null ? "a normalization" : n.op().name().toLowerCase(java.util.Locale.ROOT) + " '"
                                + n.name() + "'";
                        widening = first(widening, op + " normalizes its channels together (its statistics would change)");
                        scalingProblem = first(scalingProblem, op + " normalizes its channels together");
                    } else if (m.block() != 1) {
                        widening = first(widening, "batch norm '" + n.name() + "' sees the neurons in blocks");
                    } else {
                        norms.add(n);
                    }
                }
                case CHANNEL_WEIGHT, CHANNEL_BIAS -> {
                    widening = first(widening, "a depthwise convolution ('" + (n == null ? m.tensor() : n.name())
                            + "') filters its channels");
                    scalingProblem = first(scalingProblem, widening + " and adds a bias after them");
                }
                case PARAMETER -> {
                    widening = first(widening, "parameter '" + m.tensor() + "' is added into its neurons");
                    scalingProblem = first(scalingProblem, widening);
                }
                case CONSUMER_WEIGHT -> {
                    // columns of any consumer can be summed, split and scaled
                }
                case WHOLE_TENSOR -> {
                    widening = first(widening, "its neurons are experts, whose tensors move whole ('" + m.tensor() + "')");
                    scalingProblem = first(scalingProblem, widening);
                }
            }
        }
        if (producers.isEmpty()) {
            widening = first(widening, "it has no convolution or linear producer");
            scalingProblem = first(scalingProblem, widening);
        } else {
            String output = output(index, producers.stream().map(p -> p.node().output()).toList());
            if (output != null) { // (a base encoder's pooler: no layer reads it, its neurons are an output's values)
                widening = first(widening, "its neurons reach the network's output '" + output + "' without a layer "
                        + "reading them: more neurons would change it");
            }
        }
        Scaling scaling;
        String scalingRefusal = null;
        String affineRefusal;
        boolean anyNorm = producers.stream().anyMatch(Producer::hasNorm);
        if (scalingProblem != null) {
            scaling = Scaling.REFUSED;
            scalingRefusal = scalingProblem;
            affineRefusal = scalingProblem;
        } else if (norms.isEmpty()) {
            String why = walk(index, producers.stream().map(p -> p.node().output()).toList());
            scaling = why == null ? Scaling.COMPENSATED : Scaling.REFUSED;
            scalingRefusal = why;
            affineRefusal = "it has no batch norm";
        } else {
            Set<Node> direct = new HashSet<>();
            String why = null;
            for (Producer p : producers) {
                if (!p.hasNorm()) {
                    why = first(why, "producer '" + p.node().name() + "' has no batch norm of its own while others of the "
                            + "group have one");
                } else {
                    direct.add(index.byTensor().get(p.runningVar()));
                }
            }
            for (Node n : norms) {
                if (!direct.contains(n)) {
                    why = first(why, "batch norm '" + n.name() + "' does not directly follow a producer of the group");
                }
            }
            if (!anyNorm && why == null) {
                why = "its batch norms have no running statistics";
            }
            scaling = why == null ? Scaling.ABSORBED : Scaling.REFUSED;
            scalingRefusal = why;
            affineRefusal = why != null ? why : walk(index, norms.stream().map(Node::output).toList());
            if (why != null) {
                widening = first(widening, why);
            }
        }
        return new Rule(g.name(), producers, scaling, scalingRefusal, affineRefusal, widening);
    }

    private static String first(String existing, String candidate) {
        return existing != null ? existing : candidate;
    }

    /** The producer node {@code n} with the batch norm that alone reads its output, if any. */
    private static Producer producer(Index index, Node n) {
        List<Node> r = index.readers().getOrDefault(n.output(), List.of());
        Node bn = r.size() == 1 && r.get(0).op() == Op.BATCH_NORM && r.get(0).has("running_var") ? r.get(0) : null;
        return new Producer(n.param("weight"), n.param("bias"), n, bn == null ? null : bn.param("weight"),
                bn == null ? null : bn.param("bias"), bn == null ? null : bn.param("running_mean"),
                bn == null ? null : bn.param("running_var"), bn == null ? Double.NaN : bn.doubleAttr("eps", 1e-5));
    }

    /**
     * The network output that the values {@code starts} reach without a layer reading them (through activations,
     * pools, selections, additions and the like), or null when every path ends in a layer's columns.
     */
    private static String output(Index index, List<String> starts) {
        return follow(index, starts, v -> v, (r, todo) -> {
            switch (r.op()) {
                case CONV, LINEAR, GATED_LINEAR, ATTENTION, ATTENTION_GQA, MOE -> {
                    // a layer reads them: its columns take the new neurons
                }
                default -> todo.push(r.output());
            }
            return null;
        });
    }

    /** What a traversal does at a reader of a value: a reason to stop, or null (its output pushed to go on, or not). */
    private interface Step {
        String at(Node reader, Deque<String> todo);
    }

    /**
     * Visits the values from {@code starts} through their readers ({@code step}): the first reason a step gives, or
     * {@code atOutput} of the first network output reached; null when neither comes.
     */
    private static String follow(Index index, List<String> starts, java.util.function.UnaryOperator<String> atOutput,
            Step step) {
        Deque<String> todo = new ArrayDeque<>(starts);
        Set<String> visited = new HashSet<>();
        while (!todo.isEmpty()) {
            String v = todo.pop();
            if (!visited.add(v)) {
                continue;
            }
            if (index.outputs().contains(v)) {
                return atOutput.apply(v);
            }
            for (Node r : index.readers().getOrDefault(v, List.of())) {
                String why = step.at(r, todo);
                if (why != null) {
                    return why;
                }
            }
        }
        return null;
    }

    /**
     * Follows {@code starts} to the consumers; null when every operation on the way commutes with a positive
     * per-channel factor, else why not.
     */
    private static String walk(Index index, List<String> starts) {
        return follow(index, starts, v -> "its values are a network output", (r, todo) -> {
            switch (r.op()) {
                case CONV -> {
                    if (r.longAttr("groups", 1) != 1) {
                        return "a grouped or depthwise convolution ('" + r.name() + "') reads them";
                    }
                }
                case LINEAR, GATED_LINEAR, ATTENTION, ATTENTION_GQA, MOE -> {
                    // a consumer: its columns compensate
                }
                case ACT -> {
                    Op.Activation fn = r.activation();
                    if (!fn.positivelyHomogeneous()) {
                        return "they pass through " + fn + " ('" + r.name() + "'), which is not positively homogeneous "
                                + "(f(a x) != a f(x))";
                    }
                    todo.push(r.output());
                }
                case MAX_POOL, AVG_POOL, ADAPTIVE_AVG_POOL, DROPOUT, FLATTEN, INTERPOLATE, SELECT, TO_TOKENS, CONCAT, ADD ->
                    todo.push(r.output());
                default -> {
                    return "they pass through " + r.op().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                            + " '" + r.name() + "'";
                }
            }
            return null;
        });
    }
}
