package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.ChannelSpaces;
import lady.graph.Graph;
import lady.graph.Node;
import lady.graph.Op;
import lady.permutation.PermutationSpec;

/**
 * A network Lady knows: its {@link Graph} (operations, state-dict names and shapes) and how a new model
 * of it is initialized. Everything else is derived from the graph: the libtorch module and forward pass
 * ({@link GraphNetwork}), the permutation groups ({@link ChannelSpaces}), the checks of a checkpoint.
 * Built by the family builders of {@link Families} (from options, or from a checkpoint's shapes, so that
 * every per-layer width a checkpoint has is kept).
 *
 * @param name  architecture name, e.g. "vgg16_cifar", "resnet50", "vit_b_16"
 * @param graph the network
 * @param init  how a new model's parameters are drawn
 * @param notes what the family says of the checkpoint beside the graph's own notes (a Hugging Face folder whose
 *              model_type Lady does not know, read by its tensors), added to {@link #permutationSpec()}'s
 */
public record Architecture(String name, Graph graph, Init init, List<String> notes) {
    public Architecture {
        notes = List.copyOf(notes);
    }

    /** A network without notes of its family's. */
    public Architecture(String name, Graph graph, Init init) {
        this(name, graph, init, List.of());
    }

    /** Initialization of a new model's parameters. */
    public enum Init {
        /** libtorch's (= PyTorch's) default per-layer initialization. */
        PYTORCH_DEFAULT,
        /**
         * torchvision's VGG: conv weights kaiming normal (fan_out, ReLU), conv biases 0, BN 1 / 0,
         * Linear weights normal(0, 0.01), Linear biases 0 (torchvision's MobileNetV3 too).
         */
        TORCHVISION_VGG,
        /**
         * The CIFAR head of VGG (512-512-K): conv weights kaiming normal (fan_out, ReLU), conv biases 0,
         * BN 1 / 0, Linear layers as PyTorch's default, as the common CIFAR VGG implementations do.
         * torchvision's normal(0, 0.01) for the Linear layers leaves a narrow head (width 0.25: 128
         * hidden units) with logits of std ~0.002 at start, and SGD at lr 0.01 stays on the 2.30
         * plateau for epochs (measured on the built-in digits, in Lady and in PyTorch alike).
         */
        CIFAR_VGG,
        /**
         * torchvision's ResNet: conv weights kaiming normal (fan_out, ReLU), BN 1 / 0, fc as
         * PyTorch's default.
         */
        TORCHVISION_RESNET
    }

    /**
     * A layer whose outputs are neurons (a convolution or a linear layer, by node name = module path)
     * and the batch norm that directly and only normalizes its output, if any (null).
     *
     * @param name   node name, e.g. "features.17", "layer1.0.conv2"
     * @param weight its weight tensor
     * @param node   the node
     * @param norm   its batch norm node, or null
     */
    public record Producer(String name, String weight, Node node, Node norm) {
        /** Neurons (output channels or features). */
        public long out(Graph g) {
            return g.shape(weight)[0];
        }
    }

    /** Every parameter and buffer with its shape, in the order of PyTorch's {@code state_dict()}. */
    public Map<String, long[]> tensorShapes() {
        return graph.tensors();
    }

    /** Every convolution and linear layer, in execution order, with its batch norm. */
    public List<Producer> producers() {
        Map<String, List<Node>> readers = graph.readerIndex();
        List<Producer> out = new ArrayList<>();
        for (Node n : graph.nodes(Op.CONV, Op.LINEAR)) {
            List<Node> r = readers.getOrDefault(n.output(), List.of());
            Node norm = r.size() == 1 && r.get(0).op() == Op.BATCH_NORM ? r.get(0) : null;
            out.add(new Producer(n.name(), n.param("weight"), n, norm));
        }
        return out;
    }

    /**
     * The producer named {@code name} exactly (a module path such as "features.28"), or whose weight is
     * called {@code name} ("features.28.weight").
     *
     * @throws LadyException USAGE listing the producers of this architecture when there is none
     */
    public Producer producer(String name) {
        List<Producer> all = producers();
        java.util.Optional<Producer> found = find(all, name);
        if (found.isPresent()) {
            return found.get();
        }
        List<String> names = all.stream().map(Producer::name).toList();
        throw new LadyException(LadyException.Kind.USAGE, "'" + name + "' is not a convolution or linear layer of "
                + this.name + "; its layers are: " + lady.util.Text.list(names, 12));
    }

    /** Whether the network reads token ids (a language model), not images. */
    public boolean readsTokens() {
        return graph.inputs().stream().anyMatch(in -> in.kind() == lady.graph.Graph.Input.Kind.TOKENS);
    }

    /**
     * For a network that reads token ids, the tensors with a row per vocabulary entry, in graph order: the token
     * embeddings' weights and the weight and bias of the layer writing an output (the logits, also through an
     * element-wise step after it: Gemma 2's soft cap) when it has the embedding's rows (an encoder's classifier, pooler
     * or question-answering head has a row per class); empty for other networks. A fine-tuned language model often has
     * more rows there (tokens added at the end) than its base.
     */
    public List<String> vocabularyTensors() {
        List<String> out = new ArrayList<>();
        if (!readsTokens()) {
            return out;
        }
        for (Node n : graph.nodes(Op.EMBEDDING)) {
            if (Op.vocabulary(n)) { // (a position embedding's rows are positions)
                out.add(n.param("weight"));
            }
        }
        for (String o : graph.outputs()) {
            Node w = graph.writer(o);
            while (w != null && (w.op() == Op.ACT || w.op() == Op.DROPOUT)) { // element-wise after it: a soft cap
                w = graph.writer(w.inputs().get(0));
            }
            if (w != null && w.op() == Op.LINEAR && !out.isEmpty()
                    && graph.shape(w.param("weight"))[w.longAttr("transposed", 0) == 1 ? 1 : 0]
                    == graph.shape(out.get(0))[0]) {
                for (String role : w.params().keySet()) { // its weight and bias (and a saved copy of the bias)
                    if ((role.equals("weight") || role.equals("bias") || role.startsWith(lady.graph.GraphBuilder.BUFFER))
                            && !out.contains(w.param(role))) {
                        out.add(w.param(role));
                    }
                }
            }
        }
        return out;
    }

    /** As {@link #producer}, empty when there is none. */
    public java.util.Optional<Producer> findProducer(String name) {
        return find(producers(), name);
    }

    private static java.util.Optional<Producer> find(List<Producer> all, String name) {
        return all.stream().filter(p -> p.name().equals(name) || p.weight().equals(name)).findFirst();
    }

    /** Every convolution's node name, in execution order. */
    public List<String> convolutions() {
        return graph.nodes(Op.CONV).stream().map(Node::name).toList();
    }

    /**
     * Every weight matrix an attack on "all layers" works on, in execution order: the weights of
     * convolutions and linear layers, and attention's projections (torchvision's packed in_proj and
     * out_proj; q, k, v, o of grouped-query attention; a mixture of experts' router and every expert's matrices).
     * Embeddings and normalizations are not in it.
     */
    public List<String> weights() {
        List<String> out = new ArrayList<>();
        for (Node n : graph.nodes()) {
            switch (n.op()) {
                case CONV, LINEAR, GATED_LINEAR -> out.add(n.param("weight"));
                case ATTENTION -> {
                    out.add(n.param("in_proj_weight"));
                    out.add(n.param("out_proj_weight"));
                }
                case ATTENTION_GQA -> {
                    for (String role : List.of("q_weight", "k_weight", "v_weight", "qkv_weight", "o_weight")) {
                        if (n.has(role)) {
                            out.add(n.param(role));
                        }
                    }
                }
                case MOE -> out.addAll(n.params().values()); // every parameter of a mixture of experts is a matrix
                default -> {
                }
            }
        }
        return out;
    }

    /**
     * The next convolution or linear layer of a chain after producer {@code name}: the one reached from its
     * output through operations that keep channels (norm, activation, pooling, dropout, flatten) without
     * branching; null when there is none (a residual addition, a concatenation, a branch, the output).
     */
    public String nextInChain(String name) {
        Map<String, List<Node>> readers = graph.readerIndex();
        String value = producer(name).node().output();
        while (true) {
            List<Node> r = readers.getOrDefault(value, List.of());
            if (r.size() != 1) {
                return null;
            }
            Node n = r.get(0);
            switch (n.op()) {
                case CONV, LINEAR:
                    return n.name();
                case BATCH_NORM, ACT, MAX_POOL, AVG_POOL, ADAPTIVE_AVG_POOL, DROPOUT, FLATTEN:
                    value = n.output();
                    break;
                default:
                    return null;
            }
        }
    }

    /** Number of outputs of the network's first output (the classes of a classifier). */
    public long numClasses() {
        String value = graph.outputs().get(0);
        while (true) {
            Node n = graph.writer(value);
            if (n == null) {
                throw new LadyException(LadyException.Kind.INTERNAL, name + ": the output is not made by a layer");
            }
            if (n.op() == Op.CONV || n.op() == Op.LINEAR) {
                return graph.shape(n.param("weight"))[0];
            }
            value = n.inputs().get(0);
        }
    }

    /** Channels of the image input (3 for RGB); 0 for token inputs. */
    public long inputChannels() {
        Graph.Input in = graph.imageInput();
        return in == null ? 0 : in.channels();
    }

    /** Side of the square images the description assumes (exactly the size it needs when {@link #fixedInputSize()}). */
    public long inputSize() {
        Graph.Input in = graph.imageInput();
        return in == null ? 0 : in.size();
    }

    /** Whether the network needs images of exactly {@link #inputSize()} (a flatten without adaptive pooling). */
    public boolean fixedInputSize() {
        Graph.Input in = graph.imageInput();
        return in != null && in.fixed();
    }

    /** The permutation groups, derived from the graph ({@link ChannelSpaces}). */
    public PermutationSpec permutationSpec() {
        PermutationSpec spec = ChannelSpaces.derive(graph);
        if (notes.isEmpty()) {
            return spec;
        }
        List<String> all = new ArrayList<>(notes);
        all.addAll(spec.notes());
        return new PermutationSpec(spec.architecture(), spec.groups(), spec.fixed(), all);
    }
}
