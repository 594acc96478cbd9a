package lady.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;

/**
 * A network as data: operations ({@link Node}) in execution (topological) order over named values,
 * with every parameter and buffer by its state-dict name and shape. This one description is where
 * everything else comes from: the permutation spec ({@link ChannelSpaces}), the libtorch forward
 * (lady.model's interpreter), the checks of a checkpoint against the network. Three ways in: the
 * builders of the built-in families (lady.model.family), the ONNX importer, the Hugging Face config
 * reader. This package never touches libtorch.
 *
 * @param name    the architecture's name ("resnet50", "vit_b_16", an ONNX file's graph name)
 * @param inputs  the graph inputs
 * @param nodes   the operations, each reading only graph inputs and earlier nodes' outputs
 * @param outputs the values the network returns (their channels are never permuted)
 * @param tensors every parameter and buffer with its shape, in the order of PyTorch's state_dict
 */
public record Graph(String name, List<Input> inputs, List<Node> nodes, List<String> outputs, Map<String, long[]> tensors) {

    /**
     * A graph input.
     *
     * @param name     value name
     * @param kind     images or token ids
     * @param channels channels of an image input (0 for tokens)
     * @param size     side of the square images the description assumes (probe batches, new models)
     * @param fixed    whether the network needs exactly that size (no adaptive pooling before a flatten)
     */
    /**
     * This graph with its tensors renamed by {@code rename} (nodes and values keep their names): the same network under
     * another implementation's module paths. {@code rename} must be one to one on the graph's tensors.
     */
    public Graph withTensorNames(java.util.function.UnaryOperator<String> rename) {
        java.util.LinkedHashMap<String, long[]> t = new java.util.LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (t.put(rename.apply(k), v) != null) {
                throw new IllegalArgumentException(name + ": two tensors renamed " + rename.apply(k));
            }
        });
        List<Node> renamed = new java.util.ArrayList<>();
        for (Node n : nodes) {
            java.util.LinkedHashMap<String, String> p = new java.util.LinkedHashMap<>();
            n.params().forEach((role, tensor) -> p.put(role, rename.apply(tensor)));
            renamed.add(new Node(n.name(), n.op(), n.inputs(), n.output(), p, n.attrs()));
        }
        return new Graph(name, inputs, renamed, outputs, t);
    }

    public record Input(String name, Kind kind, long channels, long size, boolean fixed) {
        /** What an input holds. */
        public enum Kind {
            /** {@code N x C x H x W} float images. */
            IMAGE,
            /** {@code N x S} int64 token ids. */
            TOKENS,
            /** {@code N x C x T} float sequences of C channels (audio features: Whisper's log-mel frames), T = size. */
            SEQUENCE,
            /**
             * {@code N x C x T x H x W} float clips of C channels (videos), each frame of side H = W = size (at least
             * that; the network pools adaptively), T frames as the data or the probe has them.
             */
            VIDEO
        }
    }

    public Graph {
        inputs = List.copyOf(inputs);
        nodes = List.copyOf(nodes);
        outputs = List.copyOf(outputs);
        LinkedHashMap<String, long[]> copy = new LinkedHashMap<>();
        tensors.forEach((k, v) -> copy.put(k, v.clone()));
        tensors = Collections.unmodifiableMap(copy);
        validate(name, inputs, nodes, outputs, tensors);
    }

    private static void validate(String name, List<Input> inputs, List<Node> nodes, List<String> outputs,
            Map<String, long[]> tensors) {
        List<String> problems = new ArrayList<>();
        Set<String> defined = new HashSet<>();
        Set<String> nodeNames = new HashSet<>();
        Set<String> used = new HashSet<>();
        for (Input in : inputs) {
            if (!defined.add(in.name())) {
                problems.add("input '" + in.name() + "' is defined twice");
            }
        }
        for (Node n : nodes) {
            if (!nodeNames.add(n.name())) {
                problems.add("node name '" + n.name() + "' is used twice");
            }
            for (String in : n.inputs()) {
                if (!defined.contains(in)) {
                    problems.add("node '" + n.name() + "' reads '" + in + "' before it is defined");
                }
            }
            if (!defined.add(n.output())) {
                problems.add("value '" + n.output() + "' is written twice (second: node '" + n.name() + "')");
            }
            for (String t : n.params().values()) {
                if (!tensors.containsKey(t)) {
                    problems.add("node '" + n.name() + "' names tensor '" + t + "' that the graph does not list");
                }
                used.add(t);
            }
        }
        for (String out : outputs) {
            if (!defined.contains(out)) {
                problems.add("output '" + out + "' is never written");
            }
        }
        for (String t : tensors.keySet()) {
            if (!used.contains(t)) {
                problems.add("tensor '" + t + "' is used by no node");
            }
        }
        if (!problems.isEmpty()) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, "graph '" + name + "' is inconsistent ("
                    + problems.size() + " problem(s)): " + String.join("; ", problems.subList(0, Math.min(5, problems.size())))
                    + (problems.size() > 5 ? "; ..." : ""));
        }
    }

    /** The node called {@code name}. */
    public Node node(String name) {
        for (Node n : nodes) {
            if (n.name().equals(name)) {
                return n;
            }
        }
        throw new LadyException(LadyException.Kind.USAGE, "graph '" + this.name + "' has no node '" + name + "'");
    }

    /** Whether output {@code value}'s channel order is free: its writer says so ({@link Op#FREE_CHANNELS}). */
    public boolean freeChannels(String value) {
        Node w = writer(value);
        return w != null && w.longAttr(Op.FREE_CHANNELS, 0) == 1;
    }

    /** The node that writes value {@code value}, or null for a graph input. */
    public Node writer(String value) {
        for (Node n : nodes) {
            if (n.output().equals(value)) {
                return n;
            }
        }
        return null;
    }

    /** The nodes that read value {@code value}, in order. */
    public List<Node> readers(String value) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) {
            if (n.inputs().contains(value)) {
                out.add(n);
            }
        }
        return out;
    }

    /** For every value, the nodes that read it (one pass; for analyses that ask often). */
    public Map<String, List<Node>> readerIndex() {
        Map<String, List<Node>> out = new HashMap<>();
        for (Node n : nodes) {
            for (String in : n.inputs()) {
                out.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
            }
        }
        return out;
    }

    /** Nodes of the given kinds, in order. */
    public List<Node> nodes(Op... ops) {
        List<Op> wanted = Arrays.asList(ops);
        return nodes.stream().filter(n -> wanted.contains(n.op())).toList();
    }

    /** Shape of tensor {@code name}. */
    public long[] shape(String name) {
        long[] s = tensors.get(name);
        if (s == null) {
            throw new LadyException(LadyException.Kind.INTERNAL, "graph '" + this.name + "' has no tensor '" + name + "'");
        }
        return s.clone();
    }

    /** The first image input (most networks have exactly one), or null. */
    public Input imageInput() {
        return inputs.stream().filter(i -> i.kind() == Input.Kind.IMAGE).findFirst().orElse(null);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("graph " + name + " (" + nodes.size() + " nodes, " + tensors.size() + " tensors)\n");
        inputs.forEach(i -> b.append("  input ").append(i).append('\n'));
        nodes.forEach(n -> b.append("  ").append(n).append('\n'));
        b.append("  outputs ").append(outputs).append('\n');
        return b.toString();
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }
}
