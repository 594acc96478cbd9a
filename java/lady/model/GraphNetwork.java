package lady.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.EmbeddingOptions;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LayerNormOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.graph.Graph;
import lady.graph.Node;
import lady.graph.Op;
import lady.permutation.PermutationSpec;
import lady.tensor.HostTensor;
import lady.torch.Torch;
import lady.torch.TorchTensors;

/**
 * A {@link Model} that runs an {@link Architecture}'s graph on libtorch: the interpreter of the graph
 * description. One libtorch module tree holds every parameter and buffer under its state-dict name
 * (containers for the dotted paths; libtorch's Conv2d, BatchNorm2d, Linear, LayerNorm and Embedding
 * modules where the graph has those layers, created in graph order so that a new model draws its
 * initial weights as libtorch's modules do; raw parameters for attention, class tokens and position
 * embeddings). {@link #forward} walks the nodes in order and calls libtorch's operations; values are
 * dropped after their last use. Every module is kept strongly referenced here (stack notes, pitfall 2).
 */
final class GraphNetwork implements Model {
    private final Architecture arch;
    private final Graph graph;
    private final Module root;
    private final Map<String, Module> containers = new HashMap<>();
    private final Map<String, Module> modules = new HashMap<>(); // node name -> its libtorch module
    private final Map<String, Tensor> raw = new HashMap<>(); // tensor name -> raw parameter
    private final List<Object> keepAlive = new ArrayList<>();
    private final Map<String, Architecture.Producer> producers = new LinkedHashMap<>();
    private final Map<String, Integer> lastUse = new HashMap<>();
    private final Map<String, List<Node>> readers;
    /** The node that made each conv and batch-norm module, by the path of the module's tensors. */
    private final Map<String, String> madeBy = new HashMap<>();
    /** Convolutions computed on zero-padded input channels, and by how many (Torch.convolutionInputChannels). */
    private final Map<String, Long> inputChannelPadding = new HashMap<>();
    private PermutationSpec spec;

    GraphNetwork(Architecture arch) {
        for (Node n : arch.graph().nodes()) {
            String why = n.stringAttr(Op.FORWARD_UNSUPPORTED, null);
            if (why != null) {
                throw LadyException.invalidInput(arch.name() + ": Lady cannot run this model (" + n.name() + ": " + why
                        + "); only what runs it (--verify, eval, fine-tuning) needs that, permute and resync do not");
            }
        }
        Torch.init();
        this.arch = arch;
        this.graph = arch.graph();
        this.root = new Module(arch.name());
        this.readers = graph.readerIndex();
        for (Node n : graph.nodes()) {
            build(n);
        }
        for (int i = 0; i < graph.nodes().size(); i++) {
            for (String in : graph.nodes().get(i).inputs()) {
                lastUse.put(in, i);
            }
        }
        graph.outputs().forEach(o -> lastUse.put(o, Integer.MAX_VALUE));
        arch.producers().forEach(p -> producers.put(p.name(), p));
        initialize();
    }

    // ---- building ----

    private void build(Node n) {
        n.params().forEach((role, t) -> { // vectors saved with the node that it does not read (DINOv2's mask token)
            if (role.startsWith(Op.FOLLOWS) && !raw.containsKey(t)) {
                rawParameter(t, torch.zeros(graph.shape(t)));
            }
        });
        String first = n.op() == Op.CONV || n.op() == Op.BATCH_NORM || n.op() == Op.EMBEDDING ? madeBy.get(weightModule(n))
                : null;
        if (first != null) { // a module applied again, to another input (a detector's head on every pyramid level, T5's
            // embedding in its decoder)
            modules.put(n.name(), modules.get(first));
            Long pad = inputChannelPadding.get(first);
            if (pad != null) {
                inputChannelPadding.put(n.name(), pad);
            }
            return;
        }
        switch (n.op()) {
            case CONV -> {
                long[] w = graph.shape(n.param("weight"));
                long groups = n.longAttr("groups", 1);
                if (n.longAttr("transposed", 0) == 1 || w.length != 4) { // ConvTranspose2d [in, out / groups, kh, kw],
                    // Conv1d [out, in, k], Conv3d [out, in, kt, kh, kw]: run on its tensors
                    rawParameters(n);
                    return;
                }
                Conv2dOptions o = new Conv2dOptions(w[1] * groups, w[0], new LongPointer(w[2], w[3]));
                o.stride().put(n.longsAttr("stride", 1, 1));
                o.padding().put(new LongPointer(n.longsAttr("padding", 0, 0)));
                o.dilation().put(n.longsAttr("dilation", 1, 1));
                o.groups().put(groups);
                o.bias().put(n.has("bias"));
                keepAlive.add(o);
                modules.put(n.name(), shared(n, new Conv2dImpl(o)));
                long padded = groups == 1 ? Torch.convolutionInputChannels(w[1]) : w[1];
                if (padded != w[1]) {
                    inputChannelPadding.put(n.name(), padded - w[1]);
                }
            }
            case LINEAR -> {
                long[] w = graph.shape(n.param("weight"));
                boolean own = n.param("weight").equals(n.name() + ".weight") && n.longAttr("transposed", 0) != 1
                        && (!n.has("bias") || n.param("bias").equals(n.name() + ".bias"))
                        && n.params().keySet().stream().noneMatch(r -> r.startsWith(lady.graph.GraphBuilder.BUFFER));
                if (own) {
                    LinearOptions o = new LinearOptions(w[1], w[0]);
                    o.bias().put(n.has("bias"));
                    keepAlive.add(o);
                    modules.put(n.name(), register(n.name(), new LinearImpl(o)));
                } else {
                    // weights named otherwise (a tied output layer reads the embedding): run functionally on
                    // the graph's tensors, registering those no other node registers
                    for (String t : n.params().values()) {
                        if (!registered(t)) {
                            rawParameter(t, torch.zeros(graph.shape(t)));
                        }
                    }
                }
            }
            case BATCH_NORM -> {
                BatchNormOptions o = new BatchNormOptions(graph.shape(n.param("weight"))[0]);
                o.eps().put(n.doubleAttr("eps", 1e-5));
                o.momentum().put(n.doubleAttr("momentum", lady.graph.GraphBuilder.DEFAULT_BN_MOMENTUM));
                keepAlive.add(o);
                modules.put(n.name(), shared(n, new BatchNorm2dImpl(o)));
            }
            case LAYER_NORM -> {
                LayerNormOptions o = new LayerNormOptions(new LongVector(new long[] {graph.shape(n.param("weight"))[0]})); // LongVector(long n) would be n zeros
                o.eps().put(n.doubleAttr("eps", 1e-5));
                keepAlive.add(o);
                modules.put(n.name(), register(weightModule(n), new LayerNormImpl(o)));
            }
            case EMBEDDING -> {
                long[] w = graph.shape(n.param("weight"));
                if (n.param("weight").endsWith(".weight")) {
                    EmbeddingOptions o = new EmbeddingOptions(w[0], w[1]);
                    keepAlive.add(o);
                    modules.put(n.name(), shared(n, new EmbeddingImpl(o)));
                } else if (!raw.containsKey(n.param("weight"))) { // a bare parameter read by rows (OpenAI CLIP's
                    // positional_embedding)
                    rawParameter(n.param("weight"), torch.empty(w).normal_(0.0, 0.01,
                            new org.bytedeco.pytorch.GeneratorOptional()));
                }
                n.params().forEach((role, t) -> { // saved with it, not read (BERT's position_ids)
                    if (role.startsWith(lady.graph.GraphBuilder.BUFFER) && !raw.containsKey(t)) {
                        rawParameter(t, torch.zeros(graph.shape(t)));
                    }
                });
            }
            case ATTENTION -> {
                long d = graph.shape(n.param("out_proj_weight"))[0];
                rawParameter(n.param("in_proj_weight"), torch.empty(3 * d, d));
                rawParameter(n.param("in_proj_bias"), torch.zeros(3 * d));
                LinearOptions o = new LinearOptions(d, d);
                keepAlive.add(o);
                modules.put(n.name() + ".out_proj", register(moduleOf(n.param("out_proj_weight")), new LinearImpl(o)));
            }
            case CHANNELWISE -> {
                if (!isChannelScale(n)) {
                    throw new LadyException(LadyException.Kind.USAGE, arch.name() + ": Lady cannot run node '" + n.name()
                            + "' (" + n.op() + " " + n.stringAttr("type", "") + "); use the ONNX file with ONNX Runtime");
                }
                rawInitialized(n, "vector");
            }
            case L2_NORM -> rawInitialized(n, "weight");
            case PARAM, RMS_NORM, ATTENTION_GQA, GATED_LINEAR, MOE, IMAGE_FEATURES, GROUP_NORM -> rawParameters(n);
            default -> {
                if (!n.params().isEmpty()) {
                    throw new LadyException(LadyException.Kind.USAGE, arch.name() + ": Lady cannot run node '" + n.name()
                            + "' (" + n.op() + " " + n.stringAttr("type", "") + "); use the ONNX file with ONNX Runtime");
                }
            }
        }
    }

    /** Registers node {@code n}'s module under its weight's path, where a later node applying it again finds it. */
    private Module shared(Node n, Module m) {
        String path = weightModule(n);
        register(path, m);
        madeBy.put(path, n.name());
        return m;
    }

    /** Node {@code n}'s tensor {@code role} as a parameter of its own, every entry the node's attr {@link Op#INIT} (1). */
    private void rawInitialized(Node n, String role) {
        rawParameter(n.param(role), torch.full(graph.shape(n.param(role)), new Scalar(n.doubleAttr(Op.INIT, 1))));
    }

    /** Node {@code n}'s tensors as parameters of their own (zeros until loaded), those no node registered yet. */
    private void rawParameters(Node n) {
        for (String t : n.params().values()) {
            if (!raw.containsKey(t)) {
                rawParameter(t, torch.zeros(graph.shape(t)));
            }
        }
    }

    /**
     * The module path a conv's or a norm's tensors are under: its weight's (a graph may name its tensors apart from its
     * nodes: Hugging Face's ResNet is torchvision's graph under other tensor names), else the node's name.
     */
    private static String weightModule(Node n) {
        String w = n.params().get("weight");
        return w != null ? moduleOf(w) : n.name();
    }

    /**
     * {@link Op#SPACE_TO_DEPTH} of mode DCR on {@code N x C x H x W}: padded with zeros to whole r x r patches where
     * {@link Op#PAD_TO_BLOCK} says so, then output channel k C + c is channel c at the patch's pixel k (row-major, or
     * column-major by {@link Op#PIXEL_ORDER}).
     */
    private Tensor spaceToDepth(Node n, Tensor x) {
        long r = n.longAttr("block", 1);
        if (!n.stringAttr("mode", "DCR").equals("DCR")) {
            throw new LadyException(LadyException.Kind.USAGE, arch.name() + ": Lady cannot run node '" + n.name()
                    + "' (SpaceToDepth of mode " + n.stringAttr("mode", "") + "); use the ONNX file with ONNX Runtime");
        }
        long[] s = x.sizes().vec().get();
        if (n.longAttr(Op.PAD_TO_BLOCK, 0) == 1) {
            x = torch.constant_pad_nd(x, new long[] {0, (r - s[3] % r) % r, 0, (r - s[2] % r) % r}, new Scalar(0.0));
            s = x.sizes().vec().get();
        }
        Tensor y = x.reshape(s[0], s[1], s[2] / r, r, s[3] / r, r); // N C H' dh W' dw
        boolean columns = n.stringAttr(Op.PIXEL_ORDER, "row").equals(Op.COLUMN_FIRST);
        y = columns ? y.permute(0, 5, 3, 1, 2, 4) : y.permute(0, 3, 5, 1, 2, 4);
        return y.reshape(s[0], r * r * s[1], s[2] / r, s[3] / r);
    }

    /** A {@link Op#LINEAR} node on the last axis of {@code x}: its module, or its tensors used functionally. */
    private Tensor linearLayer(Node n, Tensor x) {
        Module m = modules.get(n.name());
        if (m != null) {
            return ((LinearImpl) m).forward(x);
        }
        // (stored [in, out]: Gemma 3's image projector, GPT-2's Conv1D)
        return linear(x, live(n.param("weight")), n.has("bias") ? live(n.param("bias")) : null,
                n.longAttr("transposed", 0) == 1);
    }

    /** Whether a {@link Op#CHANNELWISE} node is one the interpreter runs: a {@link Op#CHANNEL_SCALE} by one vector. */
    private static boolean isChannelScale(Node n) {
        return n.stringAttr("type", "").equals(Op.CHANNEL_SCALE) && n.params().keySet().equals(java.util.Set.of("vector"))
                && n.longAttr("axis", 0) == 0;
    }

    /** The rows {@code ids} of embedding node {@code n}'s weight (its module's, or a bare parameter's). */
    private Tensor embed(Node n, Tensor ids) {
        Module m = modules.get(n.name());
        if (m != null) {
            return ((EmbeddingImpl) m).forward(ids);
        }
        Tensor w = raw.get(n.param("weight"));
        long[] shape = ids.sizes().vec().get();
        long[] out = java.util.Arrays.copyOf(shape, shape.length + 1);
        out[shape.length] = w.size(1);
        return w.index_select(0, ids.flatten()).reshape(out);
    }

    /** "a.b.weight" -> "a.b". */
    private static String moduleOf(String tensor) {
        int dot = tensor.lastIndexOf('.');
        return dot < 0 ? "" : tensor.substring(0, dot);
    }

    /** Whether a tensor of the graph is already held by a module or a raw parameter built so far. */
    private boolean registered(String tensor) {
        if (raw.containsKey(tensor)) {
            return true;
        }
        StringTensorDict params = root.named_parameters(true);
        boolean found = params.contains(tensor);
        java.lang.ref.Reference.reachabilityFence(params);
        return found;
    }

    /**
     * The live tensor called {@code name} (a raw parameter or a module's), cached (its handle kept past the scope of
     * the node that first asked for it: {@link #scoped}).
     */
    private Tensor live(String name) {
        Tensor t = raw.get(name);
        if (t == null) {
            t = live().get(name);
            t.retainReference();
            raw.put(name, t);
        }
        return t;
    }

    private void rawParameter(String tensor, Tensor init) {
        int dot = tensor.lastIndexOf('.');
        Module parent = dot < 0 ? root : container(tensor.substring(0, dot));
        // register_parameter returns a reference INTO the module's dictionary, which later registrations may
        // move: keep a handle of our own (shares the storage, owns its refcount)
        Tensor p = new Tensor(parent.register_parameter(tensor.substring(dot + 1), init, true));
        raw.put(tensor, p);
        keepAlive.add(p);
    }

    /** Registers {@code m} under its dotted path, creating the container modules on the way. */
    private <M extends Module> M register(String path, M m) {
        int dot = path.lastIndexOf('.');
        Module parent = dot < 0 ? root : container(path.substring(0, dot));
        parent.register_module(path.substring(dot + 1), m);
        keepAlive.add(m);
        return m;
    }

    private Module container(String path) {
        Module c = containers.get(path);
        if (c == null) {
            c = register(path, new Module());
            containers.put(path, c);
        }
        return c;
    }

    /** Applies the architecture's initialization (libtorch's defaults are already in place for its modules). */
    @SuppressWarnings("try")
    private void initialize() {
        try (NoGradGuard guard = new NoGradGuard()) {
            for (Node n : graph.nodes()) {
                if (n.op() == Op.ATTENTION) {
                    // nn.MultiheadAttention: xavier-uniform in_proj, zero biases
                    Tensor w = raw.get(n.param("in_proj_weight"));
                    long[] s = w.sizes().vec().get();
                    double bound = Math.sqrt(6.0 / (s[0] / 3.0 + s[1]));
                    w.uniform_(-bound, bound, new org.bytedeco.pytorch.GeneratorOptional());
                    ((LinearImpl) modules.get(n.name() + ".out_proj")).bias().zero_();
                } else if (n.op() == Op.ATTENTION_GQA && n.longAttr(Op.WINDOW, 0) > 0) {
                    // Swin: torchvision's normal(0, 0.02) weights and bias table, zero biases, the relative positions
                    for (String role : List.of("qkv_weight", "q_weight", "k_weight", "v_weight", "o_weight", "head_bias", "cpb_in_weight",
                            "cpb_out_weight")) {
                        if (n.has(role)) {
                            raw.get(n.param(role)).normal_(0.0, 0.02, new org.bytedeco.pytorch.GeneratorOptional());
                        }
                    }
                    if (n.has("head_scale")) { // Swin V2's logit scales: log(10)
                        raw.get(n.param("head_scale")).fill_(new Scalar(Math.log(10)));
                    }
                    if (n.has(lady.graph.GraphBuilder.BUFFER + "index")) { // (Hugging Face's Swin V2 does not save it)
                        Tensor index = raw.get(n.param(lady.graph.GraphBuilder.BUFFER + "index")); // flat, or square
                        index.copy_(SwinAttention.relativeIndex(n.longAttr(Op.WINDOW, 1)).reshape(index.sizes().vec().get()));
                    }
                } else if (n.op() == Op.RMS_NORM) {
                    raw.get(n.param("weight")).fill_(new Scalar(1.0));
                } else if (n.op() == Op.PARAM && graph.shape(n.param("value")).length == 3
                        && graph.shape(n.param("value"))[1] > 1) {
                    raw.get(n.param("value")).normal_(0.0, 0.02, new org.bytedeco.pytorch.GeneratorOptional()); // ViT's position embedding
                }
            }
            if (arch.init() == Architecture.Init.PYTORCH_DEFAULT) {
                return;
            }
            for (Node n : graph.nodes(Op.CONV)) {
                Conv2dImpl conv = (Conv2dImpl) modules.get(n.name());
                long[] s = conv.weight().sizes().vec().get();
                double fanOut = (double) s[0] * s[2] * s[3] / n.longAttr("groups", 1);
                conv.weight().normal_().mul_(new Scalar(Math.sqrt(2.0 / fanOut)));
                if (n.has("bias")) {
                    conv.bias().zero_();
                }
            }
            if (arch.init() == Architecture.Init.TORCHVISION_VGG) {
                for (Node n : graph.nodes(Op.LINEAR)) {
                    LinearImpl linear = (LinearImpl) modules.get(n.name());
                    linear.weight().normal_().mul_(new Scalar(0.01));
                    if (n.has("bias")) {
                        linear.bias().zero_();
                    }
                }
            }
        }
    }

    // ---- running ----

    @Override
    public String architecture() {
        return arch.name();
    }

    /** The description this model was built from. */
    Architecture description() {
        return arch;
    }

    @Override
    public Module module() {
        return root;
    }

    @Override
    public Tensor forward(Tensor input) {
        checkInput(input);
        return run(input, null).get(0);
    }

    @Override
    public List<Tensor> outputs(Tensor input) {
        checkInput(input);
        return run(input, null);
    }

    @Override
    public boolean[] freeChannelOutputs() {
        List<String> outs = graph.outputs();
        boolean[] free = new boolean[outs.size()];
        for (int i = 0; i < free.length; i++) {
            free[i] = graph.freeChannels(outs.get(i));
        }
        return free;
    }

    @Override
    public Tensor forwardTo(Tensor input, String module) {
        return capture(input, List.of(module), Stage.PRE_ACTIVATION).get(module);
    }

    @Override
    public Map<String, Tensor> capture(Tensor input, List<String> layers, Stage stage) {
        List<String> names = new ArrayList<>();
        for (String name : layers) {
            names.add(arch.producer(name).name()); // refuses an unknown name, listing the known ones
        }
        checkInput(input);
        Tap tap = new Tap(names, stage);
        run(input, tap);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            out.put(layers.get(i), tap.found.get(names.get(i)));
        }
        return out;
    }

    @Override
    public Tensor runLayer(String layer, Tensor layerInput, Stage stage) {
        if (stage == Stage.INPUT) {
            throw new LadyException(LadyException.Kind.USAGE, "runLayer computes a layer's output: ask for "
                    + Stage.PRE_ACTIVATION + " or " + Stage.POST_ACTIVATION + ", not " + stage);
        }
        Architecture.Producer p = producers.get(arch.producer(layer).name());
        Map<String, Tensor> values = new HashMap<>();
        values.put(p.node().inputs().get(0), layerInput);
        Tensor pre = apply(p.node(), values);
        if (p.norm() != null) {
            values.put(p.node().output(), pre);
            pre = apply(p.norm(), values);
        }
        return stage == Stage.POST_ACTIVATION ? activate(p, pre) : pre;
    }

    /** What follows a producer's pre-activation output: its activation node, or ReLU where the graph adds first. */
    private Tensor activate(Architecture.Producer p, Tensor pre) {
        String value = p.norm() != null ? p.norm().output() : p.node().output();
        List<Node> r = readers.getOrDefault(value, List.of());
        if (r.size() == 1 && r.get(0).op() == Op.ACT) {
            return activation(r.get(0).activation(), pre);
        }
        return torch.relu(pre);
    }

    /** The producers to capture, at which stage, and what was captured. */
    private final class Tap {
        final Set<String> wanted;
        final Stage stage;
        final Map<String, Tensor> found = new HashMap<>();

        Tap(List<String> layers, Stage stage) {
            this.wanted = Set.copyOf(layers);
            this.stage = stage;
        }

        /** Called after node {@code n} computed {@code out} from {@code values}. */
        void seen(Node n, Map<String, Tensor> values, Tensor out) {
            Architecture.Producer p = producers.get(n.name());
            if (p != null && wanted.contains(p.name())) {
                if (stage == Stage.INPUT) {
                    found.put(p.name(), values.get(n.inputs().get(0)));
                } else if (p.norm() == null) {
                    found.put(p.name(), stage == Stage.PRE_ACTIVATION ? out : activate(p, out));
                }
            }
            if (n.op() == Op.BATCH_NORM && stage != Stage.INPUT) {
                for (String in : n.inputs()) {
                    Node w = graph.writer(in);
                    Architecture.Producer q = w == null ? null : producers.get(w.name());
                    if (q != null && q.norm() == n && wanted.contains(q.name())) {
                        found.put(q.name(), stage == Stage.PRE_ACTIVATION ? out : activate(q, out));
                    }
                }
            }
        }

        boolean done() {
            return found.size() == wanted.size();
        }
    }

    /** The graph on {@code input}; with a tap, stops as soon as every wanted producer was seen. */
    private List<Tensor> run(Tensor input, Tap tap) {
        Map<String, Tensor> values = new HashMap<>();
        values.put(graph.inputs().get(0).name(), input);
        for (Graph.Input other : graph.inputs().subList(1, graph.inputs().size())) {
            values.put(other.name(), companion(other, input.size(0)));
        }
        List<Node> nodes = graph.nodes();
        for (int i = 0; i < nodes.size() && (tap == null || !tap.done()); i++) {
            Node n = nodes.get(i);
            Tensor out = scoped(() -> apply(n, values));
            if (tap != null) {
                tap.seen(n, values, out);
            }
            values.put(n.output(), out);
            for (String in : n.inputs()) {
                if (lastUse.getOrDefault(in, -1) == i) {
                    Tensor done = values.remove(in);
                    if (tap == null && done != input && unshared(done, values)) {
                        done.deallocate(); // (now, not at a garbage collection: a long sequence's values are large)
                    }
                }
            }
        }
        List<Tensor> outs = new ArrayList<>();
        if (tap == null) {
            graph.outputs().forEach(o -> outs.add(values.get(o)));
        }
        return outs;
    }

    private Tensor in(Node n, Map<String, Tensor> values, int i) {
        return values.get(n.inputs().get(i));
    }

    private Tensor apply(Node n, Map<String, Tensor> values) {
        Tensor x = n.inputs().isEmpty() ? null : in(n, values, 0);
        switch (n.op()) {
            case CONV: {
                if (graph.shape(n.param("weight")).length != 4) {
                    return convOnTensors(n, x);
                }
                if (n.longAttr("transposed", 0) == 1) {
                    return torch.conv_transpose2d(x, live(n.param("weight")), n.has("bias")
                            ? new org.bytedeco.pytorch.TensorOptional(live(n.param("bias")))
                            : new org.bytedeco.pytorch.TensorOptional(), n.longsAttr("stride", 1, 1),
                            n.longsAttr("padding", 0, 0), n.longsAttr("output_padding", 0, 0), n.longAttr("groups", 1),
                            n.longsAttr("dilation", 1, 1));
                }
                Conv2dImpl conv = (Conv2dImpl) modules.get(n.name());
                Long pad = inputChannelPadding.get(n.name());
                if (pad == null) {
                    return conv.forward(x);
                }
                // zero input channels and weight columns up to oneDNN's block (Torch.convolutionInputChannels)
                Tensor bias = n.has("bias") ? conv.bias() : null;
                return torch.conv2d(padChannels(x, pad), padChannels(conv.weight(), pad),
                        bias == null ? new org.bytedeco.pytorch.TensorOptional() : new org.bytedeco.pytorch.TensorOptional(bias),
                        n.longsAttr("stride", 1, 1), n.longsAttr("padding", 0, 0), n.longsAttr("dilation", 1, 1), 1);
            }
            case GATED_LINEAR: // act(first half) * second half of the rows' outputs
                return gatedHalves(n.activation(), linear(x, live(n.param("weight")),
                        n.has("bias") ? live(n.param("bias")) : null, false));
            case LINEAR: {
                if (n.longAttr(Op.CHANNELS_FIRST, 0) == 1) { // on the channels of an image: channels last, and back
                    return linearLayer(n, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
                }
                return linearLayer(n, x);
            }
            case BATCH_NORM: {
                BatchNorm2dImpl bn = (BatchNorm2dImpl) modules.get(n.name());
                if (x.dim() == 5) { // a clip's channels: its frames' pixels side by side (the same statistics)
                    long[] s = x.sizes().vec().get();
                    return bn.forward(x.reshape(s[0], s[1], s[2], -1)).reshape(s);
                }
                return bn.forward(x);
            }
            case LAYER_NORM:
                if (n.longAttr(Op.CHANNELS_FIRST, 0) == 1) { // over the channels of an image: channels last, and back
                    return ((LayerNormImpl) modules.get(n.name())).forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
                }
                return ((LayerNormImpl) modules.get(n.name())).forward(x);
            case CHANNELWISE: { // a channel scale (isChannelScale): the vector on the channels, broadcast over the rest
                Tensor v = raw.get(n.param("vector"));
                return x.mul(x.dim() == 4 ? v.reshape(-1, 1, 1) : v.reshape(-1)); // (images: axis 1; tokens: the last)
            }
            case L2_NORM: { // weight * x / max(||x||, eps) along the channels (F.normalize), each pixel on its own
                Tensor length = x.pow(new Scalar(2.0)).mean(new long[] {1}, true, new org.bytedeco.pytorch.ScalarTypeOptional())
                        .mul(new Scalar(x.size(1))).sqrt().clamp_min(new Scalar(n.doubleAttr("eps", 0)));
                return x.div(length).mul(raw.get(n.param("weight")).reshape(-1, 1, 1));
            }
            case RMS_NORM: {
                return rmsNorm(x, raw.get(n.param("weight")), n.doubleAttr("weight_offset", 0), n.doubleAttr("eps", 1e-6));
            }
            case ACT: {
                double in = n.doubleAttr("scale_in", 1);
                double out = n.doubleAttr("scale_out", 1);
                Tensor y = activation(n.activation(), in == 1 ? x : x.mul(new Scalar(in)));
                return out == 1 ? y : y.mul(new Scalar(out));
            }
            case MAX_POOL: {
                return torch.max_pool2d(x, n.longsAttr("kernel"), n.longsAttr("stride"), n.longsAttr("padding", 0, 0),
                        new long[] {1, 1}, n.longAttr("ceil", 0) == 1);
            }
            case AVG_POOL:
                return torch.avg_pool2d(x, n.longsAttr("kernel"), n.longsAttr("stride"), n.longsAttr("padding", 0, 0),
                        n.longAttr("ceil", 0) == 1, n.longAttr("count_include_pad", 1) == 1, new org.bytedeco.pytorch.LongOptional());
            case ADAPTIVE_AVG_POOL: {
                long[] s = n.longsAttr("size");
                if (x.dim() == 5) { // a clip: its frames pooled to the same size as its sides
                    return torch.adaptive_avg_pool3d(x, new long[] {s[0], s[0], s[1]});
                }
                return torch.adaptive_avg_pool2d(x, s);
            }
            case DROPOUT:
                return torch.dropout(x, n.doubleAttr("p", 0.5), root.is_training());
            case ADD:
                return x.add(in(n, values, 1));
            case MUL:
                return x.mul(in(n, values, 1));
            case CONCAT: {
                TensorVector v = new TensorVector();
                for (int i = 0; i < n.inputs().size(); i++) {
                    v.push_back(in(n, values, i));
                }
                return torch.cat(v, n.longAttr("axis", 1));
            }
            case FLATTEN:
                return torch.flatten(x, n.longAttr("start", 1), -1);
            case TO_TOKENS: // N x C x H x W (or a sequence N x C x T) -> N x positions x C
                return torch.flatten(x, 2, -1).permute(0, 2, 1);
            case PARAM: {
                Tensor p = raw.get(n.param("value"));
                if (n.longAttr("expand", 0) == 1) { // (a vector [D]: one token [N, 1, D], CLIP's class embedding)
                    Tensor q = p.dim() == 1 ? p.reshape(1, 1, -1) : p;
                    long[] s = q.sizes().vec().get();
                    s[0] = x.size(0);
                    return q.expand(s);
                }
                return p;
            }
            case SELECT: {
                long axis = n.longAttr("axis", 1);
                long from = n.longAttr(Op.MEAN_FROM, -1);
                if (from >= 0) { // the mean of the indices from `from` on (the patch tokens after the prefix)
                    return x.narrow(axis, from, x.size(axis) - from).mean(new long[] {axis}, false,
                            new org.bytedeco.pytorch.ScalarTypeOptional());
                }
                return x.select(axis, n.longAttr("index", 0));
            }
            case SLICE_CHANNELS:
                return x.narrow(n.longAttr("axis", 1), n.longAttr("start", 0), n.longAttr("length", 0));
            case ATTENTION:
                return attention(n, x, n.inputs().size() > 1 ? in(n, values, 1) : x);
            case ATTENTION_GQA:
                return n.longAttr(Op.WINDOW, 0) > 0 ? SwinAttention.forward(n, x, raw) : LlamaAttention.forward(n, x,
                        n.inputs().size() > 1 ? in(n, values, 1) : x, raw);
            case SPACE_TO_DEPTH:
                return spaceToDepth(n, x);
            case CHANNEL_SHUFFLE: { // x.view(N, g, C / g, H, W).transpose(1, 2).reshape(N, C, H, W)
                long[] s = x.sizes().vec().get();
                long g = n.longAttr("groups", 1);
                return x.reshape(s[0], g, s[1] / g, s[2], s[3]).transpose(1, 2).reshape(s[0], s[1], s[2], s[3]);
            }
            case MOE:
                return mixtureOfExperts(n, x);
            case SINUSOIDS:
                return sinusoids(n, x);
            case IMAGE_FEATURES: // text only: no image tokens
                return torch.zeros(x.size(0), 0, n.longAttr("width", 0));
            case EMBEDDING: {
                long offset = n.longAttr(Op.POSITION_OFFSET, -1);
                long fixedRow = n.longAttr(Op.FIXED_ROW, -1);
                long seq = x.size(1);
                long width = graph.shape(n.param("weight"))[1];
                if (fixedRow >= 0) { // one row at every position (BERT's token type 0)
                    Tensor row = torch.full(new long[] {1}, new Scalar(fixedRow)).to(torch.ScalarType.Long);
                    return embed(n, row).unsqueeze(0).expand(new long[] {x.size(0), seq, width});
                }
                if (offset >= 0) { // learned positions: row offset + t at position t, for every sequence
                    long rows = graph.shape(n.param("weight"))[0];
                    if (offset + seq > rows) {
                        throw LadyException.invalidInput(arch.name() + ": " + n.param("weight") + " holds " + (rows - offset)
                                + " positions; sequences of " + seq + " tokens do not fit");
                    }
                    long pad = n.longAttr(Op.PADDING_IDX, -1);
                    if (pad >= 0) { // RoBERTa (offset pad + 1)
                        return embed(n, paddedPositions(x, pad));
                    }
                    Tensor at = torch.arange(new Scalar(offset), new Scalar(offset + seq)).to(torch.ScalarType.Long);
                    return embed(n, at).unsqueeze(0).expand(new long[] {x.size(0), seq, width});
                }
                Tensor e = embed(n, x);
                double scale = n.doubleAttr("scale", 1);
                return scale == 1 ? e : e.mul(new Scalar(scale));
            }
            case INTERPOLATE: {
                long[] like = in(n, values, 1).sizes().vec().get();
                return n.stringAttr("mode", "bilinear").equals("nearest")
                        ? torch.upsample_nearest2d(x, new long[] {like[2], like[3]})
                        : torch.upsample_bilinear2d(x, new long[] {like[2], like[3]}, false);
            }
            case GROUP_NORM:
                if (n.has("group_weight") || n.has("group_bias")) {
                    throw new LadyException(LadyException.Kind.USAGE, arch.name() + ": Lady cannot run node '" + n.name()
                            + "' (a group norm with per-group values); use the ONNX file with ONNX Runtime");
                }
                return torch.group_norm(x, n.longAttr("groups", 1), n.has("weight")
                        ? new org.bytedeco.pytorch.TensorOptional(live(n.param("weight"))) : new org.bytedeco.pytorch.TensorOptional(),
                        n.has("bias") ? new org.bytedeco.pytorch.TensorOptional(live(n.param("bias")))
                        : new org.bytedeco.pytorch.TensorOptional(), n.doubleAttr("eps", 1e-5), false);
            default:
                throw new LadyException(LadyException.Kind.USAGE, arch.name() + ": Lady cannot run node '" + n.name()
                        + "' (" + n.op() + ")");
        }
    }

    /**
     * {@link Op#MOE} as transformers computes it (MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock): the router's softmax in
     * float32, each token's top_k experts (renormalized when norm_topk is 1), their outputs weighted and summed; every
     * expert is run on every token and weighted by 0 where it was not chosen (the same sum; the models run here are
     * small).
     */
    private Tensor mixtureOfExperts(Node n, Tensor x) {
        Tensor probs = torch.softmax(torch.linear(x, raw.get(n.param("router"))).to(torch.ScalarType.Float), -1);
        org.bytedeco.pytorch.T_TensorTensor_T top = torch.topk(probs, n.longAttr("top_k", 1), -1, true, true);
        Tensor chosen = top.get0();
        if (n.longAttr("norm_topk", 0) == 1) {
            chosen = chosen.div(chosen.sum(new long[] {-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional()));
        }
        Tensor weights = torch.zeros_like(probs).scatter(-1, top.get1(), chosen).to(x.scalar_type());
        Tensor out = null;
        long experts = n.longAttr("experts", 0);
        for (long e = 0; e < experts; e++) {
            Tensor y = (n.has("gate_up." + e) ? fusedMlp(n, x, n.param("gate_up." + e), n.param("down." + e))
                    : gatedMlp(n, x, n.param("gate." + e), n.param("up." + e), n.param("down." + e)))
                    .mul(weights.narrow(-1, e, 1));
            out = out == null ? y : out.add(y);
        }
        if (n.has("shared_gate")) { // Qwen2-MoE: an expert every token uses, weighted by a sigmoid gate
            Tensor y = gatedMlp(n, x, n.param("shared_gate"), n.param("shared_up"), n.param("shared_down"))
                    .mul(torch.sigmoid(torch.linear(x, raw.get(n.param("shared_scale")))));
            out = out.add(y);
        }
        return out;
    }

    /** As {@link #gatedMlp} with the gate rows and then the up rows in one tensor {@code gateUp}. */
    private Tensor fusedMlp(Node n, Tensor x, String gateUp, String down) {
        return torch.linear(gatedHalves(n.activation(), torch.linear(x, raw.get(gateUp))), raw.get(down));
    }

    /** x W^T + b, or x W + b for a weight stored [in, out] ({@code transposed}); no bias when b is null. */
    static Tensor linear(Tensor x, Tensor w, Tensor b, boolean transposed) {
        if (transposed) {
            Tensor y = torch.matmul(x, w);
            return b == null ? y : y.add(b);
        }
        return b == null ? torch.linear(x, w) : torch.linear(x, w, new org.bytedeco.pytorch.TensorOptional(b));
    }

    /** {@code fn(first half) * second half} of {@code y}'s last axis (a gate's and an up projection's outputs). */
    private static Tensor gatedHalves(Op.Activation fn, Tensor y) {
        long units = y.size(-1) / 2;
        return activation(fn, y.narrow(-1, 0, units)).mul(y.narrow(-1, units, units));
    }

    /** down(act(gate x) * up x), the activation {@code n}'s. */
    private Tensor gatedMlp(Node n, Tensor x, String gate, String up, String down) {
        Tensor h = activation(n.activation(), torch.linear(x, raw.get(gate))).mul(torch.linear(x, raw.get(up)));
        return torch.linear(h, raw.get(down));
    }

    static Tensor activation(Op.Activation fn, Tensor x) {
        return switch (fn) {
            case RELU -> torch.relu(x);
            case RELU6 -> torch.hardtanh(x, new Scalar(0.0), new Scalar(6.0));
            case HARDSWISH -> torch.hardswish(x);
            case HARDSIGMOID -> torch.hardsigmoid(x);
            case SIGMOID -> torch.sigmoid(x);
            case GELU -> torch.gelu(x);
            case GELU_TANH -> torch.gelu(x, "tanh");
            case QUICK_GELU -> x.mul(torch.sigmoid(x.mul(new Scalar(QUICK_GELU_SCALE))));
            case SILU -> torch.silu(x);
            case TANH -> torch.tanh(x);
            case IDENTITY -> x;
        };
    }

    /**
     * torchvision's multi-head attention (batch first), as nn.MultiheadAttention computes it: queries from {@code x},
     * keys and values from {@code kv} ({@code x} itself for self-attention).
     */
    private Tensor attention(Node n, Tensor x, Tensor kv) {
        long[] s = x.sizes().vec().get();
        long batch = s[0];
        long seq = s[1];
        long d = s[2];
        long heads = n.longAttr("heads", 1);
        long hd = d / heads;
        Tensor w = raw.get(n.param("in_proj_weight"));
        Tensor b = raw.get(n.param("in_proj_bias"));
        Tensor q = torch.linear(x, w.narrow(0, 0, d), new org.bytedeco.pytorch.TensorOptional(b.narrow(0, 0, d)))
                .reshape(batch, seq, heads, hd).transpose(1, 2);
        Tensor kvp = torch.linear(kv, w.narrow(0, d, 2 * d), new org.bytedeco.pytorch.TensorOptional(b.narrow(0, d, 2 * d)));
        long kvSeq = kv.size(1);
        Tensor k = kvp.narrow(2, 0, d).reshape(batch, kvSeq, heads, hd).transpose(1, 2);
        Tensor v = kvp.narrow(2, d, d).reshape(batch, kvSeq, heads, hd).transpose(1, 2);
        Tensor scores = torch.matmul(q.mul(new Scalar(1.0 / Math.sqrt(hd))), k.transpose(-2, -1));
        if (n.longAttr("causal", 0) == 1) { // (OpenAI's and open_clip's text transformer)
            scores = scores.masked_fill(torch.ones(seq, kvSeq).triu(1).to(torch.ScalarType.Bool),
                    new Scalar(Double.NEGATIVE_INFINITY));
        }
        Tensor o = torch.matmul(torch.softmax(scores, -1), v).transpose(1, 2).reshape(batch, seq, d);
        return ((LinearImpl) modules.get(n.name() + ".out_proj")).forward(o);
    }

    /** The base of the sinusoids' wavelengths (transformers' 10000). */
    private static final double SINUSOID_BASE = 10000;

    /**
     * The positions of token ids {@code ids} counted as RoBERTa's (and M2M100's): padding tokens ({@code pad}) at row
     * pad, the others from pad + 1 on, counting only the tokens that are not padding.
     */
    private static Tensor paddedPositions(Tensor ids, long pad) {
        Tensor real = ids.ne(new Scalar(pad)).to(torch.ScalarType.Long);
        return torch.cumsum(real, 1).mul(real).add(new Scalar(pad));
    }

    /**
     * Node {@code n}'s computed sinusoidal positions of the token ids {@code ids} ({@link Op#SINUSOIDS}), in float32 as
     * transformers' M2M100SinusoidalPositionalEmbedding.get_embedding computes its table.
     */
    private Tensor sinusoids(Node n, Tensor ids) {
        long rows = n.longAttr("rows", 0);
        long width = n.longAttr("width", 0);
        long pad = n.longAttr(Op.PADDING_IDX, -1);
        long half = width / 2;
        long seq = ids.size(1);
        Tensor at = paddedPositions(ids, pad);
        if (at.max().item_long() >= rows) {
            throw LadyException.invalidInput(arch.name() + ": its sinusoidal positions cover " + (rows - pad - 1)
                    + " tokens; sequences of " + seq + " tokens do not fit");
        }
        double step = Math.log(SINUSOID_BASE) / (half - 1);
        Tensor freq = torch.exp(torch.arange(new Scalar(half)).to(torch.ScalarType.Float).mul(new Scalar((float) -step)));
        Tensor angles = torch.arange(new Scalar(rows)).to(torch.ScalarType.Float).unsqueeze(1).mul(freq.unsqueeze(0));
        Tensor table = torch.cat(new TensorVector(angles.sin(), angles.cos()), 1);
        if (width % 2 == 1) {
            table = torch.cat(new TensorVector(table, torch.zeros(rows, 1)), 1);
        }
        if (pad >= 0) {
            table.select(0, pad).zero_();
        }
        return table.index_select(0, at.flatten()).reshape(ids.size(0), seq, width);
    }

    /**
     * Whether no other value of the run and no parameter holds the handle {@code t} (a node may return its input, or a
     * parameter, as it is).
     */
    private boolean unshared(Tensor t, Map<String, Tensor> values) {
        for (Tensor v : values.values()) {
            if (v == t) {
                return false;
            }
        }
        for (Tensor v : raw.values()) {
            if (v == t) {
                return false;
            }
        }
        return true;
    }

    /**
     * What {@code f} (a node's computation) returns, every other tensor it made freed on return instead of at a garbage
     * collection: an attention's scores are batch x heads x queries x keys (Whisper's encoder: 4 x 12 x 1500 x 1500
     * floats, 432 MB, a few of them per layer), which left to the collector exhausted 24 GB within a check of
     * whisper-small.
     */
    private static Tensor scoped(java.util.function.Supplier<Tensor> f) {
        Tensor out;
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
            out = f.get();
            out.retainReference(); // (the scope's close releases one reference)
        }
        org.bytedeco.javacpp.PointerScope outer = org.bytedeco.javacpp.PointerScope.getInnerScope();
        if (outer != null) { // the caller's scope (a training step's) frees it as it did before
            outer.attach(out);
            out.releaseReference();
        }
        return out;
    }

    /**
     * Node {@code n}'s 1-D convolution of {@code x} (N x C x T) or 3-D one (N x C x T x H x W), on input channels padded
     * as a 2-D convolution's are ({@link Torch#convolutionInputChannels}: libtorch computes them through the same oneDNN
     * kernels).
     */
    private Tensor convOnTensors(Node n, Tensor x) {
        Tensor w = live(n.param("weight"));
        long in = w.size(1);
        long pad = Torch.convolutionInputChannels(in) - in;
        if (pad > 0) {
            x = padChannels(x, pad);
            w = padChannels(w, pad);
        }
        org.bytedeco.pytorch.TensorOptional bias = n.has("bias")
                ? new org.bytedeco.pytorch.TensorOptional(live(n.param("bias"))) : new org.bytedeco.pytorch.TensorOptional();
        if (w.dim() == 5) {
            return torch.conv3d(x, w, bias, n.longsAttr("stride", 1, 1, 1), n.longsAttr("padding", 0, 0, 0),
                    n.longsAttr("dilation", 1, 1, 1), 1);
        }
        return torch.conv1d(x, w, bias, n.longsAttr("stride", 1), n.longsAttr("padding", 0), n.longsAttr("dilation", 1),
                1);
    }

    /** {@code t} with {@code pad} zero entries appended along axis 1 (a convolution's input channels or weight columns). */
    private static Tensor padChannels(Tensor t, long pad) {
        long[] spec = new long[2 * ((int) t.dim() - 1)]; // (pairs from the last axis back to axis 1)
        spec[spec.length - 1] = pad;
        return torch.constant_pad_nd(t, spec, new Scalar(0.0));
    }

    private void checkInput(Tensor input) {
        Graph.Input in = graph.inputs().get(0);
        long[] s = input.sizes().vec().get();
        if (in.kind() == Graph.Input.Kind.SEQUENCE) {
            if (s.length != 3 || s[1] != in.channels() || s[2] != in.size()) {
                throw LadyException.invalidInput(arch.name() + " expects input of shape N x " + in.channels() + " x "
                        + in.size() + ", got " + java.util.Arrays.toString(s));
            }
            return;
        }
        if (in.kind() == Graph.Input.Kind.VIDEO) {
            if (s.length != 5 || s[1] != in.channels()) {
                throw LadyException.invalidInput(arch.name() + " expects clips of shape N x " + in.channels()
                        + " x T x H x W, got " + java.util.Arrays.toString(s));
            }
            return;
        }
        if (in.kind() == Graph.Input.Kind.TOKENS) {
            if (s.length != 2) {
                throw LadyException.invalidInput(arch.name() + " expects token ids of shape N x S, got "
                        + java.util.Arrays.toString(s));
            }
            return;
        }
        boolean fixed = in.fixed();
        if (s.length != 4 || s[1] != in.channels() || (fixed && (s[2] != in.size() || s[3] != in.size()))) {
            String expected = "N x " + in.channels() + " x " + (fixed ? in.size() + " x " + in.size() : "H x W");
            throw LadyException.invalidInput(arch.name() + " expects input of shape " + expected + ", got "
                    + java.util.Arrays.toString(s));
        }
    }

    @Override
    public Tensor probe(int batch, long seed) {
        Graph.Input in = graph.inputs().get(0);
        if (in.kind() == Graph.Input.Kind.TOKENS) {
            List<Node> emb = graph.nodes(Op.EMBEDDING).stream().filter(Op::vocabulary).toList();
            long vocab = emb.isEmpty() ? 2 : graph.shape(emb.get(0).param("weight"))[0];
            return PermutationCheck.tokens(batch, (int) Math.min(PROBE_TOKENS, positions()), vocab, seed);
        }
        if (in.kind() == Graph.Input.Kind.SEQUENCE) {
            return PermutationCheck.sequence(batch, Math.toIntExact(in.channels()), Math.toIntExact(in.size()), seed);
        }
        if (in.kind() == Graph.Input.Kind.VIDEO) {
            return PermutationCheck.video(batch, Math.toIntExact(in.channels()), Math.toIntExact(in.size()), seed);
        }
        return PermutationCheck.probe(batch, Math.toIntExact(in.channels()), Math.toIntExact(in.size()), seed);
    }

    /**
     * The value of a graph input after the first, which {@link #forward} does not take: a model with two inputs (CLIP's
     * images and text) runs its token input on a fixed seeded sequence of {@link #PROBE_TOKENS} ids (fewer where its
     * positions end) for each of the {@code batch} inputs, so that a check of its outputs sees both towers.
     */
    private Tensor companion(Graph.Input in, long batch) {
        if (in.kind() != Graph.Input.Kind.TOKENS) {
            throw new LadyException(LadyException.Kind.USAGE, arch.name() + ": Lady's forward takes one image input");
        }
        List<Node> emb = graph.nodes(Op.EMBEDDING).stream().filter(n -> n.inputs().get(0).equals(in.name())
                && Op.vocabulary(n)).toList();
        long vocab = emb.isEmpty() ? 2 : graph.shape(emb.get(0).param("weight"))[0];
        return PermutationCheck.tokens(Math.toIntExact(batch), (int) Math.min(PROBE_TOKENS, positions()), vocab,
                COMPANION_SEED);
    }

    /** quick_gelu's slope inside its sigmoid (OpenAI CLIP's). */
    private static final double QUICK_GELU_SCALE = 1.702;

    /** The seed of {@link #companion}'s token ids. */
    private static final long COMPANION_SEED = 0x11d1;

    /** The longest sequence the learned position embeddings cover (their rows past the offset); unbounded without. */
    private long positions() {
        long most = Long.MAX_VALUE;
        for (Node n : graph.nodes(Op.EMBEDDING)) {
            long offset = n.longAttr(Op.POSITION_OFFSET, -1);
            if (offset >= 0) {
                most = Math.min(most, graph.shape(n.param("weight"))[0] - offset);
            }
        }
        return most;
    }

    /** Length of probe token sequences. */
    static final int PROBE_TOKENS = 8;

    @Override
    public void train(boolean on) {
        root.train(on);
    }

    /** The live parameters and buffers by name (no copies). */
    private Map<String, Tensor> live() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        StringTensorDict params = root.named_parameters(true);
        StringTensorDict buffers = root.named_buffers(true);
        for (String name : graph.tensors().keySet()) {
            // get() returns a reference INTO the dictionary: copy the handle (shares the storage,
            // owns its own refcount) so it stays valid after the dictionaries are freed by the GC
            Tensor t = params.contains(name) ? new Tensor(params.get(name))
                    : buffers.contains(name) ? new Tensor(buffers.get(name)) : null;
            if (t == null) {
                throw new LadyException(LadyException.Kind.INTERNAL, arch.name() + ": module has no tensor '" + name + "'");
            }
            all.put(name, t);
        }
        java.lang.ref.Reference.reachabilityFence(params);
        java.lang.ref.Reference.reachabilityFence(buffers);
        return all;
    }

    @Override
    @SuppressWarnings("try")
    public StateDict stateDict() {
        StateDict state = new StateDict();
        try (NoGradGuard guard = new NoGradGuard()) {
            live().forEach((name, t) -> state.put(name, TorchTensors.copyOf(t.detach())));
        }
        return state;
    }

    @Override
    @SuppressWarnings("try")
    public void load(StateDict state) {
        Models.checkCompatible(arch, state);
        Map<String, Tensor> live = live();
        try (NoGradGuard guard = new NoGradGuard()) {
            live.forEach((name, t) -> {
                HostTensor host = state.get(name);
                t.copy_(TorchTensors.view(host)); // from_blob over the host memory, copied into the parameter
                java.lang.ref.Reference.reachabilityFence(host);
            });
        }
    }

    @Override
    public PermutationSpec permutationSpec() {
        if (spec == null) {
            spec = arch.permutationSpec();
        }
        return spec;
    }

    @Override
    public String toString() {
        return arch.name() + " (" + graph.tensors().size() + " tensors)";
    }

    /**
     * RMSNorm over the last axis, in float32: {@code x / sqrt(mean(x^2) + eps) * (weight + offset)} (offset 1:
     * Gemma's).
     */
    static Tensor rmsNorm(Tensor x, Tensor weight, double offset, double eps) {
        Tensor xf = x.to(torch.ScalarType.Float);
        Tensor rms = torch.rsqrt(xf.pow(new Scalar(2.0)).mean(new long[] {-1}, true,
                new org.bytedeco.pytorch.ScalarTypeOptional()).add(new Scalar(eps)));
        return xf.mul(rms).mul(offset == 0 ? weight : weight.add(new Scalar(offset)));
    }

}
