package lady.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;

/**
 * Builds a {@link Graph} in execution order, a call per operation, with parameter shapes computed from
 * the channels it tracks per value (so a family builder only says how many channels each layer makes).
 * Every method returns the name of the value it writes; stateless nodes are named by their module path
 * as well (torchvision's "features.2" ReLU), or by the caller's choice for functional steps.
 *
 * <pre>{@code
 * GraphBuilder b = new GraphBuilder("toy");
 * String x = b.image("input", 3, 32, true);
 * x = b.act("relu1", b.conv("conv1", x, 8, 3, 1, 1, true), Op.Activation.RELU);
 * x = b.flatten("flatten", b.maxPool("pool1", x, 2, 2, 0), 16 * 16);
 * x = b.linear("fc", x, 10, true);
 * Graph g = b.build(x);
 * }</pre>
 */
public final class GraphBuilder {
    private final String name;
    private final List<Graph.Input> inputs = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final LinkedHashMap<String, long[]> tensors = new LinkedHashMap<>();
    /** Channels (images: axis 1) or features (last axis) of each value; -1 when unknown. */
    private final Map<String, Long> width = new HashMap<>();

    public GraphBuilder(String name) {
        this.name = name;
    }

    /**
     * An image input {@code N x channels x H x W} of side {@code size}; {@code fixed}: the network needs
     * exactly that size (otherwise it is the size probes and new models use).
     */
    public String image(String value, long channels, long size, boolean fixed) {
        inputs.add(new Graph.Input(value, Graph.Input.Kind.IMAGE, channels, size, fixed));
        width.put(value, channels);
        return value;
    }

    /**
     * A sequence input {@code N x channels x length} (audio features: Whisper's log-mel frames), of exactly that
     * length.
     */
    public String sequence(String value, long channels, long length) {
        inputs.add(new Graph.Input(value, Graph.Input.Kind.SEQUENCE, channels, length, true));
        width.put(value, channels);
        return value;
    }

    /** A video input {@code N x channels x T x H x W} (clips of any length), frames of side {@code size}. */
    public String video(String value, long channels, long size) {
        inputs.add(new Graph.Input(value, Graph.Input.Kind.VIDEO, channels, size, false));
        width.put(value, channels);
        return value;
    }

    /** A token-id input {@code N x S}. */
    public String tokens(String value) {
        inputs.add(new Graph.Input(value, Graph.Input.Kind.TOKENS, 0, 0, false));
        width.put(value, -1L);
        return value;
    }

    /**
     * Declares a tensor now (fixing its place in the state-dict order) without a node; a later node must
     * use it. Nodes declare their own tensors on first use.
     */
    public void tensor(String tensor, long... shape) {
        long[] old = tensors.putIfAbsent(tensor, shape.clone());
        if (old != null && !Arrays.equals(old, shape)) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + ": tensor '" + tensor + "' declared with shapes "
                    + Arrays.toString(old) + " and " + Arrays.toString(shape));
        }
    }

    /** Channels (or features) of value {@code v}, -1 when unknown. */
    public long width(String v) {
        Long w = width.get(v);
        if (w == null) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + ": no value '" + v + "'");
        }
        return w;
    }

    /** A convolution without groups or dilation. */
    public String conv(String module, String x, long out, long kernel, long stride, long padding, boolean bias) {
        return conv(module, x, out, new long[] {kernel, kernel}, stride, padding, 1, 1, bias);
    }

    /** A convolution: weight {@code [out, in / groups, kh, kw]}, optional bias; module path {@code module}. */
    public String conv(String module, String x, long out, long[] kernel, long stride, long padding, long dilation,
            long groups, boolean bias) {
        return conv(module, x, out, kernel, new long[] {stride, stride}, new long[] {padding, padding}, dilation, groups,
                bias);
    }

    /**
     * As {@link #conv(String, String, long, long[], long, long, long, long, boolean)} with a stride and a padding per
     * axis (Inception's 1x7 and 7x1 convolutions: padding {0, 3} and {3, 0}).
     */
    public String conv(String module, String x, long out, long[] kernel, long[] stride, long[] padding, long dilation,
            long groups, boolean bias) {
        long in = width(x);
        if (in < 1 || groups < 1 || in % groups != 0 || out % groups != 0) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": convolution " + module + " with " + in
                    + " input channels, " + out + " outputs and " + groups + " groups is impossible");
        }
        Map<String, String> p = params(module, "weight", new long[] {out, in / groups, kernel[0], kernel[1]});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {out}));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("stride", stride.clone());
        a.put("padding", padding.clone());
        a.put("dilation", new long[] {dilation, dilation});
        a.put("groups", groups);
        return add(module, Op.CONV, List.of(x), p, a, out);
    }

    /**
     * A convolution over a sequence {@code N x C x T} (nn.Conv1d): weight {@code [out, in, kernel]}, optional bias;
     * module path {@code module}.
     */
    public String conv1d(String module, String x, long out, long kernel, long stride, long padding, boolean bias) {
        Map<String, String> p = params(module, "weight", new long[] {out, width(x), kernel});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {out}));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("stride", new long[] {stride});
        a.put("padding", new long[] {padding});
        a.put("dilation", new long[] {1});
        a.put("groups", 1L);
        return add(module, Op.CONV, List.of(x), p, a, out);
    }

    /**
     * A convolution over a clip {@code N x C x T x H x W} (nn.Conv3d): weight {@code [out, in, kt, kh, kw]}, a stride
     * and a padding per axis (time first), optional bias; module path {@code module}.
     */
    public String conv3d(String module, String x, long out, long[] kernel, long[] stride, long[] padding, boolean bias) {
        Map<String, String> p = params(module, "weight", new long[] {out, width(x), kernel[0], kernel[1], kernel[2]});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {out}));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("stride", stride.clone());
        a.put("padding", padding.clone());
        a.put("dilation", new long[] {1, 1, 1});
        a.put("groups", 1L);
        return add(module, Op.CONV, List.of(x), p, a, out);
    }

    /** A fully connected layer on the last axis ({@code in} from the input's tracked width). */
    public String linear(String module, String x, long out, boolean bias) {
        long in = width(x);
        if (in < 1) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + ": the input width of " + module + " is unknown");
        }
        Map<String, String> p = params(module, "weight", new long[] {out, in});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {out}));
        }
        return add(module, Op.LINEAR, List.of(x), p, Map.of(), out);
    }

    /**
     * A fully connected layer on the channels (axis 1) of an image {@code N x C x H x W}, each pixel alike: ConvNeXt's
     * Linear layers on its channels-last tensors (attr {@link Op#CHANNELS_FIRST}).
     */
    public String linearOnChannels(String module, String x, long out, boolean bias) {
        String y = linear(module, x, out, bias);
        return channelsFirst(y);
    }

    /** As {@link #linearTransposed} without a bias, its weight the tensor {@code tensor} (OpenAI CLIP's {@code visual.proj}). */
    public String projection(String node, String x, String tensor, long out) {
        tensor(tensor, width(x), out);
        return add(node, Op.LINEAR, List.of(x), Map.of("weight", tensor), Map.of("transposed", 1L), out);
    }

    /**
     * A fully connected layer on the last axis whose weight is stored {@code [in, out]} (x W + b: GPT-2's Conv1D), of
     * module {@code module}.
     */
    public String linearTransposed(String module, String x, long out, boolean bias) {
        Map<String, String> p = params(module, "weight", new long[] {width(x), out});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {out}));
        }
        return add(module, Op.LINEAR, List.of(x), p, Map.of("transposed", 1L), out);
    }

    /**
     * A fully connected layer whose weight (and bias, or null) have names of their own rather than
     * {@code module.weight}: Hugging Face's tied output layer reads the embedding matrix.
     */
    public String linear(String node, String x, String weight, String bias, long out) {
        return linear(node, x, weight, bias, out, null, List.of());
    }

    /**
     * As {@link #linear(String, String, String, String, long)}, tied by the configuration to the embedding whose weight
     * is {@code tiedTo} (null: none; {@link Op#TIED_TO}), with {@code buffers}: tensors of one value per output saved
     * with it that it does not read (a second copy of its bias, as older BERT checkpoints hold one).
     */
    public String linear(String node, String x, String weight, String bias, long out, String tiedTo, List<String> buffers) {
        long in = width(x);
        tensor(weight, out, in);
        Map<String, String> p = new LinkedHashMap<>();
        p.put("weight", weight);
        if (bias != null) {
            tensor(bias, out);
            p.put("bias", bias);
        }
        for (String t : buffers) {
            tensor(t, out);
            p.put(BUFFER + t, t);
        }
        return add(node, Op.LINEAR, List.of(x), p, tiedTo == null ? Map.of() : Map.of(Op.TIED_TO, tiedTo), out);
    }

    /** A gated linear layer of {@code units} units ({@link Op#GATED_LINEAR}: weight [2 units, in]) of module {@code module}. */
    public String gatedLinear(String module, String x, long units, boolean bias, Op.Activation fn, String why) {
        long in = width(x);
        Map<String, String> p = params(module, "weight", new long[] {2 * units, in});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {2 * units}));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("fn", fn.name());
        if (why != null) {
            a.put(Op.FORWARD_UNSUPPORTED, why);
        }
        return add(module, Op.GATED_LINEAR, List.of(x), p, a, units);
    }

    /** Appended to the names of the nodes added (not to their tensors' names): see {@link #reuse}. */
    private String nodeSuffix = "";
    /** Whether batch norms count their batches (num_batches_tracked): see {@link #frozenBatchNorms}. */
    private boolean batchCounts = true;

    /**
     * The nodes added from now on apply modules already added (or added later) again, to other inputs: their names get
     * {@code suffix}, their tensors keep theirs (a detector's head on every level of its feature pyramid; the channel
     * analysis ties the spaces a shared tensor reads or writes). "" ends it.
     */
    public void reuse(String suffix) {
        nodeSuffix = suffix;
    }

    /**
     * The batch norms added from now on are torchvision's FrozenBatchNorm2d (no num_batches_tracked: the detection
     * models' backbones), or ({@code false}) batch norms again.
     */
    public void frozenBatchNorms(boolean frozen) {
        batchCounts = !frozen;
    }

    /** The eps of the batch norms added now, whatever their family asks (null: theirs): see {@link #batchNormEps}. */
    private Double epsOverride;

    /**
     * The batch norms added from now on have this eps whatever their family's own is (torchvision's detection models
     * build MobileNetV3 with nn.BatchNorm2d or FrozenBatchNorm2d, eps 1e-5, not its 1e-3); null ends it.
     */
    public void batchNormEps(Double eps) {
        epsOverride = eps;
    }

    /** The momentum of the batch norms added now, whatever their family asks (null: theirs). */
    private Double momentumOverride;

    /**
     * The batch norms added from now on have this momentum whatever their family's own is (torchvision's SSDlite builds
     * MobileNetV3 with momentum 0.03, not its 0.01); null ends it.
     */
    public void batchNormMomentum(Double momentum) {
        momentumOverride = momentum;
    }

    /** Whether the batch norms added now save num_batches_tracked (see {@link #frozenBatchNorms}). */
    public boolean batchCounts() {
        return batchCounts;
    }

    /** Group norm ({@code nn.GroupNorm}: affine, one weight and bias per channel) over {@code groups} groups. */
    public String groupNorm(String module, String x, long groups, double eps) {
        long c = width(x);
        Map<String, String> p = new LinkedHashMap<>();
        for (String s : List.of("weight", "bias")) {
            p.putAll(params(module, s, new long[] {c}));
        }
        return add(module, Op.GROUP_NORM, List.of(x), p, Map.of("groups", groups, "eps", eps), c);
    }

    /** A transposed convolution ({@code nn.ConvTranspose2d}, weight [in, out, k, k]) of one group. */
    public String convTranspose(String module, String x, long out, long kernel, long stride, long padding, boolean bias) {
        Map<String, String> p = params(module, "weight", new long[] {width(x), out, kernel, kernel});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {out}));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("transposed", 1L);
        a.put("stride", new long[] {stride, stride});
        a.put("padding", new long[] {padding, padding});
        a.put("dilation", new long[] {1, 1});
        a.put("groups", 1L);
        return add(module, Op.CONV, List.of(x), p, a, out);
    }

    /** Batch norm (affine, running statistics) with torchvision's parameter and buffer names. */
    public String batchNorm(String module, String x, double eps) {
        return batchNorm(module, x, eps, DEFAULT_BN_MOMENTUM);
    }

    /** PyTorch's default batch-norm momentum (the weight of the new batch in the running statistics). */
    public static final double DEFAULT_BN_MOMENTUM = 0.1;

    /**
     * Batch norm with its eps and momentum (MobileNetV3: 0.001 and 0.01); the momentum only matters when
     * the network trains.
     */
    public String batchNorm(String module, String x, double eps, double momentum) {
        long c = width(x);
        Map<String, String> p = new LinkedHashMap<>();
        for (String s : List.of("weight", "bias", "running_mean", "running_var")) {
            p.putAll(params(module, s, new long[] {c}));
        }
        if (batchCounts) {
            p.putAll(params(module, "num_batches_tracked", new long[0]));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("eps", epsOverride != null ? epsOverride : eps);
        a.put("momentum", momentumOverride != null ? momentumOverride : momentum);
        return add(module, Op.BATCH_NORM, List.of(x), p, a, c);
    }

    /** Batch norm with PyTorch's default eps 1e-5. */
    public String batchNorm(String module, String x) {
        return batchNorm(module, x, 1e-5);
    }

    /** Layer norm over the last axis (weight and bias). */
    public String layerNorm(String module, String x, double eps) {
        return layerNorm(module, x, eps, false);
    }

    /** As {@link #layerNorm(String, String, double)}; {@code freeChannels} as for {@link #rmsNorm}. */
    public String layerNorm(String module, String x, double eps, boolean freeChannels) {
        return layerNorm(module, x, eps, freeChannels, true);
    }

    /** As {@link #layerNorm(String, String, double, boolean)}, with a bias or without one (MPT's). */
    public String layerNorm(String module, String x, double eps, boolean freeChannels, boolean bias) {
        long c = width(x);
        Map<String, String> p = params(module, "weight", new long[] {c});
        if (bias) {
            p.putAll(params(module, "bias", new long[] {c}));
        }
        return add(module, Op.LAYER_NORM, List.of(x), p, freeChannels ? Map.of("eps", eps, Op.FREE_CHANNELS, 1L)
                : Map.of("eps", eps), c);
    }

    /**
     * Layer norm over the channels (axis 1) of an image {@code N x C x H x W}, each pixel on its own: ConvNeXt's
     * LayerNorm2d (attr {@link Op#CHANNELS_FIRST}).
     */
    public String layerNormOnChannels(String module, String x, double eps) {
        return channelsFirst(layerNorm(module, x, eps));
    }

    /**
     * The channels of {@code x} times a stored vector {@code tensor} of one entry per channel along axis 0 (torchvision
     * ConvNeXt's layer scale {@code [C, 1, 1]}, Hugging Face's {@code [C]}: {@code trailingOnes} axes of size 1 after
     * it), as a {@link Op#CHANNELWISE} node of type Mul; a new model's vector is filled with {@code init}.
     */
    public String scaleChannels(String node, String x, String tensor, int trailingOnes, double init) {
        long c = width(x);
        long[] shape = new long[1 + trailingOnes];
        Arrays.fill(shape, 1);
        shape[0] = c;
        tensor(tensor, shape);
        return add(node, Op.CHANNELWISE, List.of(x), Map.of("vector", tensor),
                Map.of("type", Op.CHANNEL_SCALE, "axis", 0L, Op.INIT, init), c);
    }

    /** The last node, which wrote {@code value}, with attr {@link Op#CHANNELS_FIRST} set. */
    private String channelsFirst(String value) {
        return withAttr(value, Op.CHANNELS_FIRST);
    }

    /**
     * Marks {@code value}, the last node's output, as an output whose channel order is free ({@link Op#FREE_CHANNELS}:
     * the features of a model without a head, compared by their inner products).
     */
    public String freeChannels(String value) {
        return withAttr(value, Op.FREE_CHANNELS);
    }

    /**
     * Gives the last node, which wrote {@code value}, the declared tensor {@code tensor} as a vector that moves with axis
     * {@code axis} of its parameter {@code role} ({@link Op#FOLLOWS}): saved with it, not read (DINOv2's mask token).
     */
    public String withFollower(String value, String role, int axis, String tensor) {
        if (!tensors.containsKey(tensor)) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + ": undeclared follower " + tensor);
        }
        Node n = nodes.remove(nodes.size() - 1);
        if (!n.output().equals(value)) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + ": '" + value + "' is not the last value");
        }
        Map<String, String> p = new LinkedHashMap<>(n.params());
        int k = 0;
        while (p.containsKey(Op.follows(role, axis, k))) {
            k++;
        }
        p.put(Op.follows(role, axis, k), tensor);
        nodes.add(new Node(n.name(), n.op(), n.inputs(), n.output(), p, n.attrs()));
        return value;
    }

    /** The last node, which wrote {@code value}, with the flag {@code attr} set (1). */
    private String withAttr(String value, String attr) {
        Node n = nodes.remove(nodes.size() - 1);
        if (!n.output().equals(value)) {
            throw new LadyException(LadyException.Kind.INTERNAL, name + ": '" + value + "' is not the last value");
        }
        Map<String, Object> a = new LinkedHashMap<>(n.attrs());
        a.put(attr, 1L);
        nodes.add(new Node(n.name(), n.op(), n.inputs(), n.output(), n.params(), a));
        return value;
    }

    /** RMS norm over the last axis (weight only). */
    public String rmsNorm(String module, String x, double eps) {
        return rmsNorm(module, x, eps, 0);
    }

    /** RMS norm over the last axis, scaled by its weight plus {@code offset} (Gemma's {@code 1 + weight}). */
    public String rmsNorm(String module, String x, double eps, double offset) {
        return rmsNorm(module, x, eps, offset, false);
    }

    /**
     * As {@link #rmsNorm(String, String, double, double)}; {@code freeChannels}: the network's output, whose channel
     * order is free ({@link Op#FREE_CHANNELS}).
     */
    public String rmsNorm(String module, String x, double eps, double offset, boolean freeChannels) {
        long c = width(x);
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("eps", eps);
        if (offset != 0) {
            attrs.put("weight_offset", offset);
        }
        if (freeChannels) {
            attrs.put(Op.FREE_CHANNELS, 1L);
        }
        return add(module, Op.RMS_NORM, List.of(x), params(module, "weight", new long[] {c}), attrs, c);
    }

    /**
     * {@code x}'s channels scaled to unit length at each pixel, times the stored vector {@code weight} (SSD's L2Norm: a
     * new model's weight is {@code init}); see {@link Op#L2_NORM}.
     */
    public String l2Norm(String node, String x, String weight, double eps, double init) {
        long c = width(x);
        tensor(weight, c);
        return add(node, Op.L2_NORM, List.of(x), Map.of("weight", weight), Map.of("eps", eps, Op.INIT, init), c);
    }

    /** Soft capping of {@code x}: {@code cap * tanh(x / cap)} (Gemma 2's logits). */
    public String softcap(String node, String x, double cap) {
        return add(node, Op.ACT, List.of(x), Map.of(), Map.of("fn", Op.Activation.TANH.name(), "scale_in", 1 / cap,
                "scale_out", cap), width(x));
    }

    /** {@code x} times the constant {@code factor} (DeiT's mean of its two classifiers). */
    public String scale(String node, String x, double factor) {
        return add(node, Op.ACT, List.of(x), Map.of(), Map.of("fn", Op.Activation.IDENTITY.name(), "scale_out", factor),
                width(x));
    }

    /** An element-wise activation. */
    public String act(String node, String x, Op.Activation fn) {
        return add(node, Op.ACT, List.of(x), Map.of(), Map.of("fn", fn.name()), width(x));
    }

    /**
     * An element-wise activation writing a network output whose channel order is free ({@link Op#FREE_CHANNELS}: a base
     * encoder's pooled output).
     */
    public String act(String node, String x, Op.Activation fn, boolean freeChannels) {
        return freeChannels ? add(node, Op.ACT, List.of(x), Map.of(), Map.of("fn", fn.name(), Op.FREE_CHANNELS, 1L),
                width(x)) : act(node, x, fn);
    }

    /**
     * An element-wise activation that Lady's forward pass does not compute ({@code why}, {@link Op#FORWARD_UNSUPPORTED}):
     * {@code fn} is the stand-in the analysis sees (choose one that is not positively homogeneous, so that no neuron
     * is rescaled through it).
     */
    public String act(String node, String x, Op.Activation fn, String why) {
        return add(node, Op.ACT, List.of(x), Map.of(), Map.of("fn", fn.name(), Op.FORWARD_UNSUPPORTED, why), width(x));
    }

    public String maxPool(String node, String x, long kernel, long stride, long padding) {
        return maxPool(node, x, kernel, stride, padding, false);
    }

    public String maxPool(String node, String x, long kernel, long stride, long padding, boolean ceil) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kernel", new long[] {kernel, kernel});
        a.put("stride", new long[] {stride, stride});
        a.put("padding", new long[] {padding, padding});
        a.put("ceil", ceil ? 1L : 0L);
        return add(node, Op.MAX_POOL, List.of(x), Map.of(), a, width(x));
    }

    public String avgPool(String node, String x, long kernel, long stride, long padding) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kernel", new long[] {kernel, kernel});
        a.put("stride", new long[] {stride, stride});
        a.put("padding", new long[] {padding, padding});
        a.put("ceil", 0L);
        a.put("count_include_pad", 1L);
        return add(node, Op.AVG_POOL, List.of(x), Map.of(), a, width(x));
    }

    public String adaptiveAvgPool(String node, String x, long size) {
        return add(node, Op.ADAPTIVE_AVG_POOL, List.of(x), Map.of(), Map.of("size", new long[] {size, size}), width(x));
    }

    public String dropout(String node, String x, double p) {
        return add(node, Op.DROPOUT, List.of(x), Map.of(), Map.of("p", p), width(x));
    }

    /** {@code a + b}: a residual connection. */
    public String add(String node, String a, String b) {
        return add(node, Op.ADD, List.of(a, b), Map.of(), Map.of(), width(a));
    }

    /** {@code a * b} with broadcasting (b may be {@code N x C x 1 x 1}). */
    public String mul(String node, String a, String b) {
        return add(node, Op.MUL, List.of(a, b), Map.of(), Map.of(), width(a));
    }

    /**
     * {@code a * b}, channel by channel, writing a network output whose channel order is free ({@link Op#FREE_CHANNELS}):
     * the products a dual encoder's logits sum, which tie its two towers' embedding spaces (CLIP's image and text
     * embeddings).
     */
    public String freeProduct(String node, String a, String b) {
        return add(node, Op.MUL, List.of(a, b), Map.of(), Map.of(Op.FREE_CHANNELS, 1L), width(a));
    }

    /** Concatenation along {@code axis}; along axis 1 of images the channels add up. */
    public String concat(String node, List<String> xs, long axis, boolean channelAxis) {
        long w = channelAxis ? 0 : width(xs.get(0));
        if (channelAxis) {
            for (String x : xs) {
                w += width(x);
            }
        }
        return add(node, Op.CONCAT, xs, Map.of(), Map.of("axis", axis, "channels", channelAxis ? 1L : 0L), w);
    }

    /** Flattens an image to {@code N x C*H*W}; {@code spatial} = H*W when known, else 0. */
    public String flatten(String node, String x, long spatial) {
        long c = width(x);
        return add(node, Op.FLATTEN, List.of(x), Map.of(), Map.of("start", 1L), spatial > 0 && c > 0 ? c * spatial : -1);
    }

    /** {@code N x C x H x W -> N x H*W x C}. */
    public String toTokens(String node, String x) {
        return add(node, Op.TO_TOKENS, List.of(x), Map.of(), Map.of(), width(x));
    }

    /**
     * A parameter used as an activation ({@code tensor} of the given shape, channels on its last axis);
     * with {@code batchOf} non-null it is expanded to that value's batch.
     */
    public String param(String node, String tensor, long[] shape, String batchOf) {
        tensor(tensor, shape);
        Map<String, String> p = Map.of("value", tensor);
        List<String> in = batchOf == null ? List.of() : List.of(batchOf);
        return add(node, Op.PARAM, in, p, Map.of("expand", batchOf == null ? 0L : 1L),
                shape.length == 0 ? 1 : shape[shape.length - 1]); // (a scalar: CLIP's logit_scale)
    }

    /** {@code x.select(axis, index)}. */
    public String select(String node, String x, long axis, long index) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("axis", axis);
        a.put("index", index);
        return add(node, Op.SELECT, List.of(x), Map.of(), a, width(x));
    }

    /** {@code x.narrow(axis, from, size - from).mean(axis)}: the mean of the tokens after the prefix ({@link Op#MEAN_FROM}). */
    public String meanFrom(String node, String x, long axis, long from) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("axis", axis);
        a.put(Op.MEAN_FROM, from);
        return add(node, Op.SELECT, List.of(x), Map.of(), a, width(x));
    }

    /** torchvision's packed multi-head self-attention (module path {@code module}). */
    public String attention(String module, String x, long heads) {
        return attention(module, x, heads, Map.of("in_proj_weight", module + ".in_proj_weight", "in_proj_bias",
                module + ".in_proj_bias", "out_proj_weight", module + ".out_proj.weight", "out_proj_bias",
                module + ".out_proj.bias"));
    }

    /**
     * The same attention with its four tensors named by {@code names} (roles in_proj_weight [3d, d], q, k and v rows
     * in that order and each head's rows together, in_proj_bias [3d], out_proj_weight [d, d], out_proj_bias [d]):
     * timm's {@code attn.qkv} and {@code attn.proj}, which compute what nn.MultiheadAttention does.
     */
    public String attention(String module, String x, long heads, Map<String, String> names) {
        return attention(module, x, heads, names, null, false);
    }

    /** The same attention, each token seeing itself and the tokens before it (a text transformer's causal mask). */
    public String causalAttention(String module, String x, long heads, Map<String, String> names) {
        return attention(module, x, heads, names, null, true);
    }

    private String attention(String module, String x, long heads, Map<String, String> names, String kv, boolean causal) {
        long d = width(x);
        if (kv != null) {
            sameWidth(module, x, kv);
        }
        if (heads < 1 || d % heads != 0) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": " + module + " has width " + d
                    + ", not divisible into " + heads + " heads");
        }
        Map<String, long[]> shapes = Map.of("in_proj_weight", new long[] {3 * d, d}, "in_proj_bias", new long[] {3 * d},
                "out_proj_weight", new long[] {d, d}, "out_proj_bias", new long[] {d});
        Map<String, String> p = new LinkedHashMap<>();
        for (String role : List.of("in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias")) {
            String t = names.get(role);
            if (t == null) {
                throw new LadyException(LadyException.Kind.INTERNAL, name + ": " + module + ": no tensor for " + role);
            }
            tensor(t, shapes.get(role));
            p.put(role, t);
        }
        return add(module, Op.ATTENTION, kv == null ? List.of(x) : List.of(x, kv), p, causal ? Map.of("heads", heads,
                "causal", 1L) : Map.of("heads", heads), d);
    }

    /**
     * The same attention with its queries from {@code x} and its keys and values from {@code kv}, the same width
     * (nn.MultiheadAttention called as attention(query, key, value): SigLIP's attention pooling, a learned probe's
     * query over the tokens).
     */
    public String crossAttention(String module, String x, String kv, long heads) {
        return attention(module, x, heads, Map.of("in_proj_weight", module + ".in_proj_weight", "in_proj_bias",
                module + ".in_proj_bias", "out_proj_weight", module + ".out_proj.weight", "out_proj_bias",
                module + ".out_proj.bias"), kv, false);
    }

    /**
     * Llama-style attention with separate projections: {@code names} maps q_weight, k_weight, v_weight,
     * o_weight (and optional q_bias, k_bias, v_bias, o_bias) to tensor names, optionally q_norm and k_norm to
     * Qwen3's per-head RMSNorm weights [headDim] (on dimensions inside a head: in no channel space, never moved), and
     * optionally rope_inv_freq to the rotary frequencies [headDim / 2] that older transformers versions saved with the
     * weights (a buffer: in no channel space, never moved; the forward uses it).
     */
    public String attentionGqa(String module, String x, Map<String, String> names, long heads, long kvHeads,
            long headDim, double ropeTheta) {
        return attentionGqa(module, x, names, heads, kvHeads, headDim, Map.of("rope_theta", ropeTheta));
    }

    /**
     * As {@link #attentionGqa(String, String, Map, long, long, long, double)} with the rotary embedding's attributes
     * ({@code rope_theta} and its scaling, {@link Op#ATTENTION_GQA}) and any other attribute of the node.
     */
    public String attentionGqa(String module, String x, Map<String, String> names, long heads, long kvHeads,
            long headDim, Map<String, Object> ropeAttrs) {
        return attentionGqa(module, x, null, names, heads, kvHeads, headDim, ropeAttrs);
    }

    /**
     * As {@link #attentionGqa(String, String, Map, long, long, long, Map)} with its queries from {@code x} and its keys
     * and values from {@code kv}, of the same width (an encoder-decoder's cross-attention: T5's EncDecAttention over
     * the encoder's output).
     */
    public String crossAttentionGqa(String module, String x, String kv, Map<String, String> names, long heads,
            long kvHeads, long headDim, Map<String, Object> attrs) {
        sameWidth(module, x, kv);
        return attentionGqa(module, x, kv, names, heads, kvHeads, headDim, attrs);
    }

    /** Refuses a cross-attention whose keys and values ({@code kv}) differ in width from its queries ({@code x}). */
    private void sameWidth(String module, String x, String kv) {
        if (width(kv) != width(x)) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": " + module + "'s keys and values have width "
                    + width(kv) + ", its queries " + width(x));
        }
    }

    private String attentionGqa(String module, String x, String kv, Map<String, String> names, long heads, long kvHeads,
            long headDim, Map<String, Object> ropeAttrs) {
        long d = width(x);
        boolean rotates = !Long.valueOf(0).equals(ropeAttrs.get("rotary_dim")); // (RoPE pairs a head's dimensions)
        if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || headDim < 1 || (rotates && headDim % 2 != 0)) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": " + module + ": " + heads + " heads, "
                    + kvHeads + " KV heads of dimension " + headDim + " are not a valid grouped-query attention");
        }
        long rotaryDim = ropeAttrs.get("rotary_dim") instanceof Long r ? r : headDim; // (the stored frequencies: one per pair)
        Map<String, String> p = new LinkedHashMap<>();
        Map<String, long[]> shapes = Map.ofEntries(Map.entry("q_weight", new long[] {heads * headDim, d}),
                Map.entry("qkv_weight", new long[] {(heads + 2 * kvHeads) * headDim, d}),
                Map.entry("qkv_bias", new long[] {(heads + 2 * kvHeads) * headDim}),
                Map.entry("k_weight", new long[] {kvHeads * headDim, d}), Map.entry("v_weight", new long[] {kvHeads * headDim, d}),
                Map.entry("o_weight", new long[] {d, heads * headDim}), Map.entry("q_bias", new long[] {heads * headDim}),
                Map.entry("k_bias", new long[] {kvHeads * headDim}), Map.entry("v_bias", new long[] {kvHeads * headDim}),
                Map.entry("o_bias", new long[] {d}), Map.entry("rope_inv_freq", new long[] {rotaryDim / 2}),
                Map.entry("q_norm", new long[] {headDim}), Map.entry("k_norm", new long[] {headDim}),
                Map.entry("q_norm_full", new long[] {heads * headDim}), Map.entry("k_norm_full", new long[] {kvHeads * headDim}));
        boolean transposed = Long.valueOf(1).equals(ropeAttrs.get("transposed")); // weights [in, out] (GPT-2's Conv1D)
        for (String role : List.of("q_weight", "q_bias", "k_weight", "k_bias", "v_weight", "v_bias", "qkv_weight",
                "qkv_bias", "o_weight", "o_bias", "rope_inv_freq", "q_norm", "k_norm", "q_norm_full", "k_norm_full")) {
            String t = names.get(role);
            if (t != null) {
                long[] shape = shapes.get(role);
                tensor(t, transposed && shape.length == 2 ? new long[] {shape[1], shape[0]} : shape);
                p.put(role, t);
            }
        }
        // declared by the caller: buffers saved with the weights (a causal mask), never used; a bias per head (T5's
        // relative position buckets, one table shared by every layer)
        names.forEach((role, t) -> {
            if (role.startsWith(BUFFER) || role.equals("head_bias")) {
                if (!tensors.containsKey(t)) {
                    throw new LadyException(LadyException.Kind.INTERNAL, name + ": " + module + ": undeclared " + role + " "
                            + t);
                }
                p.put(role, t);
            }
        });
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("heads", heads);
        a.put("kv_heads", kvHeads);
        a.put("head_dim", headDim);
        a.putAll(ropeAttrs);
        return add(module, Op.ATTENTION_GQA, kv == null ? List.of(x) : List.of(x, kv), p, a, d);
    }

    /**
     * Swin's shifted-window self-attention on an image {@code N x C x H x W} (an {@link Op#ATTENTION_GQA} node with
     * attrs window and window_shift, which lady.model.SwinAttention runs) of module {@code module}: the packed q, k, v
     * projection {@code module.qkv}, the output projection {@code module.proj}, the relative position bias table
     * {@code module.relative_position_bias_table} [(2 window - 1)^2, heads] (its columns move with the heads) and the
     * saved {@code module.relative_position_index} (int64, not read); no rotary embedding, every pixel of a window sees
     * every other.
     */
    public String windowAttention(String module, String x, long heads, long window, long shift) {
        return windowAttention(module, x, heads, window, shift, 0);
    }

    /**
     * As {@link #windowAttention(String, String, long, long, long)}, or with {@code cpbUnits} above 0 Swin V2's (attr
     * {@link Op#COSINE}): {@code module.logit_scale} [heads, 1, 1], the saved {@code module.relative_coords_table} [1,
     * 2 window - 1, 2 window - 1, 2] and index, and the position-bias MLP {@code module.cpb_mlp.0} (2 -> cpbUnits, with
     * bias) and {@code module.cpb_mlp.2} (cpbUnits -> heads, no bias) in place of the table.
     */
    public String windowAttention(String module, String x, long heads, long window, long shift, long cpbUnits) {
        return partitioned(module, x, heads, window, shift, cpbUnits, WindowLayout.TORCHVISION, false, true, window);
    }

    /**
     * Hugging Face's Swin attention ({@code SwinAttention}, module {@code module}: "...blocks.0.attention"), as
     * {@link #windowAttention(String, String, long, long, long)}: the bias table {@code module.self.relative_position_bias_table}
     * and the saved index {@code module.self.relative_position_index} [window^2, window^2], separate projections
     * {@code module.self.query}, {@code key}, {@code value} (with biases where {@code qkvBias}) and the output
     * {@code module.output.dense}.
     */
    public String hfWindowAttention(String module, String x, long heads, long window, long shift, boolean qkvBias) {
        return partitioned(module, x, heads, window, shift, 0, WindowLayout.HUGGING_FACE, false, qkvBias, window);
    }

    /**
     * Hugging Face's Swin V2 attention ({@code Swinv2Attention}, module {@code module}), as Swin V2's
     * {@link #windowAttention(String, String, long, long, long, long)}: {@code module.self.logit_scale} [heads, 1, 1],
     * the position-bias MLP {@code module.self.continuous_position_bias_mlp.0} (2 -> cpbUnits, with bias) and {@code .2}
     * (cpbUnits -> heads), separate {@code query} and {@code value} (with biases where {@code qkvBias}) and {@code key}
     * (no bias), the output {@code module.output.dense}; its coordinates table and index are not saved (the interpreter
     * computes them), the offsets scaled by {@code coordsWindow} - 1 (config.json's pretrained_window_sizes where set,
     * else the window).
     */
    public String hfWindowAttentionV2(String module, String x, long heads, long window, long shift, long cpbUnits,
            long coordsWindow, boolean qkvBias) {
        if (cpbUnits < 1) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": " + module + ": a Swin V2 attention needs "
                    + "its position-bias MLP's units, not " + cpbUnits);
        }
        return partitioned(module, x, heads, window, shift, cpbUnits, WindowLayout.HUGGING_FACE, false, qkvBias,
                coordsWindow);
    }

    /**
     * MaxViT's attention over partitions of an image (torchvision's RelativePositionalMultiHeadAttention inside a
     * PartitionAttentionLayer; run by lady.model.SwinAttention): windows of {@code window x window} neighbouring
     * pixels, or with {@code grid} ({@link Op#GRID}) a {@code window x window} grid of pixels H / window rows and W /
     * window columns apart; the packed q, k, v projection {@code module.to_qkv}, the output projection
     * {@code module.merge}, the relative position bias table {@code module.relative_position_bias_table} [(2 window -
     * 1)^2, heads] (its columns move with the heads) and the saved index {@code module.relative_position_index}
     * [window^2, window^2] (not read); no shift, no mask, and the scores scaled by the channels' width^-1/2 (attr
     * attn_scale), as torchvision scales them, not a head's.
     */
    public String partitionAttention(String module, String x, long heads, long window, boolean grid) {
        return partitioned(module, x, heads, window, 0, 0, WindowLayout.MAXVIT, grid, true, window);
    }

    /** Where an implementation keeps a window attention's tensors. */
    private enum WindowLayout {
        /** torchvision's Swin: {@code qkv}, {@code proj}, a flat saved index; V2's {@code cpb_mlp} and coordinates table. */
        TORCHVISION,
        /** torchvision's MaxViT: {@code to_qkv}, {@code merge}, a square saved index. */
        MAXVIT,
        /**
         * transformers' Swin: under {@code self}, separate {@code query}, {@code key}, {@code value}, a square saved index;
         * V2's {@code continuous_position_bias_mlp}, its key without bias, no table or index saved; {@code output.dense}.
         */
        HUGGING_FACE
    }

    /**
     * A window attention (Swin V1, or with {@code cpbUnits} above 0 Swin V2; MaxViT's with {@code grid}) with the
     * tensors where {@code layout} keeps them; q, k and v biases where {@code qkvBias} (packed projections always have
     * theirs); Swin V2's offsets scaled by {@code coordsWindow} - 1.
     */
    private String partitioned(String module, String x, long heads, long window, long shift, long cpbUnits,
            WindowLayout layout, boolean grid, boolean qkvBias, long coordsWindow) {
        boolean hf = layout == WindowLayout.HUGGING_FACE;
        boolean v2 = cpbUnits > 0;
        String self = hf ? module + ".self" : module;
        long d = width(x);
        if (heads < 1 || d % heads != 0 || window < (v2 ? 2 : 1) || shift < 0 || shift >= window
                || v2 && coordsWindow < 2) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": " + module + ": " + heads + " heads of "
                    + d + " channels over windows of " + window + " shifted by " + shift + " are not a valid window attention");
        }
        Map<String, String> p = new LinkedHashMap<>();
        if (v2) {
            p.put("head_scale", self + ".logit_scale");
            tensor(self + ".logit_scale", heads, 1, 1);
            if (!hf) {
                p.put(BUFFER + "coords", module + ".relative_coords_table");
                tensor(module + ".relative_coords_table", 1, 2 * window - 1, 2 * window - 1, 2);
            }
        } else {
            p.put("head_bias", self + ".relative_position_bias_table");
            tensor(self + ".relative_position_bias_table", (2 * window - 1) * (2 * window - 1), heads);
        }
        if (!(hf && v2)) {
            p.put(BUFFER + "index", self + ".relative_position_index");
            if (layout == WindowLayout.TORCHVISION) {
                tensor(self + ".relative_position_index", window * window * window * window);
            } else {
                tensor(self + ".relative_position_index", window * window, window * window);
            }
        }
        if (hf) {
            for (String[] qkv : new String[][] {{"q", ".query"}, {"k", ".key"}, {"v", ".value"}}) {
                p.put(qkv[0] + "_weight", params(self + qkv[1], "weight", new long[] {d, d}).get("weight"));
                if (qkvBias && !(v2 && qkv[0].equals("k"))) {
                    p.put(qkv[0] + "_bias", params(self + qkv[1], "bias", new long[] {d}).get("bias"));
                }
            }
        } else {
            String qkv = module + (layout == WindowLayout.MAXVIT ? ".to_qkv" : ".qkv");
            p.put("qkv_weight", params(qkv, "weight", new long[] {3 * d, d}).get("weight"));
            p.put("qkv_bias", params(qkv, "bias", new long[] {3 * d}).get("bias"));
        }
        String proj = module + (layout == WindowLayout.MAXVIT ? ".merge" : hf ? ".output.dense" : ".proj");
        p.put("o_weight", params(proj, "weight", new long[] {d, d}).get("weight"));
        p.put("o_bias", params(proj, "bias", new long[] {d}).get("bias"));
        if (v2) {
            String cpb = hf ? self + ".continuous_position_bias_mlp." : module + ".cpb_mlp.";
            p.put("cpb_in_weight", params(cpb + "0", "weight", new long[] {cpbUnits, 2}).get("weight"));
            p.put("cpb_in_bias", params(cpb + "0", "bias", new long[] {cpbUnits}).get("bias"));
            p.put("cpb_out_weight", params(cpb + "2", "weight", new long[] {heads, cpbUnits}).get("weight"));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("heads", heads);
        a.put("kv_heads", heads);
        a.put("head_dim", d / heads);
        a.put("rotary_dim", 0L);
        a.put("causal", 0L);
        a.put("head_bias_axis", 1L);
        a.put(Op.WINDOW, window);
        a.put(Op.WINDOW_SHIFT, shift);
        if (v2) {
            a.put(Op.COSINE, 1L);
            if (coordsWindow != window) {
                a.put(Op.COORDS_WINDOW, coordsWindow);
            }
        }
        if (layout == WindowLayout.MAXVIT) {
            a.put("attn_scale", 1 / Math.sqrt(d));
        }
        if (grid) {
            a.put(Op.GRID, 1L);
        }
        return add(module, Op.ATTENTION_GQA, List.of(x), p, a, d);
    }

    /**
     * ONNX's SpaceToDepth of mode DCR on an image: each {@code block x block} patch of pixels becomes {@code block^2}
     * runs of the channels, the patch's pixels in row-major order, or with {@code columnFirst} in column-major order
     * (Swin's patch merging: (0, 0), (1, 0), (0, 1), (1, 1)); the image is padded with zeros at its bottom and right to
     * whole patches first (attr {@link Op#PAD_TO_BLOCK}).
     */
    public String spaceToDepth(String node, String x, long block, boolean columnFirst) {
        return add(node, Op.SPACE_TO_DEPTH, List.of(x), Map.of(), Map.of("block", block, "mode", "DCR",
                Op.PIXEL_ORDER, columnFirst ? Op.COLUMN_FIRST : "row", Op.PAD_TO_BLOCK, 1L), width(x) * block * block);
    }

    /**
     * A sparse mixture of experts ({@link Op#MOE}) of module {@code module}: the router's weight {@code router}, each
     * expert's gate, up and down weights ({@code experts}: one {gate, up, down} per expert, or {gate_up, down} with the
     * gate rows and then the up rows in one tensor; its width from {@code widths}), and an optional shared expert
     * ({@code shared}: {gate, up, down, scale}, of width {@code sharedWidth}; null when there is none).
     */
    public String moe(String module, String x, String router, List<String[]> experts, long[] widths, String[] shared,
            long sharedWidth, long topK, boolean normTopK, Op.Activation fn, String why) {
        long d = width(x);
        long e = experts.size();
        if (e < 1 || widths.length != e || topK < 1 || topK > e) {
            throw new LadyException(LadyException.Kind.INVALID_INPUT, name + ": " + module + ": " + e + " experts, "
                    + topK + " per token are not a valid mixture of experts");
        }
        Map<String, String> p = new LinkedHashMap<>();
        tensor(router, e, d);
        p.put("router", router);
        for (int i = 0; i < e; i++) {
            String[] t = experts.get(i);
            if (t.length == 2) { // gate and up rows in one tensor (fused experts)
                tensor(t[0], 2 * widths[i], d);
                tensor(t[1], d, widths[i]);
                p.put("gate_up." + i, t[0]);
                p.put("down." + i, t[1]);
                continue;
            }
            tensor(t[0], widths[i], d);
            tensor(t[1], widths[i], d);
            tensor(t[2], d, widths[i]);
            p.put("gate." + i, t[0]);
            p.put("up." + i, t[1]);
            p.put("down." + i, t[2]);
        }
        if (shared != null) {
            tensor(shared[0], sharedWidth, d);
            tensor(shared[1], sharedWidth, d);
            tensor(shared[2], d, sharedWidth);
            tensor(shared[3], 1, d);
            p.put("shared_gate", shared[0]);
            p.put("shared_up", shared[1]);
            p.put("shared_down", shared[2]);
            p.put("shared_scale", shared[3]);
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("experts", e);
        a.put("top_k", topK);
        a.put("norm_topk", normTopK ? 1L : 0L);
        a.put("fn", fn.name());
        if (why != null) {
            a.put(Op.FORWARD_UNSUPPORTED, why);
        }
        return add(module, Op.MOE, List.of(x), p, a, d);
    }

    /** Token embedding {@code [vocab, dim]} named {@code tensor}. */
    public String embedding(String node, String ids, String tensor, long vocab, long dim) {
        return embedding(node, ids, tensor, vocab, dim, 1);
    }

    /** Token embedding {@code [vocab, dim]} named {@code tensor}, its rows times {@code scale} (Gemma's sqrt(dim)). */
    public String embedding(String node, String ids, String tensor, long vocab, long dim, double scale) {
        tensor(tensor, vocab, dim);
        return add(node, Op.EMBEDDING, List.of(ids), Map.of("weight", tensor), scale == 1 ? Map.of()
                : Map.of("scale", scale), dim);
    }

    /**
     * Computed sinusoidal positions ({@link Op#SINUSOIDS}) of the tokens {@code ids}: a table of {@code rows} rows and
     * {@code width} columns, padding row {@code paddingIdx}.
     */
    public String sinusoids(String node, String ids, long rows, long width, long paddingIdx) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("rows", rows);
        a.put("width", width);
        a.put(Op.PADDING_IDX, paddingIdx);
        return add(node, Op.SINUSOIDS, List.of(ids), Map.of(), a, width);
    }

    /**
     * Embedding {@code h} read as one with the embedding of {@code tie} [vocab, dim] on the same {@code ids} (a tie that
     * torch.save wrote under a second name: T5's and BART's {@code encoder.embed_tokens} beside {@code shared}): their
     * mean, nodes {@code prefix}embeddings.both and .mean, the tie's embedding node named as its module.
     */
    public String meanWithTie(String prefix, String h, String ids, String tie, long vocab, long dim, double scale) {
        String tieNode = tie.substring(0, tie.lastIndexOf('.'));
        return scale(prefix + "embeddings.mean", add(prefix + "embeddings.both", h, embedding(tieNode, ids, tie, vocab,
                dim, scale)), 0.5);
    }

    /** The role prefix of an attention's buffers ({@link #attentionGqa}): tensors it holds and never reads. */
    public static final String BUFFER = "buffer.";

    /**
     * Learned position embeddings {@code [positions, dim]} named {@code tensor} (GPT-2's wpe): row {@code offset + t}
     * for the token at position t of {@code ids} ({@link Op#EMBEDDING} with attr position_offset).
     */
    public String positionEmbedding(String node, String ids, String tensor, long positions, long dim, long offset) {
        return positionEmbedding(node, ids, tensor, positions, dim, offset, -1, Map.of());
    }

    /**
     * As {@link #positionEmbedding(String, String, String, long, long, long)}, the padding token's id {@code paddingIdx}
     * (RoBERTa's, {@link Op#PADDING_IDX}; -1: none), and {@code buffers} (name -> shape): tensors saved with it that it
     * does not read (BERT's position_ids).
     */
    public String positionEmbedding(String node, String ids, String tensor, long positions, long dim, long offset,
            long paddingIdx, Map<String, long[]> buffers) {
        tensor(tensor, positions, dim);
        Map<String, String> p = new LinkedHashMap<>();
        p.put("weight", tensor);
        buffers.forEach((t, shape) -> {
            tensor(t, shape);
            p.put(BUFFER + t.substring(t.lastIndexOf('.') + 1), t);
        });
        Map<String, Object> a = new LinkedHashMap<>();
        a.put(Op.POSITION_OFFSET, offset);
        if (paddingIdx >= 0) {
            a.put(Op.PADDING_IDX, paddingIdx);
        }
        return add(node, Op.EMBEDDING, List.of(ids), p, a, dim);
    }

    /**
     * An embedding {@code [rows, dim]} named {@code tensor} whose row {@code row} is added at every position, whatever the
     * token ({@link Op#FIXED_ROW}: BERT's token_type_embeddings, every token of type 0).
     */
    public String rowEmbedding(String node, String ids, String tensor, long rows, long dim, long row) {
        tensor(tensor, rows, dim);
        return add(node, Op.EMBEDDING, List.of(ids), Map.of("weight", tensor), Map.of(Op.FIXED_ROW, row), dim);
    }

    /** Bilinear resize of {@code x} to the spatial size of {@code like}. */
    public String interpolate(String node, String x, String like) {
        return add(node, Op.INTERPOLATE, List.of(x, like), Map.of(), Map.of("mode", "bilinear"), width(x));
    }

    /** Nearest-neighbour resize of {@code x} to the spatial size of {@code like} (a feature pyramid's top-down path). */
    public String interpolateNearest(String node, String x, String like) {
        return add(node, Op.INTERPOLATE, List.of(x, like), Map.of(), Map.of("mode", "nearest"), width(x));
    }

    /** The channels [start, start + length) of image {@code x} (torch.chunk, {@code x[:, start:start + length]}). */
    public String sliceChannels(String node, String x, long start, long length) {
        return add(node, Op.SLICE_CHANNELS, List.of(x), Map.of(), Map.of("axis", 1L, "start", start, "length", length),
                length);
    }

    /**
     * torchvision's SqueezeExcitation on image {@code x} (module {@code module}): average pooling, the 1x1 conv
     * {@code module.fc1} to {@code squeeze} channels and {@code act}, {@code module.fc2} back to x's channels and
     * {@code gate}, the product with x.
     */
    public String squeezeExcitation(String module, String x, long squeeze, Op.Activation act, Op.Activation gate) {
        String s = adaptiveAvgPool(module + ".avgpool", x, 1);
        s = act(module + ".activation", conv(module + ".fc1", s, squeeze, 1, 1, 0, true), act);
        s = act(module + ".scale_activation", conv(module + ".fc2", s, width(x), 1, 1, 0, true), gate);
        return mul(module + ".mul", x, s);
    }

    /** ShuffleNet's channel shuffle of {@code groups} groups ({@link Op#CHANNEL_SHUFFLE}). */
    public String channelShuffle(String node, String x, long groups) {
        return add(node, Op.CHANNEL_SHUFFLE, List.of(x), Map.of(), Map.of("groups", groups), width(x));
    }

    /** An operation the analysis does not know: everything it touches stays in place. */
    public String opaque(String node, List<String> xs, String type, Map<String, String> params, long outWidth) {
        return add(node, Op.OPAQUE, xs, params, Map.of("type", type), outWidth);
    }

    /** Adds a fully specified node (importers); its tensors must have been declared with {@link #tensor}. */
    public String node(Node n, long outWidth) {
        for (String t : n.params().values()) {
            if (!tensors.containsKey(t)) {
                throw new LadyException(LadyException.Kind.INTERNAL, name + ": node " + n.name() + " uses undeclared tensor " + t);
            }
        }
        nodes.add(n);
        width.put(n.output(), outWidth);
        return n.output();
    }

    /** The graph, returning {@code outputs}. */
    public Graph build(String... outputs) {
        return new Graph(name, inputs, nodes, List.of(outputs), tensors);
    }

    private Map<String, String> params(String module, String role, long[] shape) {
        String t = module + "." + role;
        tensor(t, shape);
        Map<String, String> p = new LinkedHashMap<>();
        p.put(role, t);
        return p;
    }

    private String add(String node, Op op, List<String> in, Map<String, String> params, Map<String, Object> attrs, long outWidth) {
        Node n = new Node(node + nodeSuffix, op, in, node + nodeSuffix, params, attrs);
        nodes.add(n);
        width.put(n.output(), outWidth);
        return n.output();
    }
}
