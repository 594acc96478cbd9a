package lady.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import lady.LadyException;
import lady.graph.Graph;
import lady.graph.Node;
import lady.graph.Op;

/**
 * The rules of {@link OnnxGraph}'s import: one pass over an ONNX model in topological order that tracks, for
 * every value, its shape and the axis that holds its channels, and writes each node as the graph operation
 * with the same effect on channels (see {@link OnnxGraph} for the list). A node it cannot follow becomes an
 * {@link Op#OPAQUE} node with the reason; one whose attributes do not fit its operator as well (never an
 * exception).
 */
final class OnnxImporter {
    /** Integer and float constants with at most this many elements are read for shape computations. */
    static final int MAX_FOLDED = 1 << 12;

    /** The axis of a value that holds channels Lady does not follow (pinned): an opaque value. */
    private static final int UNKNOWN = -1;

    /**
     * A value as one tensor's entries: for each axis of the value, the tensor's axis it is, or -1 for an
     * inserted axis of size 1.
     */
    private record View(String tensor, int[] axes, List<Companion> companions) {
        View(String tensor, int[] axes) {
            this(tensor, axes, List.of());
        }

        /** The same tensor (and companions) seen through other axes. */
        View to(int[] newAxes) {
            return new View(tensor, newAxes, companions);
        }

        boolean quantized() {
            return !companions.isEmpty();
        }

        boolean whole(int rank) {
            if (axes.length != rank) {
                return false;
            }
            for (int i = 0; i < rank; i++) {
                if (axes[i] != i) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * A stored vector that moves with one axis of a view's tensor: the per-axis scale or zero point of a
     * DequantizeLinear that reads a quantized weight ({@code axis}: of the stored tensor).
     */
    private record Companion(String tensor, int axis) {}

    /**
     * What the import knows of an ONNX value. A data value depends on the order of some channels and is a
     * value of the imported graph ({@code lady}); a free one does not (constants, shape computations, channel
     * reductions) and has no place there.
     */
    private static final class Val {
        final long[] shape;
        final boolean data;
        final int caxis;
        final String lady;
        final long[] ints;
        final double[] reals;
        /** A whole or rearranged stored tensor (never a quantized one: every rule can read it). */
        final View view;
        /** A quantized stored tensor with its per-axis scales and zero points: only the rules that move them read it. */
        final View quant;

        private Val(long[] shape, boolean data, int caxis, String lady, long[] ints, double[] reals, View view) {
            this.shape = shape;
            this.data = data;
            this.caxis = caxis;
            this.lady = lady;
            this.ints = ints;
            this.reals = reals;
            boolean q = view != null && view.quantized();
            this.view = q ? null : view;
            this.quant = q ? view : null;
        }

        /** The stored tensor this value is, quantized or not, or null. */
        View stored() {
            return view != null ? view : quant;
        }

        static Val data(String lady, long[] shape, int caxis) {
            return new Val(shape, true, caxis, lady, null, null, null);
        }

        static Val free(long[] shape, long[] ints, double[] reals, View view) {
            return new Val(shape, false, UNKNOWN, null, ints, reals, view);
        }

        int rank() {
            return shape == null ? -1 : shape.length;
        }

        long dim(int axis) {
            return shape == null || axis < 0 || axis >= shape.length ? -1 : shape[axis];
        }

        boolean known() {
            return OnnxShapes.known(shape);
        }
    }

    /** Operators that keep the layout of their first input, element by element. */
    private static final Set<String> ELEMENTWISE = Set.of("LeakyRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign",
            "Mish", "ThresholdedRelu", "Shrink", "Erf", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Floor", "Ceil",
            "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
            "Not", "IsNaN", "IsInf", "Identity", "Cast", "CastLike", "Softmax", "LogSoftmax", "Hardmax",
            "LpNormalization", "BitwiseNot");
    /** Element-wise operators of several inputs whose sum-like form ties a residual stream. */
    private static final Set<String> SUMS = Set.of("Add", "Sub", "Sum", "Mean");
    /** Other element-wise operators of several inputs (broadcasting). */
    private static final Set<String> PRODUCTS = Set.of("Mul", "Div", "Pow", "Max", "Min", "Where", "Equal", "Greater",
            "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Mod", "BitwiseAnd", "BitwiseOr", "BitwiseXor");
    /** Reductions whose result does not depend on the order of the reduced entries. */
    private static final Set<String> SYMMETRIC_REDUCTIONS = Set.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
            "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare");
    /** Operators whose output has the shape of their first input. */
    private static final Set<String> SAME_SHAPE = Set.of("Relu", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "Gelu",
            "Clip", "Dropout", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "LRN",
            "MeanVarianceNormalization", "GroupNormalization", "DequantizeLinear", "QuantizeLinear");

    /** Whether operator {@code op} gives an output of its first input's shape. */
    static boolean keepsShape(String op) {
        return ELEMENTWISE.contains(op) || SAME_SHAPE.contains(op);
    }

    /** Operators that need more than one input (an ONNX file that gives fewer is malformed: opaque). */
    private static final Map<String, Integer> MIN_INPUTS = Map.ofEntries(Map.entry("Conv", 2), Map.entry("ConvTranspose", 2),
            Map.entry("Gemm", 2), Map.entry("MatMul", 2), Map.entry("BatchNormalization", 5),
            Map.entry("InstanceNormalization", 3), Map.entry("LayerNormalization", 2), Map.entry("PRelu", 2),
            Map.entry("Where", 3), Map.entry("Reshape", 2), Map.entry("Gather", 2), Map.entry("Expand", 2),
            Map.entry("Tile", 2));
    /** Operators whose outputs after the first may be read (the others are opaque then). */
    private static final Set<String> MULTI_OUTPUT = Set.of("Split", "LSTM", "GRU", "RNN");

    private final OnnxModel model;
    private final Map<String, Val> vals = new HashMap<>();
    private final List<Graph.Input> inputs = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, long[]> tensors = new HashMap<>();
    private final Set<String> nodeNames = new HashSet<>();
    private final Map<String, List<OnnxModel.ResolvedNode>> readers = new HashMap<>();
    /** The node writing each value. */
    private final Map<String, OnnxModel.ResolvedNode> writers = new HashMap<>();
    private final Set<String> outputs = new HashSet<>();
    private final Set<Integer> fused = new HashSet<>();
    /**
     * Three nodes read as one, by the last (a Reshape back to an image): its first two, held back until it is reached.
     * PyTorch's export of a group norm (Reshape into groups, InstanceNormalization), of a channel shuffle (Reshape into
     * groups, Transpose of the groups and the channels) and of PixelUnshuffle (Reshape to [N, C, H / r, r, W / r, r],
     * Transpose of the pixels of each block next to the channel). Also the output of a bidirectional recurrent layer
     * ({@code first}, read already) as PyTorch reads it (its two directions next to each other, then merged into one axis
     * of 2 H channels): the Transpose held back until the Reshape.
     */
    private record Held(Kind kind, OnnxModel.ResolvedNode first, OnnxModel.ResolvedNode middle) {
        enum Kind { GROUP_NORM, SHUFFLE, UNSHUFFLE, BIDIRECTIONAL }
    }

    private final Map<Integer, Held> held = new HashMap<>();
    /** The value of the imported graph holding a recurrent layer's hidden units, by the ONNX node's index. */
    private final Map<Integer, String> recurrentUnits = new HashMap<>();

    /**
     * A value whose axis 0 indexes values of the imported graph, each with its channels on the last axis: the last
     * states of recurrent layers ([directions, N, H], each direction's units), and their stacks along axis 0 (PyTorch's
     * h_n, one layer after the other). Picking one ({@code h_n[-1]}) gives its units; concatenating and slicing along
     * axis 0 keep them apart; any other reader gets them concatenated along axis 0, their spaces then tied.
     */
    private record Stack(List<String> entries, long[] shape) {}

    private final Map<String, Stack> stacks = new HashMap<>();

    /** Attention blocks by the ONNX node each is written at (its output projection), and the nodes they replace. */
    private final Map<Integer, OnnxAttention.Block> anchors = new HashMap<>();
    private final Set<Integer> replaced = new HashSet<>();
    /** The first pass's values (the second pass takes those of the nodes a block replaces). */
    private final Map<String, Val> earlier;
    /** The linear layers written, by their output value and by their ONNX node. */
    private final Map<String, OnnxAttention.Linear> linears = new HashMap<>();
    private final Map<Integer, OnnxAttention.Linear> linearsAt = new HashMap<>();
    /** {@link #followed()}, computed once. */
    private Set<String> followed;

    private OnnxImporter(OnnxModel model, List<OnnxAttention.Block> blocks, Map<String, Val> earlier) {
        this.model = model;
        this.earlier = earlier;
        for (OnnxAttention.Block b : blocks) {
            anchors.put(b.anchor(), b);
            replaced.addAll(b.members());
        }
    }

    /**
     * Imports {@code model}: a first pass node by node, then, when it holds multi-head attention blocks
     * ({@link OnnxAttention}), a second pass that writes each block as one attention node.
     */
    static Graph importGraph(OnnxModel model) {
        OnnxImporter first = new OnnxImporter(model, List.of(), Map.of());
        Graph g = first.run();
        List<OnnxAttention.Block> blocks = OnnxAttention.find(model.topologicalOrder(), first.readers, first.outputs,
                first.facts());
        if (blocks.isEmpty()) {
            return g;
        }
        try {
            return new OnnxImporter(model, blocks, first.vals).run();
        } catch (RuntimeException e) { // not expected: the first pass read the same nodes; its graph stands
            return g;
        }
    }

    /**
     * The nodes of {@code model} whose inputs have ranks their operator does not accept (a Conv or a pool on a matrix, a
     * Conv whose weight has another rank than its input), as far as the import's shape inference knows the ranks: one
     * message each. ONNX Runtime 1.23 ends the process on some of them while it loads the model (an assertion in its
     * shape inference) instead of reporting an error.
     */
    static List<String> malformed(OnnxModel model) {
        OnnxImporter i = new OnnxImporter(model, List.of(), Map.of());
        try {
            i.run();
        } catch (RuntimeException e) { // a graph the import cannot read: ONNX Runtime's own checks decide
            return List.of();
        }
        return List.copyOf(i.malformed);
    }

    /** Messages of {@link #malformed}, in the order found. */
    private final Set<String> malformed = new LinkedHashSet<>();

    /** Records node {@code r} in {@link #malformed} when its data input's rank does not fit its operator. */
    private void checkRanks(OnnxModel.ResolvedNode r, List<Val> ins) {
        OnnxNode n = r.node();
        Val x = ins.isEmpty() ? null : ins.get(0);
        if (x == null || x.shape == null || !(n.domain().isEmpty() || n.domain().equals("ai.onnx"))) {
            return;
        }
        int rank = x.shape.length;
        Val w = ins.size() > 1 ? ins.get(1) : null;
        String why = switch (n.opType()) {
            case "Conv", "ConvTranspose", "ConvInteger" -> rank < 3 ? "a rank-" + rank + " input"
                    : w != null && w.shape != null && w.shape.length != rank ? "a rank-" + rank + " input and a rank-"
                    + w.shape.length + " weight" : null;
            case "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
                    "InstanceNormalization", "LRN" -> rank < 3 ? "a rank-" + rank + " input" : null;
            case "BatchNormalization" -> rank < 2 ? "a rank-" + rank + " input" : null;
            default -> null;
        };
        if (why != null) {
            malformed.add(Onnx.nodeLabel(n.opType(), n.name(), n.outputs()) + " reads " + why);
        }
    }

    /**
     * The data values that depend on a value whose channels the first pass followed (a known channel axis), directly
     * or through others: every value but those computed from token ids, position ids, masks and constants alone.
     */
    private Set<String> followed() {
        if (followed == null) {
            followed = new HashSet<>();
            for (OnnxModel.ResolvedNode r : model.topologicalOrder()) {
                boolean depends = false;
                for (OnnxModel.Operand op : r.inputs()) {
                    Val v = op.kind() == OnnxModel.Operand.Kind.VALUE || op.kind() == OnnxModel.Operand.Kind.GRAPH_INPUT
                            ? vals.get(op.name()) : null;
                    depends |= v != null && v.data && (v.caxis != UNKNOWN || followed.contains(op.name()));
                }
                if (depends) {
                    for (String o : r.node().outputs()) {
                        if (!o.isEmpty()) {
                            followed.add(o);
                        }
                    }
                }
            }
        }
        return followed;
    }

    private OnnxAttention.Facts facts() {
        return new OnnxAttention.Facts() {
            @Override
            public List<OnnxAttention.Operand> operands(OnnxModel.ResolvedNode r) {
                Set<String> followed = followed();
                List<OnnxAttention.Operand> out = new ArrayList<>();
                List<Val> ins = OnnxImporter.this.operands(r);
                for (int i = 0; i < ins.size(); i++) {
                    Val v = ins.get(i);
                    String name = r.inputs().get(i).name();
                    out.add(v == null ? null : new OnnxAttention.Operand(v.shape, v.ints, v.data,
                            v.data && v.caxis == UNKNOWN && !followed.contains(name)));
                }
                return out;
            }

            @Override
            public long[] shape(String value) {
                Val v = vals.get(value);
                return v == null ? null : v.shape;
            }

            @Override
            public OnnxAttention.Linear linear(String value) {
                return linears.get(value);
            }

            @Override
            public OnnxAttention.Linear linearAt(int index) {
                return linearsAt.get(index);
            }

            @Override
            public boolean floatInitializer(String value) {
                String name = model.initializerOf(value);
                OnnxInitializer info = name == null ? null : model.initializer(name);
                return info != null && info.inStateDict() && info.dtype().checkpointType() != null
                        && info.dtype().checkpointType().floating();
            }
        };
    }

    private Graph run() {
        List<OnnxModel.ResolvedNode> order = model.topologicalOrder();
        for (OnnxModel.ResolvedNode r : order) {
            for (String in : r.node().inputs()) {
                readers.computeIfAbsent(in, k -> new ArrayList<>()).add(r);
            }
            for (String out : r.node().outputs()) {
                writers.put(out, r);
            }
        }
        model.outputs().forEach(o -> outputs.add(o.name()));
        for (OnnxValue in : model.inputs()) {
            input(in);
        }
        for (OnnxModel.ResolvedNode r : order) {
            if (fused.contains(r.index())) {
                continue;
            }
            OnnxAttention.Block b = anchors.get(r.index());
            if (b != null) {
                attention(r, b);
            } else if (held.containsKey(r.index())) {
                heldEnd(r);
            } else if (replaced.contains(r.index())) {
                for (String o : r.node().outputs()) { // read only for their shapes
                    if (!o.isEmpty() && earlier.containsKey(o)) {
                        vals.put(o, earlier.get(o));
                    }
                }
            } else {
                guarded(r);
            }
        }
        for (OnnxValue o : model.outputs()) { // a graph output's channels stay as they are
            if (stacks.containsKey(o.name())) {
                unstack(o.name());
            }
        }
        List<String> outs = new ArrayList<>();
        for (OnnxValue o : model.outputs()) {
            Val v = vals.get(o.name());
            if (v != null && v.data && !outs.contains(v.lady)) {
                outs.add(v.lady);
            }
        }
        Map<String, long[]> ordered = new LinkedHashMap<>();
        for (String t : model.tensors().keySet()) {
            for (String part : model.parts().getOrDefault(t, List.of(t))) {
                if (tensors.containsKey(part)) {
                    ordered.put(part, tensors.get(part));
                }
            }
        }
        return new Graph(OnnxGraph.architecture(model), inputs, nodes, outs, ordered);
    }

    private void input(OnnxValue in) {
        long[] shape = OrtRunner.concreteShape(in, OrtRunner.Options.DEFAULT);
        boolean floating = in.elemType() == OnnxDType.FLOAT || in.elemType() == OnnxDType.DOUBLE
                || in.elemType() == OnnxDType.FLOAT16 || in.elemType() == OnnxDType.BFLOAT16;
        if (floating && shape != null && (shape.length == 4 || shape.length == 2) && shape[1] > 0) {
            boolean fixed = shape.length == 4 && in.shape().get(2).fixed();
            inputs.add(new Graph.Input(in.name(), Graph.Input.Kind.IMAGE, shape[1], shape.length == 4 ? shape[2] : 0, fixed));
            vals.put(in.name(), Val.data(in.name(), shape, 1));
        } else {
            // pinned channels that no analysis follows: token ids, sequences, audio
            inputs.add(new Graph.Input(in.name(), Graph.Input.Kind.TOKENS, 0, 0, false));
            vals.put(in.name(), Val.data(in.name(), shape, UNKNOWN));
        }
    }

    // ---- operands and emission ----

    private List<Val> operands(OnnxModel.ResolvedNode r) {
        List<Val> ins = new ArrayList<>();
        for (int i = 0; i < r.inputs().size(); i++) {
            OnnxModel.Operand op = r.inputs().get(i);
            ins.add(switch (op.kind()) {
                case NONE -> null;
                case INITIALIZER -> initializer(r, i);
                case GRAPH_INPUT, VALUE -> vals.get(op.name());
            });
        }
        return ins;
    }

    private Val initializer(OnnxModel.ResolvedNode r, int i) {
        String init = r.inputs().get(i).name();
        OnnxInitializer info = model.initializer(init);
        long[] shape = info.shape();
        View view = info.inStateDict() ? new View(model.tensorOf(r.index(), i), identity(shape.length)) : null;
        return Val.free(shape, model.smallLongs(init, MAX_FOLDED), model.smallDoubles(init, MAX_FOLDED), view);
    }

    private static int[] identity(int rank) {
        int[] a = new int[rank];
        for (int i = 0; i < rank; i++) {
            a[i] = i;
        }
        return a;
    }

    /** A name for a new node of the imported graph: the ONNX node's, made unique. */
    private String name(OnnxNode n) {
        String base = n.name().isEmpty() ? (n.outputs().isEmpty() ? n.opType() : n.outputs().get(0)) : n.name();
        String name = base;
        for (int k = 2; nodeNames.contains(name); k++) {
            name = base + "#" + k;
        }
        nodeNames.add(name);
        return name;
    }

    /** The name of the {@code k}-th node an ONNX node named {@code base} becomes, made unique. */
    private String extra(String base, int k) {
        String name = base + "#" + k;
        for (int j = 2; nodeNames.contains(name); j++) {
            name = base + "#" + k + "." + j;
        }
        nodeNames.add(name);
        return name;
    }

    private void emit(String name, Op op, List<String> in, String out, Map<String, String> params,
            Map<String, Object> attrs, String type) {
        for (String t : params.values()) {
            tensors.put(t, model.tensorShape(t));
        }
        Map<String, Object> a = new LinkedHashMap<>(attrs);
        a.putIfAbsent("type", type);
        nodes.add(new Node(name, op, in, out, params, a));
    }

    private static Map<String, String> params(String... roleTensor) {
        Map<String, String> p = new LinkedHashMap<>();
        for (int i = 0; i + 1 < roleTensor.length; i += 2) {
            if (roleTensor[i + 1] != null) {
                p.put(roleTensor[i], roleTensor[i + 1]);
            }
        }
        return p;
    }

    /** Whether output {@code k} of {@code n} is read by a node or is a graph output. */
    private boolean used(OnnxNode n, int k) {
        if (k >= n.outputs().size() || n.outputs().get(k).isEmpty()) {
            return false;
        }
        String o = n.outputs().get(k);
        return readers.containsKey(o) || outputs.contains(o);
    }

    private void data(OnnxNode n, int k, String lady, long[] shape, int caxis) {
        vals.put(n.outputs().get(k), Val.data(lady, shape, caxis));
    }

    // ---- the rules ----

    /**
     * {@link #step}, with a node whose attributes or inputs do not fit its operator (a malformed or hostile
     * file) made opaque instead: what it emitted so far is taken back, and everything it touches stays in
     * place.
     */
    private void guarded(OnnxModel.ResolvedNode r) {
        if (!stacks.isEmpty()) {
            if (stacked(r)) {
                return;
            }
            for (String in : r.node().inputs()) {
                if (stacks.containsKey(in)) {
                    unstack(in);
                }
            }
        }
        int emitted = nodes.size();
        Set<String> names = new HashSet<>(nodeNames);
        Set<Integer> fusedBefore = new HashSet<>(fused);
        Set<String> tensorsBefore = new HashSet<>(tensors.keySet());
        try {
            step(r);
        } catch (RuntimeException e) {
            nodes.subList(emitted, nodes.size()).clear();
            nodeNames.retainAll(names);
            fused.retainAll(fusedBefore);
            tensors.keySet().retainAll(tensorsBefore);
            String why = e instanceof LadyException ? e.getMessage() : e.getClass().getSimpleName();
            List<Val> ins = new ArrayList<>();
            for (int i = 0; i < r.inputs().size(); i++) {
                OnnxModel.Operand op = r.inputs().get(i);
                ins.add(op.kind() == OnnxModel.Operand.Kind.VALUE || op.kind() == OnnxModel.Operand.Kind.GRAPH_INPUT
                        ? vals.get(op.name()) : null);
            }
            if (ins.stream().anyMatch(v -> v != null && v.data)) {
                opaque(r, ins, new long[r.node().outputs().size()][], "cannot be read (" + why + ")");
            } else {
                for (String o : r.node().outputs()) {
                    if (!o.isEmpty()) {
                        vals.put(o, Val.free(null, null, null, null));
                    }
                }
            }
        }
    }

    /**
     * Node {@code r} read as an operation on a {@link Stack} along its axis 0, when it is one: Identity, a Gather of one
     * constant index (its entry's units; an index of shape [1]: a stack of one), a Slice of constant bounds, a Squeeze of
     * a stack of one, a Concat of stacks; false (nothing read) otherwise.
     */
    private boolean stacked(OnnxModel.ResolvedNode r) {
        OnnxNode n = r.node();
        Stack x = n.inputs().isEmpty() ? null : stacks.get(n.inputs().get(0));
        String out = n.outputs().isEmpty() ? "" : n.outputs().get(0);
        boolean onnx = n.domain().isEmpty() || n.domain().equals("ai.onnx");
        if (!onnx || out.isEmpty() || n.outputs().size() != 1) {
            return false;
        }
        long k = x == null ? 0 : x.entries().size();
        long[] rest = x == null ? null : Arrays.copyOfRange(x.shape(), 1, x.shape().length);
        switch (n.opType()) {
            case "Identity":
                if (x != null) {
                    stacks.put(out, x);
                    return true;
                }
                return false;
            case "Gather": {
                long[] idx = n.inputs().size() == 2 ? constInts(n.inputs().get(1)) : null;
                long[] idxShape = n.inputs().size() == 2 ? shapeOf(n.inputs().get(1)) : null;
                if (x == null || OnnxShapes.attr(n, "axis", 0) != 0 || idx == null || idx.length != 1 || idxShape == null
                        || idxShape.length > 1 || idx[0] < -k || idx[0] >= k) {
                    return false;
                }
                String entry = x.entries().get((int) (idx[0] < 0 ? idx[0] + k : idx[0]));
                if (idxShape.length == 0) {
                    vals.put(out, Val.data(entry, rest, rest.length - 1));
                } else {
                    long[] shape = x.shape().clone();
                    shape[0] = 1;
                    stacks.put(out, new Stack(List.of(entry), shape));
                }
                return true;
            }
            case "Squeeze": {
                long[] axes = n.inputs().size() > 1 ? constInts(n.inputs().get(1)) : OnnxShapes.ints(n, "axes", null);
                if (x == null || k != 1 || axes == null || !Arrays.equals(axes, new long[] {0})) {
                    return false;
                }
                vals.put(out, Val.data(x.entries().get(0), rest, rest.length - 1));
                return true;
            }
            case "Slice": {
                long[] bounds = rowSlice(n);
                if (x == null || bounds == null) {
                    return false;
                }
                int from = (int) OnnxShapes.clamp(bounds[0], k);
                int to = (int) Math.max(from, OnnxShapes.clamp(bounds[1], k));
                if (from == to) {
                    return false;
                }
                long[] shape = x.shape().clone();
                shape[0] = to - from;
                stacks.put(out, new Stack(List.copyOf(x.entries().subList(from, to)), shape));
                return true;
            }
            case "Concat": {
                List<String> all = new ArrayList<>();
                for (String in : n.inputs()) {
                    Stack s = stacks.get(in);
                    if (x == null || s == null || OnnxShapes.attr(n, "axis", 0) != 0
                            || !Arrays.equals(Arrays.copyOfRange(s.shape(), 1, s.shape().length), rest)) {
                        return false;
                    }
                    all.addAll(s.entries());
                }
                long[] shape = x.shape().clone();
                shape[0] = all.size();
                stacks.put(out, new Stack(List.copyOf(all), shape));
                return true;
            }
            default:
                return false;
        }
    }

    /** The shape of value {@code v}: an initializer's, or a value's known by now; null when unknown. */
    private long[] shapeOf(String v) {
        String init = model.initializerOf(v);
        if (init != null) {
            return model.initializer(init).shape();
        }
        Val c = vals.get(v);
        return c == null ? null : c.shape;
    }

    /**
     * {@link Stack} {@code v} read by a node that takes it as one value: its entries concatenated along axis 0 (their
     * spaces tied), unless a value for it exists already (a layer's last states in one direction).
     */
    private void unstack(String v) {
        Stack s = stacks.remove(v);
        if (vals.containsKey(v)) {
            return;
        }
        emit(extra(v, 1), Op.CONCAT, s.entries(), v, Map.of(), Map.of("axis", 0L, "channels", 0L), "Concat");
        vals.put(v, Val.data(v, s.shape(), s.shape().length - 1));
    }

    private void step(OnnxModel.ResolvedNode r) {
        OnnxNode n = r.node();
        List<Val> ins = operands(r);
        checkRanks(r, ins);
        boolean anyData = ins.stream().anyMatch(v -> v != null && v.data);
        long[][] shapes = shapesOf(r, ins);
        if (!anyData) {
            free(r, ins, shapes);
            return;
        }
        if (integerForm(r, ins, shapes)) {
            return;
        }
        if (!n.domain().isEmpty() && !n.domain().equals("ai.onnx")) {
            opaque(r, ins, shapes, "operator " + n.opType() + " of domain '" + n.domain() + "' is not one Lady knows");
            return;
        }
        for (int k = 1; k < n.outputs().size(); k++) {
            if (used(n, k) && !MULTI_OUTPUT.contains(n.opType())) {
                opaque(r, ins, shapes, n.opType() + " with more than one output read");
                return;
            }
        }
        String op = n.opType();
        if (ins.get(0) == null || ins.size() < MIN_INPUTS.getOrDefault(op, 1)) {
            opaque(r, ins, shapes, "an input it needs is missing");
            return;
        }
        if (ELEMENTWISE.contains(op)) {
            keep(r, ins, shapes, 0, Op.CHANNELWISE, Map.of());
            return;
        }
        if (op.equals("QuantizeLinear") || op.equals("DequantizeLinear")) {
            quantized(r, ins, shapes);
            return;
        }
        if (SUMS.contains(op)) {
            elementwise(r, ins, shapes, Op.ADD);
            return;
        }
        if (PRODUCTS.contains(op)) {
            elementwise(r, ins, shapes, Op.MUL);
            return;
        }
        if (op.startsWith("Reduce")) {
            reduce(r, ins, shapes);
            return;
        }
        switch (op) {
            case "Conv" -> conv(r, ins, shapes, false);
            case "ConvTranspose" -> conv(r, ins, shapes, true);
            case "Gemm" -> gemm(r, ins, shapes);
            case "MatMul" -> matmul(r, ins, shapes);
            case "BatchNormalization" -> batchNorm(r, ins, shapes);
            case "InstanceNormalization" -> instanceNorm(r, ins, shapes);
            case "GroupNormalization" -> groupNorm(r, ins, shapes);
            case "DepthToSpace", "SpaceToDepth" -> depthSpace(r, ins, shapes);
            case "LSTM", "GRU", "RNN" -> recurrent(r, ins, shapes);
            case "LayerNormalization" -> layerNorm(r, ins, shapes);
            case "PRelu" -> elementwise(r, ins, shapes, Op.MUL);
            case "Relu", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "Gelu", "Clip" -> activation(r, ins, shapes);
            case "Dropout" -> dropout(r, ins, shapes);
            case "Concat" -> concat(r, ins, shapes);
            case "Flatten" -> flatten(r, ins, shapes);
            case "Reshape" -> reshape(r, ins, shapes);
            case "Transpose" -> transpose(r, ins, shapes);
            case "Squeeze", "Unsqueeze" -> squeeze(r, ins, shapes);
            case "Pad" -> pad(r, ins, shapes);
            case "Resize", "Upsample" -> resize(r, ins, shapes);
            case "MaxPool", "AveragePool", "LpPool" -> pool(r, ins, shapes);
            case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool" -> globalPool(r, ins, shapes);
            case "ArgMax", "ArgMin" -> argReduce(r, ins, shapes);
            case "Shape", "Size" -> free(r, ins, shapes);
            case "Gather" -> gather(r, ins, shapes);
            case "Slice" -> slice(r, ins, shapes);
            case "Split" -> split(r, ins, shapes);
            case "Expand" -> expand(r, ins, shapes);
            case "Tile" -> tile(r, ins, shapes);
            default -> opaque(r, ins, shapes, "operator " + op + " is not one Lady knows");
        }
    }

    /** Outputs that do not depend on the order of any channel: no node in the imported graph. */
    private void free(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        long[] ints = OnnxShapes.fold(r, ins.stream().map(v -> v == null ? null : v.shape).toList(),
                ins.stream().map(v -> v == null ? null : v.ints).toList());
        if (ints != null && ints.length > MAX_FOLDED) {
            ints = null;
        }
        double[] reals = reals(n, ins);
        View view = view(n, ins, shapes[0]);
        for (int k = 0; k < n.outputs().size(); k++) {
            if (!n.outputs().get(k).isEmpty()) {
                vals.put(n.outputs().get(k), k == 0 ? Val.free(shapes[0], ints, reals, view) : Val.free(shapes[k], null, null, null));
            }
        }
    }

    /** The shapes of node {@code r}'s outputs: inferred from its inputs {@code ins}, else as the file records them. */
    private long[][] shapesOf(OnnxModel.ResolvedNode r, List<Val> ins) {
        long[][] shapes = OnnxShapes.infer(r, ins.stream().map(v -> v == null ? null : v.shape).toList(),
                ins.stream().map(v -> v == null ? null : v.ints).toList(),
                ins.stream().map(v -> v == null ? null : v.reals).toList());
        for (int k = 0; k < shapes.length; k++) {
            if (shapes[k] == null) {
                shapes[k] = recorded(r.node().outputs().get(k));
            }
        }
        return shapes;
    }

    /** The shape the file records for a value (value_info, graph outputs; -1 for symbolic sizes), or null. */
    private long[] recorded(String value) {
        OnnxValue v = model.valueInfo().get(value);
        if (v == null) {
            v = model.outputs().stream().filter(o -> o.name().equals(value)).findFirst().orElse(null);
        }
        if (v == null || v.shape() == null) {
            return null;
        }
        return v.shape().stream().mapToLong(d -> d.fixed() ? d.value() : -1).toArray();
    }

    /** Small float constants (Constant nodes, and what Identity and Cast pass on), or null. */
    private static double[] reals(OnnxNode n, List<Val> ins) {
        switch (n.opType()) {
            case "Constant": {
                OnnxAttribute v = n.attribute("value");
                if (v != null && v.type() == OnnxAttribute.Type.TENSOR) {
                    OnnxConstant c = v.asTensor();
                    if ((c.dtype() == OnnxDType.FLOAT || c.dtype() == OnnxDType.DOUBLE)
                            && elements(c.shape()) <= MAX_FOLDED) {
                        return c.doubles();
                    }
                }
                OnnxAttribute f = n.attribute("value_float");
                if (f != null) {
                    return new double[] {f.asFloat()};
                }
                return null;
            }
            case "Identity", "Cast":
                return ins.isEmpty() || ins.get(0) == null ? null : ins.get(0).reals;
            case "Concat": { // of 1-D constants (a Resize's scales: [1, 1] then [2, 2])
                double[] all = new double[0];
                for (Val v : ins) {
                    if (v == null || v.reals == null || v.shape == null || v.shape.length != 1
                            || all.length + v.reals.length > MAX_FOLDED) {
                        return null;
                    }
                    double[] next = Arrays.copyOf(all, all.length + v.reals.length);
                    System.arraycopy(v.reals, 0, next, all.length, v.reals.length);
                    all = next;
                }
                return all;
            }
            default:
                return null;
        }
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** A free value that is one tensor's entries rearranged (transposed, axes of size 1 added or removed), or null. */
    private static View view(OnnxNode n, List<Val> ins, long[] outShape) {
        if (n.opType().equals("Mul") && ins.size() == 2) {
            return scaledVector(ins, outShape);
        }
        Val x = ins.isEmpty() ? null : ins.get(0);
        View xv = x == null ? null : x.stored();
        if (xv == null || x.shape == null) {
            return null;
        }
        int rank = x.rank();
        switch (n.opType()) {
            case "Identity", "Cast", "CastLike":
                return xv;
            case "Transpose": {
                long[] perm = OnnxShapes.ints(n, "perm", reverse(rank));
                int[] axes = new int[perm.length];
                for (int i = 0; i < perm.length; i++) {
                    axes[i] = xv.axes()[(int) perm[i]];
                }
                return xv.to(axes);
            }
            case "QuantizeLinear", "DequantizeLinear": // a fake-quantized weight is both, in turn
                return dequantized(n, ins, xv);
            case "Expand": {
                if (outShape == null || outShape.length < rank) {
                    return null;
                }
                int[] axes = new int[outShape.length];
                int lead = outShape.length - rank;
                for (int i = 0; i < outShape.length; i++) {
                    axes[i] = i < lead ? -1 : xv.axes()[i - lead];
                }
                return xv.to(axes);
            }
            case "Gather": {
                // rows picked by constant indices (a position embedding looked up at positions 0 .. t - 1): the
                // other axes are the table's, the picked ones come from no axis of it
                Val idx = ins.size() > 1 ? ins.get(1) : null;
                int g = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 0), rank);
                if (idx == null || idx.shape == null || g < 0) {
                    return null;
                }
                int[] axes = new int[rank - 1 + idx.shape.length];
                int k = 0;
                for (int i = 0; i < rank; i++) {
                    if (i == g) {
                        for (int j = 0; j < idx.shape.length; j++) {
                            axes[k++] = -1;
                        }
                    } else {
                        axes[k++] = xv.axes()[i];
                    }
                }
                return xv.to(axes);
            }
            case "Unsqueeze", "Squeeze", "Reshape", "Flatten": {
                // only when the shape change adds or removes axes of size 1
                if (outShape == null || !x.known()) {
                    return null;
                }
                List<Integer> kept = new ArrayList<>();
                for (int i = 0; i < rank; i++) {
                    if (x.shape[i] != 1) {
                        kept.add(xv.axes()[i]);
                    }
                }
                int[] axes = new int[outShape.length];
                int k = 0;
                for (int i = 0; i < outShape.length; i++) {
                    if (outShape[i] == 1) {
                        axes[i] = -1;
                    } else if (k < kept.size()) {
                        axes[i] = kept.get(k++);
                    } else {
                        return null;
                    }
                }
                // the sizes other than 1 must be the same, in the same order
                List<Long> a = new ArrayList<>();
                List<Long> b = new ArrayList<>();
                for (long d : x.shape) {
                    if (d != 1) {
                        a.add(d);
                    }
                }
                for (long d : outShape) {
                    if (d != 1) {
                        b.add(d);
                    }
                }
                return a.equals(b) && k == kept.size() ? xv.to(axes) : null;
            }
            default:
                return null;
        }
    }

    /**
     * A quantized weight read back as floats (or a stored float weight quantized: QAT's fake quantization): the stored
     * tensor, whose per-axis scale and zero point (vectors along the quantized axis) move with that axis of the stored
     * tensor; a per-tensor scale moves with nothing.
     * Null (the weight is then computed, and stays in place) for block quantization or vectors that are not stored.
     */
    private static View dequantized(OnnxNode n, List<Val> ins, View xv) {
        if (OnnxShapes.attr(n, "block_size", 0) != 0) {
            return null;
        }
        int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 1), ins.get(0).rank());
        return quantView(ins.get(0), xv, axis, ins.subList(1, Math.min(ins.size(), 3)));
    }

    /**
     * Stored tensor {@code x} (seen as {@code xv}) with {@code vectors} (scales, zero points) that are one entry for
     * the whole tensor (nothing moves with them) or stored vectors along its {@code axis} (companions), or null when
     * one is neither.
     */
    private static View quantView(Val x, View xv, int axis, List<Val> vectors) {
        List<Companion> companions = new ArrayList<>(xv.companions());
        for (Val v : vectors) {
            if (v == null) {
                continue;
            }
            if (v.shape == null || v.data) {
                return null;
            }
            if (elements(v.shape) == 1) {
                continue; // one scale for the whole tensor
            }
            if (axis < 0 || v.view == null || v.rank() != 1 || v.dim(0) != x.dim(axis) || xv.axes()[axis] < 0
                    || !v.view.whole(1)) {
                return null;
            }
            companions.add(new Companion(v.view.tensor(), xv.axes()[axis]));
        }
        return new View(xv.tensor(), xv.axes(), List.copyOf(companions));
    }

    /**
     * A stored vector scaled by one number (dynamic quantization's {@code Mul(input scale, weight scales)}: the per-
     * channel scales of a quantized product), or null: the product moves with the vector.
     */
    private static View scaledVector(List<Val> ins, long[] outShape) {
        View found = null;
        for (Val v : ins) {
            if (v == null || v.shape == null || v.data) {
                return null;
            }
            if (elements(v.shape) == 1) {
                continue;
            }
            if (found != null || v.view == null || !Arrays.equals(v.shape, outShape)) {
                return null;
            }
            found = v.view;
        }
        return found;
    }

    private static long[] reverse(int rank) {
        long[] p = new long[Math.max(rank, 0)];
        for (int i = 0; i < p.length; i++) {
            p[i] = p.length - 1 - i;
        }
        return p;
    }

    private static double floatAttr(OnnxNode n, String name, double fallback) {
        OnnxAttribute a = n.attribute(name);
        return a != null && a.type() == OnnxAttribute.Type.FLOAT ? a.asFloat() : fallback;
    }

    /**
     * Everything the node touches stays in place: an OPAQUE node reading its data inputs, with the tensors
     * it reads as fixed parameters; its later outputs come from its first (opaque too).
     */
    private void opaque(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes, String why) {
        OnnxNode n = r.node();
        String name = name(n);
        List<String> in = new ArrayList<>();
        for (Val v : ins) {
            if (v != null && v.data && !in.contains(v.lady)) {
                in.add(v.lady);
            }
        }
        Map<String, String> p = new LinkedHashMap<>();
        for (int i = 0; i < ins.size(); i++) {
            Val v = ins.get(i);
            if (v != null && !v.data && v.view != null && r.inputs().get(i).kind() == OnnxModel.Operand.Kind.INITIALIZER) {
                for (String t : model.parts().getOrDefault(v.view.tensor(), List.of(v.view.tensor()))) { // (read in parts)
                    p.putIfAbsent(t, t);
                }
            }
        }
        Map<String, String> roles = new LinkedHashMap<>();
        int k = 0;
        for (String t : p.keySet()) {
            roles.put("in" + k++, t);
        }
        String first = null;
        for (int o = 0; o < n.outputs().size(); o++) {
            String out = n.outputs().get(o);
            if (out.isEmpty()) {
                continue;
            }
            if (first == null) {
                emit(name, Op.OPAQUE, in, out, roles, Map.of("why", why.startsWith("operator ") ? why : n.opType() + ": " + why),
                        n.opType());
                first = out;
            } else {
                emit(extra(name, o + 1), Op.CHANNELWISE, List.of(first), out, Map.of(), Map.of(), n.opType());
            }
            data(n, o, out, shapes[o], UNKNOWN);
        }
    }

    /**
     * For operators whose inputs after the first are parameters (shapes, pads, axes): an opaque node when one
     * of those depends on the channels ({@code what} names them), and an input whose channels are not followed
     * passes through as it is. True when that settled the node.
     */
    private boolean settled(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes, String what) {
        for (int i = 1; i < ins.size(); i++) {
            if (ins.get(i) != null && ins.get(i).data) {
                opaque(r, ins, shapes, what + " depend on the channels");
                return true;
            }
        }
        Val x = ins.get(0);
        if (x.caxis == UNKNOWN) {
            keepAs(r, x, shapes[0], UNKNOWN, Op.CHANNELWISE, Map.of());
            return true;
        }
        return false;
    }

    /** A node that keeps the layout of its input {@code x}: the channel axis moves to {@code caxis}. */
    private void keepAs(OnnxModel.ResolvedNode r, Val x, long[] shape, int caxis, Op op, Map<String, Object> attrs) {
        OnnxNode n = r.node();
        String out = n.outputs().get(0);
        emit(name(n), op, List.of(x.lady), out, Map.of(), attrs, n.opType());
        data(n, 0, out, shape, x.caxis == UNKNOWN ? UNKNOWN : caxis);
    }

    /** Keeps the layout of input {@code i} on the same axis (element-wise functions). */
    private void keep(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes, int i, Op op, Map<String, Object> attrs) {
        Val x = ins.get(i);
        if (x == null || !x.data) {
            opaque(r, ins, shapes, "its data reaches it through another input than its first");
            return;
        }
        for (int j = 0; j < ins.size(); j++) {
            Val v = ins.get(j);
            if (j != i && v != null && v.data) {
                opaque(r, ins, shapes, "more than one of its inputs depends on the channels");
                return;
            }
        }
        keepAs(r, x, shapes[0], x.caxis, op, attrs);
    }

    /**
     * ONNX's integer operators, read as the float operators they compute: the QOperator format of ONNX Runtime's static
     * quantization (QLinearConv, QLinearMatMul, and its com.microsoft QGemm, QLinearAdd, QLinearMul, QLinearConcat,
     * QLinearGlobalAveragePool, QLinearAveragePool, QLinearSigmoid, QLinearLeakyRelu) and its dynamic quantization
     * (DynamicQuantizeLinear, MatMulInteger, ConvInteger, and the fused DynamicQuantizeMatMul and MatMulIntegerToFloat). A weight's per-axis scales and zero points move with its rows
     * or columns; activations have one scale each. False when the node is none of them.
     */
    private boolean integerForm(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        boolean onnx = n.domain().isEmpty() || n.domain().equals("ai.onnx");
        boolean ms = n.domain().equals("com.microsoft");
        if (!onnx && !ms) {
            return false;
        }
        switch (onnx ? n.opType() : "ms." + n.opType()) {
            // a convolution's weight [out, in, ...]: its vectors move with its rows; a product's [in, out]: its columns
            case "QLinearConv" -> integer(r, ins, "Conv", new int[] {0, 3, 8}, 0, new int[] {4, 5}, this::conv);
            case "ConvInteger" -> integer(r, ins, "Conv", new int[] {0, 1}, 0, new int[] {3}, this::conv);
            case "QLinearMatMul" -> integer(r, ins, "MatMul", new int[] {0, 3}, 1, new int[] {4, 5}, this::matmul);
            case "MatMulInteger" -> integer(r, ins, "MatMul", new int[] {0, 1}, 1, new int[] {3}, this::matmul);
            // ONNX Runtime's fused forms (an optimized model saved to disk): the bias moves with the columns too
            case "ms.DynamicQuantizeMatMul" -> integer(r, ins, "MatMul", new int[] {0, 1}, 1, new int[] {2, 3, 4},
                    this::matmul);
            case "ms.MatMulIntegerToFloat" -> integer(r, ins, "MatMul", new int[] {0, 1}, 1, new int[] {3, 5, 6},
                    this::matmul);
            case "ms.QGemm" -> integer(r, ins, "Gemm", new int[] {0, 3, 6}, OnnxShapes.attr(n, "transB", 0) == 1 ? 0 : 1,
                    new int[] {4, 5}, v -> gemm(v.r(), v.ins(), v.shapes()));
            case "DynamicQuantizeLinear" -> {
                // the quantized input keeps its channels; its scale and zero point (one each) depend on no order
                keep(r, ins.subList(0, 1), shapes, 0, Op.CHANNELWISE, Map.of());
                for (int k = 1; k < n.outputs().size(); k++) {
                    if (!n.outputs().get(k).isEmpty()) {
                        vals.put(n.outputs().get(k), Val.free(new long[0], null, null, null));
                    }
                }
            }
            case "ms.QLinearAdd" -> as(r, ins, "Add", new int[] {0, 3}, v -> elementwise(v.r(), v.ins(), v.shapes(), Op.ADD));
            case "ms.QLinearMul" -> as(r, ins, "Mul", new int[] {0, 3}, v -> elementwise(v.r(), v.ins(), v.shapes(), Op.MUL));
            case "ms.QLinearSigmoid", "ms.QLinearLeakyRelu" ->
                    as(r, ins, "Sigmoid", new int[] {0}, v -> keep(v.r(), v.ins(), v.shapes(), 0, Op.CHANNELWISE, Map.of()));
            case "ms.QLinearGlobalAveragePool", "ms.QLinearAveragePool" -> {
                if (OnnxShapes.attr(n, "channels_last", 0) != 0) {
                    opaque(r, ins, shapes, n.opType() + " with its channels last");
                } else if (n.opType().equals("QLinearGlobalAveragePool")) {
                    as(r, ins, "GlobalAveragePool", new int[] {0}, v -> globalPool(v.r(), v.ins(), v.shapes()));
                } else {
                    as(r, ins, "AveragePool", new int[] {0}, v -> pool(v.r(), v.ins(), v.shapes()));
                }
            }
            case "ms.QLinearConcat" -> {
                int[] picks = new int[Math.max(0, (ins.size() - 2) / 3)];
                for (int i = 0; i < picks.length; i++) {
                    picks[i] = 2 + 3 * i;
                }
                as(r, ins, "Concat", picks, v -> concat(v.r(), v.ins(), v.shapes()));
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** A node read as another operator: its inputs picked, shapes inferred for that operator. */
    private record As(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {}

    private void conv(As v) {
        conv(v.r(), v.ins(), v.shapes(), false);
    }

    private void matmul(As v) {
        matmul(v.r(), v.ins(), v.shapes());
    }

    /**
     * Runs {@code rule} on node {@code r} read as operator {@code op} of the default domain with inputs {@code picks}
     * (an index past the node's inputs: omitted) and the node's attributes and first output.
     */
    private void as(OnnxModel.ResolvedNode r, List<Val> ins, String op, int[] picks, java.util.function.Consumer<As> rule) {
        OnnxNode n = r.node();
        List<String> names = new ArrayList<>();
        List<OnnxModel.Operand> operands = new ArrayList<>();
        List<Val> picked = new ArrayList<>();
        for (int i : picks) {
            boolean there = i < n.inputs().size();
            names.add(there ? n.inputs().get(i) : "");
            operands.add(there ? r.inputs().get(i) : new OnnxModel.Operand(OnnxModel.Operand.Kind.NONE, ""));
            picked.add(there ? ins.get(i) : null);
        }
        OnnxNode plain = new OnnxNode(n.name(), op, "", names, n.outputs().subList(0, Math.min(1, n.outputs().size())),
                n.attributes());
        OnnxModel.ResolvedNode pr = new OnnxModel.ResolvedNode(plain, operands, r.index());
        long[][] shapes = shapesOf(pr, picked);
        if (picked.isEmpty() || picked.get(0) == null || !picked.get(0).data) {
            opaque(r, ins, new long[n.outputs().size()][], "its data reaches it through another input than its first");
            return;
        }
        rule.accept(new As(pr, picked, shapes));
    }

    /**
     * An integer operator read as {@code op} of inputs {@code picks} by {@code rule}: input {@code picks[1]} the
     * weight, whose vectors at {@code vectors} (scales, zero points, a bias; indices of the node's inputs, -1 for none)
     * move with its axis {@code axis} when they are one entry per slice of it (one entry for the whole tensor moves with
     * nothing).
     */
    private void integer(OnnxModel.ResolvedNode r, List<Val> ins, String op, int[] picks, int axis, int[] vectors,
            java.util.function.Consumer<As> rule) {
        List<Val> q = withScales(ins, picks[1], axis, vectors);
        if (q == null) {
            opaque(r, ins, new long[r.node().outputs().size()][], "its weight's scales are computed or do not fit it");
            return;
        }
        as(r, q, op, picks, rule);
    }

    /** {@code ins} with input {@code w} a quantized view carrying the per-axis vectors at {@code at}. */
    private static List<Val> withScales(List<Val> ins, int w, int axis, int[] at) {
        Val wv = w < ins.size() ? ins.get(w) : null;
        if (wv == null || wv.data || wv.stored() == null) {
            return ins; // the rule says why
        }
        List<Val> vectors = new ArrayList<>();
        for (int i : at) {
            vectors.add(i >= 0 && i < ins.size() ? ins.get(i) : null);
        }
        View q = quantView(wv, wv.stored(), axis, vectors);
        if (q == null) {
            return null;
        }
        List<Val> out = new ArrayList<>(ins);
        out.set(w, Val.free(wv.shape, null, null, q));
        return out;
    }

    /**
     * An activation quantized or read back (QDQ): with one scale and zero point for the whole tensor it is the same
     * function of every channel, so the channels pass through; per-channel scales of an activation stay in place.
     */
    private void quantized(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        for (int i = 1; i < Math.min(ins.size(), 3); i++) {
            Val v = ins.get(i);
            if (v != null && (v.data || v.shape == null || elements(v.shape) != 1)) {
                opaque(r, ins, shapes, "quantizes each channel with its own scale");
                return;
            }
        }
        keep(r, ins, shapes, 0, Op.CHANNELWISE, Map.of());
    }

    private void activation(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Op.Activation fn = switch (n.opType()) {
            case "Relu" -> Op.Activation.RELU;
            case "HardSwish" -> Op.Activation.HARDSWISH;
            case "Sigmoid" -> Op.Activation.SIGMOID;
            case "Tanh" -> Op.Activation.TANH;
            case "Gelu" -> OnnxShapes.stringAttr(n, "approximate", "none").equals("tanh") ? Op.Activation.GELU_TANH : Op.Activation.GELU;
            case "HardSigmoid" -> Math.abs(floatAttr(n, "alpha", 0.2) - 1.0 / 6) < 1e-6
                    && floatAttr(n, "beta", 0.5) == 0.5 ? Op.Activation.HARDSIGMOID : null;
            case "Clip" -> relu6(n, ins) ? Op.Activation.RELU6 : null;
            default -> null;
        };
        if (fn == null) {
            keep(r, ins, shapes, 0, Op.CHANNELWISE, Map.of());
        } else {
            keep(r, ins, shapes, 0, Op.ACT, Map.of("fn", fn.name()));
        }
    }

    /** Whether a Clip is ReLU6 (bounds 0 and 6, from its inputs or, before opset 11, its attributes). */
    private static boolean relu6(OnnxNode n, List<Val> ins) {
        double lo;
        double hi;
        if (ins.size() > 1) {
            Val a = ins.get(1);
            Val b = ins.size() > 2 ? ins.get(2) : null;
            if (a == null || b == null || a.reals == null || b.reals == null || a.reals.length != 1 || b.reals.length != 1) {
                return false;
            }
            lo = a.reals[0];
            hi = b.reals[0];
        } else {
            lo = floatAttr(n, "min", Double.NaN);
            hi = floatAttr(n, "max", Double.NaN);
        }
        return lo == 0 && hi == 6;
    }

    private void dropout(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        double p = floatAttr(n, "ratio", 0.5);
        if (ins.size() > 1 && ins.get(1) != null && ins.get(1).reals != null && ins.get(1).reals.length == 1) {
            p = ins.get(1).reals[0];
        }
        keep(r, ins.subList(0, 1), shapes, 0, Op.DROPOUT, Map.of("p", p));
    }

    /** The weight of a producer: a free value that is a whole stored tensor (possibly transposed if 2-D). */
    private static View weight(Val w, int rank) {
        if (w == null || w.data || w.view == null || w.rank() != rank) {
            return null;
        }
        return w.view;
    }

    /** The weight of a producer that may be quantized (its per-axis scales then move with it), or null. */
    private static View stored(Val w, int rank) {
        if (w == null || w.data || w.stored() == null || w.rank() != rank) {
            return null;
        }
        return w.stored();
    }

    /** {@code p} with the vectors that move with axes of the weight's and the bias's stored tensors ({@link Op#FOLLOWS}). */
    private static Map<String, String> companions(Map<String, String> p, View weight, View bias) {
        int k = 0;
        for (View v : new View[] {weight, bias}) {
            if (v == null) {
                continue;
            }
            String role = v == weight ? "weight" : "bias";
            for (Companion c : v.companions()) {
                p.put(Op.follows(role, c.axis(), k++), c.tensor());
            }
        }
        return p;
    }

    private void conv(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes, boolean transposed) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        Val w = ins.size() > 1 ? ins.get(1) : null;
        Val b = ins.size() > 2 ? ins.get(2) : null;
        if (x == null || !x.data) {
            opaque(r, ins, shapes, "its weight depends on the data");
            return;
        }
        View wv = stored(w, w == null ? -1 : w.rank());
        if (wv == null || !wv.whole(w.rank()) || w.rank() < 3) {
            opaque(r, ins, shapes, "its weight is computed, not a stored tensor");
            return;
        }
        View bv = b == null ? null : stored(b, 1);
        if (b != null && (bv == null || !bv.whole(1))) {
            opaque(r, ins, shapes, "its bias is computed, not a stored tensor");
            return;
        }
        if (x.caxis != UNKNOWN && x.caxis != 1) {
            opaque(r, ins, shapes, "its input's channels are not on axis 1");
            return;
        }
        long groups = OnnxShapes.attr(n, "group", 1);
        long[] ws = w.shape;
        if (groups < 1 || ws == null || (!transposed && (ws[0] % groups != 0
                || (x.dim(1) >= 0 && x.dim(1) != ws[1] * groups)))) {
            opaque(r, ins, shapes, "its group attribute (" + groups + ") does not fit its weight and input");
            return;
        }
        if (transposed && groups != 1) {
            opaque(r, ins, shapes, "a grouped transposed convolution");
            return;
        }
        int spatial = w.rank() - 2;
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("stride", OnnxShapes.ints(n, "strides", filled(spatial, 1)));
        a.put("padding", OnnxShapes.ints(n, "pads", filled(2 * spatial, 0)));
        a.put("dilation", OnnxShapes.ints(n, "dilations", filled(spatial, 1)));
        a.put("groups", groups);
        if (transposed) {
            a.put("transposed", 1L);
        }
        String out = n.outputs().get(0);
        emit(name(n), Op.CONV, List.of(x.lady), out, companions(params("weight", wv.tensor(), "bias",
                bv == null ? null : bv.tensor()), wv, bv), a, n.opType());
        data(n, 0, out, shapes[0], 1);
    }

    private static long[] filled(int n, long v) {
        long[] a = new long[Math.max(n, 0)];
        Arrays.fill(a, v);
        return a;
    }

    private void gemm(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        Val w = ins.size() > 1 ? ins.get(1) : null;
        Val c = ins.size() > 2 ? ins.get(2) : null;
        if (OnnxShapes.attr(n, "transA", 0) != 0) {
            opaque(r, ins, shapes, "Gemm with transA = 1");
            return;
        }
        if (x == null || !x.data || (c != null && c.data)) {
            opaque(r, ins, shapes, "its weight or bias depends on the data");
            return;
        }
        View wv = stored(w, 2);
        if (wv == null || wv.axes()[0] < 0 || wv.axes()[1] < 0) {
            opaque(r, ins, shapes, w != null && w.data ? "a product of two activations" : "its weight is computed, not a stored tensor");
            return;
        }
        boolean swapped = wv.axes()[0] == 1;
        // B is [out, in] with transB = 1 (a Linear's weight), [in, out] with transB = 0
        boolean storedInOut = (OnnxShapes.attr(n, "transB", 0) == 0) != swapped;
        long[] ws = model.initializer(model.tensors().get(wv.tensor()).initializer()).shape();
        long out = storedInOut ? ws[1] : ws[0];
        String bias = null;
        String constant = null;
        String biasRow = null;
        View biasView = null;
        if (c != null) {
            View cv = c.stored();
            if (cv != null && c.rank() >= 1 && c.dim(c.rank() - 1) == out && out > 1 && cv.axes()[c.rank() - 1] >= 0
                    && tensorRank(cv) == 1 && allOnes(c.shape, c.rank() - 1)) {
                bias = cv.tensor();
                biasView = cv;
            } else if (cv != null && !cv.quantized() && c.rank() == 2 && c.dim(0) == 1 && c.dim(1) == out && out > 1
                    && cv.whole(2)) {
                biasRow = cv.tensor(); // stored [1, out]: it moves with the weight's rows as a vector that follows them
            } else if (c.shape != null && allOnes(c.shape, -1) && (cv == null || !cv.quantized())) {
                constant = cv == null ? null : cv.tensor();
            } else {
                opaque(r, ins, shapes, "its bias is not one value per output");
                return;
            }
        }
        if (x.caxis != UNKNOWN && x.caxis != 1) {
            opaque(r, ins, shapes, "its input's channels are not on axis 1");
            return;
        }
        Map<String, Object> a = new LinkedHashMap<>();
        if (storedInOut) {
            a.put("transposed", 1L);
        }
        double alpha = floatAttr(n, "alpha", 1);
        double beta = floatAttr(n, "beta", 1);
        if (alpha != 1 || beta != 1) { // scalars: the channels do not care, Lady's forward pass does
            a.put("alpha", alpha);
            a.put("beta", beta);
            a.put(Op.FORWARD_UNSUPPORTED, "Gemm with alpha " + alpha + " and beta " + beta);
        }
        String o = n.outputs().get(0);
        Map<String, String> p = companions(params("weight", wv.tensor(), "bias", bias, "constant", constant), wv, biasView);
        if (biasRow != null) {
            p.put(Op.follows("weight", storedInOut ? 1 : 0, p.size()), biasRow);
        }
        emit(name(n), Op.LINEAR, List.of(x.lady), o, p, a, n.opType());
        linear(r, -1);
        data(n, 0, o, shapes[0], 1);
    }

    private int tensorRank(View v) {
        return model.initializer(model.tensors().get(v.tensor()).initializer()).shape().length;
    }

    /** Whether every dimension but {@code except} is 1. */
    private static boolean allOnes(long[] shape, int except) {
        for (int i = 0; i < shape.length; i++) {
            if (i != except && shape[i] != 1) {
                return false;
            }
        }
        return true;
    }

    private void matmul(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val a = ins.get(0);
        Val b = ins.get(1);
        if (a != null && b != null && a.data && b.data) {
            opaque(r, ins, shapes, "a product of two activations (attention scores, or a weight computed from the data)");
            return;
        }
        boolean left = a != null && a.data; // data @ weight: the data's last axis is contracted
        Val x = left ? a : b;
        Val w = left ? b : a;
        View wv = stored(w, 2);
        int rank = x.rank();
        if (wv == null || wv.axes()[0] < 0 || wv.axes()[1] < 0 || rank < 2 || tensorRank(wv) != 2) {
            opaque(r, ins, shapes, "its weight is computed, not a stored 2-D tensor");
            return;
        }
        int contracted = left ? rank - 1 : rank - 2;
        if (x.caxis != UNKNOWN && x.caxis != contracted) {
            // the product mixes another axis: the channels pass through, the weight stays in place
            String out = n.outputs().get(0);
            emit(name(n), Op.CHANNELWISE, List.of(x.lady), out, params("constant", wv.tensor()), Map.of(), n.opType());
            data(n, 0, out, shapes[0], x.caxis);
            return;
        }
        boolean swapped = wv.axes()[0] == 1;
        // x @ W keeps W as [in, out]; W @ x as [out, in]; a transposed view swaps that
        boolean storedInOut = left != swapped;
        long[] ws = model.initializer(model.tensors().get(wv.tensor()).initializer()).shape();
        long outs = storedInOut ? ws[1] : ws[0];
        String out = n.outputs().get(0);
        String bias = null;
        int fusedAdd = -1;
        if (left) {
            OnnxModel.ResolvedNode add = biasAdd(n, outs);
            if (add != null) {
                int i = add.node().inputs().get(0).equals(out) ? 1 : 0;
                bias = initializer(add, i).view.tensor();
                fused.add(add.index());
                fusedAdd = add.index();
                out = add.node().outputs().get(0);
            }
        }
        Map<String, Object> attrs = storedInOut ? Map.of("transposed", 1L) : Map.of();
        emit(name(n), Op.LINEAR, List.of(x.lady), out, companions(params("weight", wv.tensor(), "bias", bias), wv, null),
                attrs, n.opType());
        if (left) {
            linear(r, fusedAdd);
        }
        vals.put(out, Val.data(out, shapes[0], contracted));
    }

    /** Records the linear layer just written for ONNX node {@code r} (with the bias Add fused into it, or -1). */
    private void linear(OnnxModel.ResolvedNode r, int biasAdd) {
        Node node = nodes.get(nodes.size() - 1);
        OnnxAttention.Linear l = new OnnxAttention.Linear(node, r.index(), biasAdd);
        linears.put(node.output(), l);
        linearsAt.put(r.index(), l);
    }

    /**
     * An attention block, written at its output projection's node: one {@link Op#ATTENTION_GQA} node from the q, k,
     * v projections' input (and k's and v's when it is another: cross-attention) to the output projection's output,
     * with their weights and biases (packed or separate). The scaling and masks stay in the ONNX graph, which ONNX
     * Runtime runs; the node carries the channels.
     */
    private void attention(OnnxModel.ResolvedNode r, OnnxAttention.Block b) {
        Node q = b.q().node();
        Node o = b.o().node();
        Map<String, String> p = new LinkedHashMap<>();
        if (b.packed()) {
            p.put("qkv_weight", q.param("weight"));
            if (q.has("bias")) {
                p.put("qkv_bias", q.param("bias"));
            }
        } else {
            for (Map.Entry<String, Node> e : List.of(Map.entry("q", q), Map.entry("k", b.k().node()), Map.entry("v",
                    b.v().node()))) {
                p.put(e.getKey() + "_weight", e.getValue().param("weight"));
                if (e.getValue().has("bias")) {
                    p.put(e.getKey() + "_bias", e.getValue().param("bias"));
                }
            }
        }
        p.put("o_weight", o.param("weight"));
        if (o.has("bias")) {
            p.put("o_bias", o.param("bias"));
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("heads", b.heads());
        a.put("kv_heads", b.kvHeads());
        a.put("head_dim", b.headDim());
        a.put("rotary_dim", b.rotary() ? b.headDim() : 0L); // rotated dimensions stay in place
        a.put("transposed", q.longAttr("transposed", 0));
        a.put("o_transposed", o.longAttr("transposed", 0));
        if (b.perHead()) {
            a.put("qkv_per_head", 1L);
        }
        if (b.headBias() != null) { // a stored bias per head (Swin's relative position bias table), its head axis
            p.put("head_bias", model.tensorOf(b.headBias().node(), b.headBias().input()));
            a.put("head_bias_axis", (long) b.headBias().axis());
        }
        if (b.o().biasAdd() >= 0) {
            fused.add(b.o().biasAdd());
        }
        String x = q.inputs().get(0);
        String kv = b.k().node().inputs().get(0); // another input: cross-attention
        emit(attentionName(r, b), Op.ATTENTION_GQA, x.equals(kv) ? List.of(x) : List.of(x, kv), o.output(), p, a,
                "MultiHeadAttention");
        vals.put(o.output(), earlier.get(o.output()));
    }

    /**
     * A block's name: the scope its nodes share when the exporter names nodes by module path
     * ("/encoder/layers/encoder_layer_0/self_attention/Gemm" and the rest: "/encoder/layers/encoder_layer_0/self_attention"),
     * else its output projection's.
     */
    private String attentionName(OnnxModel.ResolvedNode anchor, OnnxAttention.Block b) {
        String scope = anchor.node().name();
        for (int i : b.members()) {
            String other = model.nodes().get(i).name();
            int k = 0;
            while (k < scope.length() && k < other.length() && scope.charAt(k) == other.charAt(k)) {
                k++;
            }
            scope = scope.substring(0, k);
        }
        int cut = scope.lastIndexOf('/');
        scope = cut > 0 ? scope.substring(0, cut) : "";
        if (scope.isEmpty() || nodeNames.contains(scope)) {
            return name(anchor.node());
        }
        nodeNames.add(scope);
        return scope;
    }

    /** The Add that alone reads a MatMul's output and adds a stored bias of one value per output, or null. */
    private OnnxModel.ResolvedNode biasAdd(OnnxNode matmul, long outs) {
        String out = matmul.outputs().get(0);
        List<OnnxModel.ResolvedNode> rs = readers.getOrDefault(out, List.of());
        if (rs.size() != 1 || outputs.contains(out)) {
            return null;
        }
        OnnxModel.ResolvedNode add = rs.get(0);
        OnnxNode n = add.node();
        if (!n.opType().equals("Add") || !n.domain().isEmpty() || n.inputs().size() != 2 || n.inputs().get(0).equals(n.inputs().get(1))) {
            return null;
        }
        int i = n.inputs().get(0).equals(out) ? 1 : 0;
        if (add.inputs().get(i).kind() != OnnxModel.Operand.Kind.INITIALIZER) {
            return null;
        }
        Val b = initializer(add, i);
        return b.view != null && b.rank() == 1 && b.dim(0) == outs && outs > 1 ? add : null;
    }

    private void batchNorm(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        String[] roles = {"weight", "bias", "running_mean", "running_var"};
        Map<String, String> p = new LinkedHashMap<>();
        for (int i = 1; i < 5; i++) {
            View v = i < ins.size() ? weight(ins.get(i), 1) : null;
            if (v == null || !v.whole(1)) {
                opaque(r, ins, shapes, "its scale, bias or statistics are computed, not stored tensors");
                return;
            }
            p.put(roles[i - 1], v.tensor());
        }
        if (x.caxis != UNKNOWN && x.caxis != 1) {
            opaque(r, ins, shapes, "its input's channels are not on axis 1");
            return;
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("eps", floatAttr(n, "epsilon", 1e-5));
        a.put("momentum", 1 - floatAttr(n, "momentum", 0.9));
        String out = n.outputs().get(0);
        emit(name(n), Op.BATCH_NORM, List.of(x.lady), out, p, a, n.opType());
        data(n, 0, out, shapes[0], x.caxis);
    }

    private void instanceNorm(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        View s = ins.size() > 1 ? weight(ins.get(1), 1) : null;
        View b = ins.size() > 2 ? weight(ins.get(2), 1) : null;
        if (s == null || b == null || (x.caxis != UNKNOWN && x.caxis != 1)) {
            opaque(r, ins, shapes, "its scale or bias is computed, or its input's channels are not on axis 1");
            return;
        }
        String out = n.outputs().get(0);
        emit(name(n), Op.CHANNELWISE, List.of(x.lady), out, params("vector", s.tensor(), "vector1", b.tensor()),
                Map.of("axis", 0L), n.opType());
        data(n, 0, out, shapes[0], x.caxis);
    }

    /**
     * ONNX's LSTM, GRU and RNN with their weights stored (a folded export) or computed from stored rows (PyTorch's kept
     * export reorders the gates of its state-dict tensors: {@link #recurrentParams}), no peepholes, initial states the
     * same for every unit: one {@link Op#RECURRENT} node, whose value holds the hidden units (forward, then reverse).
     * Y ([S, dirs, N, H]) carries them: in one direction on its last axis; in both (each with units of its own), when
     * read as PyTorch reads it, its directions merged into one axis of 2 H channels by a Reshape
     * ({@link Held.Kind#BIDIRECTIONAL}), else they stay. The last hidden and cell states ([dirs, N, H]) are a
     * {@link Stack} of each direction's units.
     */
    private void recurrent(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Recurrence p = recurrentParams(r, ins);
        long layout = OnnxShapes.attr(n, "layout", 0);
        if (p == null || (p.directions() == 2 && layout != 0)) {
            opaque(r, ins, shapes, "a recurrent layer Lady cannot follow (weights not from stored rows, peepholes, "
                    + "initial states from the data, its channels not on its input's last axis, or both directions in "
                    + "layout 1)");
            return;
        }
        long hidden = OnnxShapes.attr(n, "hidden_size", 0);
        String node = name(n);
        String y = n.outputs().get(0);
        String units = p.directions() == 1 && !y.isEmpty() ? y : node + "#y";
        String in = ins.get(0).lady;
        if (ins.get(0).caxis == UNKNOWN) { // channels not followed (a graph input of features): they stay, the units move
            in = node + "#in";
            emit(extra(node, 20), Op.OPAQUE, List.of(ins.get(0).lady), in, Map.of(), Map.of("why", n.opType() + " '" + node
                    + "': the channels of its input are not followed", Op.QUIET, 1L), n.opType());
        }
        emit(node, Op.RECURRENT, List.of(in), units, p.params(), p.attrs(), n.opType());
        recurrentUnits.put(r.index(), units);
        if (p.directions() == 1 && !y.isEmpty()) {
            data(n, 0, y, shapes[0], 3);
        } else if (used(n, 0) && !holdDirections(r)) {
            pinDirections(r, units, shapes[0]);
        }
        List<String> each = new ArrayList<>(); // each direction's units
        for (int d = 0; d < p.directions(); d++) {
            if (p.directions() == 1) {
                each.add(units);
            } else {
                String slice = extra(node, 10 + d);
                emit(slice, Op.SLICE_CHANNELS, List.of(units), slice + ":units", Map.of(), Map.of("axis", 2L, "start",
                        d * hidden, "length", hidden), n.opType());
                each.add(slice + ":units");
            }
        }
        for (int k = 1; k < n.outputs().size(); k++) { // Y_h, Y_c: [dirs, N, H] (layout 0) or [N, 1, H]
            String o = n.outputs().get(k);
            if (o.isEmpty()) {
                continue;
            }
            if (p.directions() == 1) {
                emit(extra(node, k), Op.CHANNELWISE, List.of(units), o, Map.of(), Map.of(), n.opType());
                vals.put(o, Val.data(o, shapes[k], 2));
            }
            if (layout == 0 && shapes[k] != null && shapes[k].length == 3) {
                stacks.put(o, new Stack(each, shapes[k]));
            }
        }
    }

    /** Y of bidirectional layer {@code r} read in a way Lady does not follow: its units ({@code units}) stay. */
    private void pinDirections(OnnxModel.ResolvedNode r, String units, long[] shape) {
        String y = r.node().outputs().get(0);
        emit(extra(units, 1), Op.OPAQUE, List.of(units), y, Map.of(), Map.of("why", r.node().opType() + ": a "
                + "bidirectional recurrent layer whose output is not read as PyTorch reads it (Transpose to [S, N, 2, H], "
                + "Reshape to [S, N, 2 H])"), r.node().opType());
        vals.put(y, Val.data(y, shape, UNKNOWN));
    }

    private static long gates(OnnxNode n) {
        return switch (n.opType()) {
            case "LSTM" -> 4;
            case "GRU" -> 3;
            default -> 1;
        };
    }

    /**
     * The params and attrs of recurrent layer {@code r} ({@link Op#RECURRENT}: per direction and gate, every tensor
     * holding the gate's rows of W, R and the two biases, with the row each gate starts at), or null when Lady cannot
     * follow it. The weights may be stored ([dirs, ...]; in both directions, read in parts: {@link OnnxModel#parts()}) or
     * computed from stored tensors by row slices, concatenations along the rows and a new leading axis (PyTorch's kept
     * export, which reorders the gates of its state-dict tensors): see {@link #traceRows}.
     */
    private Recurrence recurrentParams(OnnxModel.ResolvedNode r, List<Val> ins) {
        OnnxNode n = r.node();
        long gates = gates(n);
        long hidden = OnnxShapes.attr(n, "hidden_size", 0);
        long layout = OnnxShapes.attr(n, "layout", 0);
        Val x = ins.get(0);
        boolean statesFree = ins.size() < 8 || ins.get(7) == null; // no peepholes
        for (int i = 4; i < Math.min(ins.size(), 7); i++) {
            Val v = ins.get(i);
            // sequence lengths: any constant; initial states: the same value for every unit (PyTorch's expanded zeros)
            statesFree &= v == null || (!v.data && (i == 4 || uniform(n.inputs().get(i), 8)));
        }
        int dirs = OnnxShapes.stringAttr(n, "direction", "forward").equals("bidirectional") ? 2 : 1;
        if (x == null || (x.caxis != 2 && x.caxis != UNKNOWN) || x.rank() != 3 || hidden < 1 || (layout != 0 && layout != 1)
                || !statesFree || ins.size() < 3) {
            return null;
        }
        Recurrence out = new Recurrence(new LinkedHashMap<>(), new LinkedHashMap<>());
        out.attrs().put("gates", gates);
        out.attrs().put("hidden", hidden);
        out.attrs().put("directions", (long) dirs);
        String[] roles = {"w", "r", "b"};
        traceBudget = 1 << 12;
        for (int k = 0; k < 3; k++) {
            if (k == 2 && (ins.size() <= 3 || ins.get(3) == null)) {
                break; // no bias
            }
            Traced t = together(traceRows(r, k + 1, 16, k == 2, true));
            long rows = (k == 2 ? 2 : 1) * gates * hidden;
            if (t == null || !t.stacked() || t.parts().size() != dirs) {
                return null;
            }
            for (int d = 0; d < dirs; d++) {
                List<Rows> segs = t.parts().get(d);
                if (segs.stream().mapToLong(Rows::length).sum() != rows) {
                    return null;
                }
                for (long g = 0; g < rows / hidden; g++) {
                    Rows in = null;
                    long at = 0;
                    for (Rows seg : segs) {
                        if (at <= g * hidden && g * hidden + hidden <= at + seg.length()) {
                            in = new Rows(seg.tensors(), seg.offset() + g * hidden - at, hidden);
                        }
                        at += seg.length();
                    }
                    if (in == null) {
                        return null; // a gate's rows from two tensors
                    }
                    for (int u = 0; u < in.tensors().size(); u++) {
                        String key = roles[k] + d + "." + g + "." + u;
                        out.params().put(key, in.tensors().get(u));
                        out.attrs().put(key, in.offset());
                    }
                }
            }
        }
        Map<String, Set<Long>> starts = new HashMap<>(); // per tensor, the rows its gates start at: none may overlap
        for (String key : out.params().keySet()) {
            starts.computeIfAbsent(out.params().get(key), t -> new TreeSet<>()).add((Long) out.attrs().get(key));
        }
        for (Set<Long> at : starts.values()) {
            long last = Long.MIN_VALUE / 2;
            for (long a : at) {
                if (a < last + hidden) {
                    return null; // two gates read overlapping rows of one tensor
                }
                last = a;
            }
        }
        long[] cols = {-1, -1}; // W's columns: the input's channels; R's: the hidden units
        for (String key : out.params().keySet()) {
            long[] shape = model.tensorShape(out.params().get(key));
            int c = key.charAt(0) == 'w' ? 0 : key.charAt(0) == 'r' ? 1 : -1;
            if (c >= 0 && shape.length >= 2 && cols[c] != -1 && cols[c] != shape[shape.length - 1]) {
                return null;
            }
            if (c >= 0) {
                cols[c] = shape.length >= 2 ? shape[shape.length - 1] : -2;
            }
        }
        return cols[0] == x.dim(2) && cols[1] == hidden ? out : null;
    }

    /** Node inputs {@link #traceRows} may still visit for one layer (a hostile graph's fan-out stays bounded). */
    private int traceBudget;

    /** A recurrent layer's params and attrs ({@link #recurrentParams}). */
    private record Recurrence(Map<String, String> params, Map<String, Object> attrs) {
        /** 2 for a bidirectional layer, else 1. */
        long directions() {
            return (Long) attrs.get("directions");
        }
    }

    /**
     * Rows [offset, offset + length) of a stored tensor (axis 0 of its rows: the one before the last for a matrix, the
     * only one for a vector), in every tensor that holds its values ({@code tensors}: the uses of one initializer,
     * which must move alike; or one part of a tensor read in parts).
     */
    private record Rows(List<String> tensors, long offset, long length) {}

    /**
     * A weight computed from stored rows: its {@code parts} along a leading axis when {@code stacked}, else one part:
     * each the concatenation of its rows.
     */
    private record Traced(List<List<Rows>> parts, boolean stacked) {}

    /**
     * Where the rows of input {@code i} of node {@code r} come from, or null when not from stored rows alone. The value
     * is a matrix (rows, columns) or a vector ({@code vector}), or a stack of them along a new axis 0 ({@code stacked}).
     * A stored stack is read per entry of its axis 0 (its parts when it is read in parts; else only a stack of one); a
     * computed one may come (at most {@code depth} nodes back) from Identity, Concat along the rows or the stack, Slice of
     * rows (step 1, constant bounds) and Unsqueeze of a new axis 0, which stacks.
     */
    private Traced traceRows(OnnxModel.ResolvedNode r, int i, int depth, boolean vector, boolean stacked) {
        if (i >= r.inputs().size() || --traceBudget < 0) {
            return null;
        }
        int rank = (vector ? 1 : 2) + (stacked ? 1 : 0);
        OnnxModel.Operand op = r.inputs().get(i);
        if (op.kind() == OnnxModel.Operand.Kind.INITIALIZER) {
            String t = model.tensorOf(r.index(), i);
            OnnxInitializer info = model.initializer(op.name());
            long[] shape = info.shape();
            if (t == null || !OnnxModel.splittable(info) || shape.length != rank) {
                return null;
            }
            if (!stacked) {
                return new Traced(List.of(List.of(new Rows(List.of(t), 0, shape[0]))), false);
            }
            List<String> parts = model.parts().get(t);
            if (parts == null && shape[0] != 1) {
                return null;
            }
            List<List<Rows>> stack = new ArrayList<>();
            for (int k = 0; k < shape[0]; k++) {
                stack.add(List.of(new Rows(List.of(parts != null ? parts.get(k) : t), 0, shape[1])));
            }
            return new Traced(stack, true);
        }
        OnnxModel.ResolvedNode w = op.kind() == OnnxModel.Operand.Kind.VALUE ? writers.get(op.name()) : null;
        if (w == null || depth == 0 || !(w.node().domain().isEmpty() || w.node().domain().equals("ai.onnx"))) {
            return null;
        }
        OnnxNode n = w.node();
        switch (n.opType()) {
            case "Identity":
                return traceRows(w, 0, depth - 1, vector, stacked);
            case "Unsqueeze": {
                long[] axes = n.inputs().size() > 1 ? constInts(n.inputs().get(1)) : OnnxShapes.ints(n, "axes", null);
                Traced t = !stacked || axes == null || !Arrays.equals(axes, new long[] {0}) ? null
                        : traceRows(w, 0, depth - 1, vector, false);
                return t == null ? null : new Traced(List.of(t.parts().get(0)), true);
            }
            case "Concat": {
                if (OnnxShapes.attr(n, "axis", 0) != 0) {
                    return null;
                }
                List<List<Rows>> parts = new ArrayList<>();
                for (int k = 0; k < n.inputs().size(); k++) {
                    Traced t = traceRows(w, k, depth - 1, vector, stacked);
                    if (t == null) {
                        return null;
                    }
                    if (stacked) {
                        parts.addAll(t.parts());
                    } else {
                        parts = List.of(concat(parts.isEmpty() ? List.of() : parts.get(0), t.parts().get(0)));
                    }
                }
                return parts.isEmpty() ? null : new Traced(parts, stacked);
            }
            case "Slice": {
                long[] bounds = rowSlice(n);
                Traced t = stacked || bounds == null ? null : traceRows(w, 0, depth - 1, vector, false);
                if (t == null) {
                    return null;
                }
                long total = t.parts().get(0).stream().mapToLong(Rows::length).sum();
                long from = OnnxShapes.clamp(bounds[0], total);
                long to = Math.max(from, OnnxShapes.clamp(bounds[1], total));
                List<Rows> rows = new ArrayList<>();
                long at = 0;
                for (Rows seg : t.parts().get(0)) {
                    long a = Math.max(from, at);
                    long b = Math.min(to, at + seg.length());
                    if (a < b) {
                        rows.add(new Rows(seg.tensors(), seg.offset() + a - at, b - a));
                    }
                    at += seg.length();
                }
                return new Traced(List.of(rows), false);
            }
            default:
                return null;
        }
    }

    /**
     * {@code t} with each row range in every tensor of the trace that holds the same initializer's values (the slices of
     * one state-dict tensor, each its own use): they all move alike, so that the writer keeps them one initializer.
     */
    private Traced together(Traced t) {
        if (t == null) {
            return null;
        }
        Map<String, List<String>> uses = new LinkedHashMap<>(); // an initializer (or a part) -> its tensors in the trace
        java.util.function.Function<String, String> init = u -> model.tensors().containsKey(u)
                ? model.tensors().get(u).initializer() : u;
        for (List<Rows> part : t.parts()) {
            for (Rows seg : part) {
                for (String u : seg.tensors()) {
                    List<String> l = uses.computeIfAbsent(init.apply(u), k -> new ArrayList<>());
                    if (!l.contains(u)) {
                        l.add(u);
                    }
                }
            }
        }
        List<List<Rows>> parts = new ArrayList<>();
        for (List<Rows> part : t.parts()) {
            parts.add(part.stream().map(seg -> new Rows(uses.get(init.apply(seg.tensors().get(0))), seg.offset(),
                    seg.length())).toList());
        }
        return new Traced(parts, t.stacked());
    }

    private static List<Rows> concat(List<Rows> a, List<Rows> b) {
        List<Rows> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /**
     * Slice {@code n}'s bounds {start, end} (as written: negative ones count from the end) when it cuts axis 0 alone, with
     * step 1 and constant bounds; else null.
     */
    private long[] rowSlice(OnnxNode n) {
        List<String> in = n.inputs();
        long[] starts = in.size() > 1 ? constInts(in.get(1)) : null;
        long[] ends = in.size() > 2 ? constInts(in.get(2)) : null;
        long[] axes = in.size() > 3 && !in.get(3).isEmpty() ? constInts(in.get(3)) : new long[] {0};
        long[] steps = in.size() > 4 && !in.get(4).isEmpty() ? constInts(in.get(4)) : new long[] {1};
        boolean rows = starts != null && ends != null && starts.length == 1 && ends.length == 1
                && Arrays.equals(axes, new long[] {0}) && Arrays.equals(steps, new long[] {1});
        return rows ? new long[] {starts[0], ends[0]} : null;
    }

    /** The constant integers value {@code v} holds (an initializer, or a value known by now), or null. */
    private long[] constInts(String v) {
        String init = model.initializerOf(v);
        if (init != null) {
            return model.smallLongs(init, MAX_FOLDED);
        }
        Val c = vals.get(v);
        return c == null || c.data ? null : c.ints;
    }

    /**
     * Holds the Transpose and Reshape that read Y of bidirectional layer {@code r} back ({@link Held.Kind#BIDIRECTIONAL})
     * when Y is read only by a Transpose to [S, N, 2, H] read only by a Reshape; false when not.
     */
    private boolean holdDirections(OnnxModel.ResolvedNode r) {
        OnnxNode n = r.node();
        String y = n.outputs().get(0);
        OnnxModel.ResolvedNode middle = y.isEmpty() ? null : onlyReader(y, "Transpose", 0);
        if (middle == null || !Arrays.equals(OnnxShapes.ints(middle.node(), "perm", new long[0]), new long[] {0, 2, 1, 3})) {
            return false;
        }
        OnnxModel.ResolvedNode back = onlyReader(middle.node().outputs().get(0), "Reshape", 0);
        if (back == null || held.containsKey(back.index())) {
            return false;
        }
        held.put(back.index(), new Held(Held.Kind.BIDIRECTIONAL, r, middle));
        fused.add(middle.index());
        return true;
    }

    /**
     * The Reshape {@code back} that merges the directions of bidirectional layer {@code first}'s Y, held back with the
     * Transpose before it: its output, [S, N, 2 H], holds the layer's units (the forward direction's, then the
     * reverse's); false (nothing read) when the Reshape gives another shape.
     */
    private boolean bidirectional(OnnxModel.ResolvedNode back, OnnxModel.ResolvedNode first) {
        Val x = vals.get(first.node().inputs().get(0));
        long hidden = OnnxShapes.attr(first.node(), "hidden_size", 0);
        List<Val> backIns = operands(back);
        if (x == null || !x.known() || x.rank() != 3 || backIns.size() < 2) {
            return false;
        }
        long[] moved = {x.shape[0], x.shape[1], 2, hidden}; // [S, N, 2, H] after the Transpose
        long[] expected = {x.shape[0], x.shape[1], 2 * hidden};
        if (!Arrays.equals(reshaped(back, moved, backIns.get(1)), expected)) {
            return false;
        }
        String o = back.node().outputs().get(0);
        vals.put(o, Val.data(units(first), expected, 2));
        return true;
    }

    /** The value of the imported graph holding the hidden units of bidirectional layer {@code r} ({@link #recurrent}). */
    private String units(OnnxModel.ResolvedNode r) {
        return recurrentUnits.get(r.index());
    }

    /**
     * Whether value {@code v} is provably one number repeated: a small constant whose entries are equal, a Constant or
     * ConstantOfShape, or one of them expanded, reshaped, cast, sliced or gathered (at most {@code depth} nodes back). A
     * stored tensor is not (its entries could be a unit's own).
     */
    private boolean uniform(String v, int depth) {
        Val known = vals.get(v);
        if (known != null && known.reals != null) {
            return Arrays.stream(known.reals).allMatch(d -> d == known.reals[0]);
        }
        if (depth == 0 || model.initializerOf(v) != null) {
            return false;
        }
        OnnxModel.ResolvedNode w = writers.get(v);
        if (w == null) {
            return false;
        }
        OnnxNode n = w.node();
        switch (n.opType()) {
            case "ConstantOfShape":
                return true;
            case "Constant": {
                OnnxAttribute a = n.attribute("value");
                if (a == null || a.type() != OnnxAttribute.Type.TENSOR || elements(a.asTensor().shape()) > 1L << 24) {
                    return false;
                }
                double[] d = a.asTensor().doubles();
                return d != null && Arrays.stream(d).allMatch(x -> Double.compare(x, d[0]) == 0);
            }
            case "Expand", "Identity", "Cast", "Reshape", "Unsqueeze", "Squeeze", "Tile", "Slice", "Gather":
                return !n.inputs().isEmpty() && n.outputs().indexOf(v) == 0 && uniform(n.inputs().get(0), depth - 1);
            default:
                return false;
        }
    }

    /** DepthToSpace (PyTorch's PixelShuffle: CRD) and SpaceToDepth, on the channels of axis 1. */
    private void depthSpace(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        long block = OnnxShapes.attr(n, "blocksize", 0);
        String mode = OnnxShapes.stringAttr(n, "mode", "DCR");
        if (x.caxis != 1 || x.rank() != 4 || block < 1 || !(mode.equals("DCR") || mode.equals("CRD"))) {
            opaque(r, ins, shapes, "its input's channels are not on axis 1 of an image, or its blocksize or mode is not one "
                    + "Lady knows");
            return;
        }
        boolean toSpace = n.opType().equals("DepthToSpace");
        String out = n.outputs().get(0);
        emit(name(n), toSpace ? Op.DEPTH_TO_SPACE : Op.SPACE_TO_DEPTH, List.of(x.lady), out, Map.of(),
                toSpace ? Map.of("block", block, "mode", mode) : Map.of("block", block), n.opType());
        data(n, 0, out, shapes[0], 1);
    }

    /**
     * ONNX's GroupNormalization: scale and bias one per channel (opset 21) or one per group (opset 18, read by their
     * length), stored.
     */
    private void groupNorm(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        long groups = OnnxShapes.attr(n, "num_groups", 0);
        long channels = x.dim(1);
        View s = ins.size() > 1 ? weight(ins.get(1), 1) : null;
        View b = ins.size() > 2 ? weight(ins.get(2), 1) : null;
        if (s == null || b == null || x.caxis != 1 || channels < 1 || groups < 1 || channels % groups != 0) {
            opaque(r, ins, shapes, "its scale or bias is computed, its groups do not divide its channels, or its input's "
                    + "channels are not on axis 1");
            return;
        }
        long length = ins.get(1).dim(0);
        if (length != ins.get(2).dim(0) || (length != channels && length != groups)) {
            opaque(r, ins, shapes, "its scale and bias are neither one per channel nor one per group");
            return;
        }
        boolean perChannel = length == channels;
        String out = n.outputs().get(0);
        emit(name(n), Op.GROUP_NORM, List.of(x.lady), out, perChannel ? params("weight", s.tensor(), "bias", b.tensor())
                : params("group_weight", s.tensor(), "group_bias", b.tensor()), Map.of("groups", groups,
                "eps", floatAttr(n, "epsilon", 1e-5)), n.opType());
        data(n, 0, out, shapes[0], 1);
    }

    /**
     * Whether Reshape {@code r} starts three nodes read as one ({@link Held}): PyTorch's export of {@code nn.GroupNorm}
     * (opset 17 has no GroupNormalization): x [N, C, ...] reshaped to [N, G, -1], read only by an InstanceNormalization
     * read only by a Reshape; or of ShuffleNet's channel shuffle: x [N, C, H, W] reshaped to [N, G, C / G, H, W], read
     * only by a Transpose of axes 1 and 2 read only by a Reshape. The first two nodes are then held back until the last
     * is reached ({@link #heldEnd}), where its output's shape (x's own) decides.
     */
    private boolean heldStart(OnnxModel.ResolvedNode r, Val x, long[] to) {
        if (x == null || !x.data || x.caxis != 1 || !x.known() || x.rank() < 3 || to == null || to[0] != x.shape[0]
                || to.length < 3 || to[1] < 1 || x.shape[1] % to[1] != 0 || outputs.contains(r.node().outputs().get(0))) {
            return false;
        }
        boolean shuffle = to.length == x.rank() + 1 && to[1] * to[2] == x.shape[1]
                && Arrays.equals(Arrays.copyOfRange(to, 3, to.length), Arrays.copyOfRange(x.shape, 2, x.rank()));
        boolean unshuffle = !shuffle && x.rank() == 4 && to.length == 6 && to[1] == x.shape[1] && to[3] > 1
                && to[3] == to[5] && to[2] * to[3] == x.shape[2] && to[4] * to[5] == x.shape[3];
        if (!shuffle && !unshuffle && to.length != 3) {
            return false;
        }
        Held.Kind kind = shuffle ? Held.Kind.SHUFFLE : unshuffle ? Held.Kind.UNSHUFFLE : Held.Kind.GROUP_NORM;
        OnnxModel.ResolvedNode middle = onlyReader(r.node().outputs().get(0),
                kind == Held.Kind.GROUP_NORM ? "InstanceNormalization" : "Transpose", 0);
        if (kind != Held.Kind.GROUP_NORM && middle != null) {
            long[] perm = OnnxShapes.ints(middle.node(), "perm", new long[0]);
            long[] want = new long[to.length];
            for (int i = 0; i < want.length; i++) {
                want[i] = shuffle ? (i == 1 ? 2 : i == 2 ? 1 : i) : new long[] {0, 1, 3, 5, 2, 4}[i];
            }
            if (!Arrays.equals(perm, want)) {
                return false;
            }
        }
        OnnxModel.ResolvedNode back = middle == null ? null : onlyReader(middle.node().outputs().get(0), "Reshape", 0);
        if (back == null || held.containsKey(back.index())) {
            return false;
        }
        held.put(back.index(), new Held(kind, r, middle));
        fused.add(middle.index());
        return true;
    }

    /** The one node reading {@code value} (as its input {@code input}), of the default domain and type {@code op}, or null. */
    private OnnxModel.ResolvedNode onlyReader(String value, String op, int input) {
        List<OnnxModel.ResolvedNode> rs = readers.getOrDefault(value, List.of());
        if (rs.size() != 1 || outputs.contains(value)) {
            return null;
        }
        OnnxModel.ResolvedNode n = rs.get(0);
        boolean onnx = n.node().domain().isEmpty() || n.node().domain().equals("ai.onnx");
        return onnx && n.node().opType().equals(op) && n.node().inputs().indexOf(value) == input
                && n.node().inputs().lastIndexOf(value) == input ? n : null;
    }

    /**
     * The Reshape back of three nodes held back by {@link #heldStart}: one node when it gives the shape the pattern
     * computes (a group norm's per-group values: InstanceNormalization's scale and bias, stored, or one number repeated);
     * otherwise the held-back nodes are read as they are, then this one.
     */
    private void heldEnd(OnnxModel.ResolvedNode back) {
        Held h = held.get(back.index());
        boolean read;
        try {
            read = switch (h.kind()) {
                case GROUP_NORM -> groupNorm(back, h.first(), h.middle());
                case SHUFFLE -> rearranged(back, h.first(), true);
                case UNSHUFFLE -> rearranged(back, h.first(), false);
                case BIDIRECTIONAL -> bidirectional(back, h.first());
            };
        } catch (RuntimeException e) { // a malformed file: read the three nodes one by one (each is then guarded)
            read = false;
        }
        if (!read && h.kind() == Held.Kind.BIDIRECTIONAL) { // the layer was read: Y pinned, then what reads it
            pinDirections(h.first(), units(h.first()), null);
            fused.remove(h.middle().index());
            guarded(h.middle());
            guarded(back);
        } else if (!read) {
            fused.remove(h.middle().index());
            guarded(h.first());
            guarded(h.middle());
            guarded(back);
        }
    }

    /** The shape Reshape {@code r} gives an input of shape {@code in} with target {@code target}, or null. */
    private static long[] reshaped(OnnxModel.ResolvedNode r, long[] in, Val target) {
        if (target == null || in == null) {
            return null;
        }
        return OnnxShapes.infer(r, Arrays.asList(in, target.shape == null ? new long[0] : target.shape),
                Arrays.asList(null, target.ints), Arrays.asList(null, target.reals))[0];
    }

    /**
     * The channel shuffle or PixelUnshuffle ending at {@code back}, written as one node; false (nothing written) when
     * the Reshape back does not give what the pattern computes: x's own shape for a shuffle ({@link Op#CHANNEL_SHUFFLE});
     * [N, C r^2, H / r, W / r] for an unshuffle, output channel c r^2 + k being channel c at pixel k of its block
     * ({@link Op#SPACE_TO_DEPTH} of mode CRD).
     */
    private boolean rearranged(OnnxModel.ResolvedNode back, OnnxModel.ResolvedNode first, boolean shuffle) {
        List<Val> firstIns = operands(first);
        Val x = firstIns.get(0);
        long[] to = firstIns.size() < 2 ? null : reshaped(first, x.shape, firstIns.get(1));
        if (to == null || !x.data || x.lady == null || (!shuffle && to.length != 6)) {
            return false;
        }
        long[] moved = shuffle ? to.clone() : new long[] {to[0], to[1], to[3], to[5], to[2], to[4]};
        if (shuffle) {
            moved[1] = to[2];
            moved[2] = to[1];
        }
        long[] expected = shuffle ? x.shape : new long[] {x.shape[0], x.shape[1] * to[3] * to[3], to[2], to[4]};
        List<Val> backIns = operands(back);
        if (backIns.size() < 2 || !Arrays.equals(reshaped(back, moved, backIns.get(1)), expected)) {
            return false;
        }
        String o = back.node().outputs().get(0);
        emit(name(first.node()), shuffle ? Op.CHANNEL_SHUFFLE : Op.SPACE_TO_DEPTH, List.of(x.lady), o, Map.of(),
                shuffle ? Map.of("groups", to[1]) : Map.of("block", to[3], "mode", "CRD"),
                shuffle ? "ChannelShuffle" : "PixelUnshuffle");
        vals.put(o, Val.data(o, expected, 1));
        return true;
    }

    /** The group norm ending at {@code back}, written as one node; false (nothing written) when it is none. */
    private boolean groupNorm(OnnxModel.ResolvedNode back, OnnxModel.ResolvedNode first, OnnxModel.ResolvedNode norm) {
        List<Val> firstIns = operands(first);
        Val x = firstIns.get(0);
        List<Val> backIns = operands(back);
        Val target = backIns.size() > 1 ? backIns.get(1) : null;
        List<Val> normIns = operands(norm);
        Val scale = normIns.size() > 1 ? normIns.get(1) : null;
        Val bias = normIns.size() > 2 ? normIns.get(2) : null;
        long[] to = x == null || firstIns.size() < 2 ? null : reshaped(first, x.shape, firstIns.get(1));
        long groups = to != null && to.length == 3 ? to[1] : -1;
        boolean same = groups > 0 && Arrays.equals(reshaped(back, to, target), x.shape);
        if (!same || !perGroup(scale, groups) || !perGroup(bias, groups) || !x.data || x.lady == null) {
            return false;
        }
        Map<String, String> p = new LinkedHashMap<>();
        boolean fixedGroups = false;
        for (int i = 1; i <= 2; i++) {
            Val v = i == 1 ? scale : bias;
            if (v.view != null && v.view.whole(1)) {
                p.put(i == 1 ? "group_weight" : "group_bias", v.view.tensor());
            } else if (!uniform(norm.node().inputs().get(i), 8)) {
                fixedGroups = true; // computed and not the same for every group: the groups stay
            }
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("groups", groups);
        a.put("eps", floatAttr(norm.node(), "epsilon", 1e-5));
        if (fixedGroups) {
            a.put("groups_fixed", 1L);
        }
        String out = back.node().outputs().get(0);
        emit(name(norm.node()), Op.GROUP_NORM, List.of(x.lady), out, p, a, "GroupNorm");
        vals.put(out, Val.data(out, x.shape, 1));
        return true;
    }

    /** Whether {@code v} is a 1-D value of one entry per group. */
    private static boolean perGroup(Val v, long groups) {
        return v != null && !v.data && v.shape != null && v.shape.length == 1 && v.shape[0] == groups;
    }

    private void layerNorm(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        int rank = x.rank();
        int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", -1), rank);
        View s = ins.size() > 1 ? weight(ins.get(1), 1) : null;
        View b = ins.size() > 2 && ins.get(2) != null ? weight(ins.get(2), 1) : null;
        boolean hasBias = ins.size() > 2 && ins.get(2) != null;
        if (axis < 0 || s == null || (hasBias && b == null)) {
            opaque(r, ins, shapes, "layer normalization whose axes or parameters Lady cannot read");
            return;
        }
        String out = n.outputs().get(0);
        if (x.caxis == UNKNOWN || (axis == rank - 1 && x.caxis == rank - 1)) {
            Map<String, Object> a = Map.of("eps", floatAttr(n, "epsilon", 1e-5));
            emit(name(n), Op.LAYER_NORM, List.of(x.lady), out, params("weight", s.tensor(), "bias", b == null ? null : b.tensor()),
                    a, n.opType());
            data(n, 0, out, shapes[0], x.caxis);
        } else if (x.caxis < axis) {
            // normalizes other axes, channel by channel
            emit(name(n), Op.CHANNELWISE, List.of(x.lady), out, params("constant", s.tensor(), "constant1",
                    b == null ? null : b.tensor()), Map.of(), n.opType());
            data(n, 0, out, shapes[0], x.caxis);
        } else {
            opaque(r, ins, shapes, "layer normalization over the channels together with other axes");
        }
    }

    /**
     * Element-wise operations of several inputs with numpy broadcasting: the data inputs whose channels land
     * on the same output axis are tied ({@code tie}: ADD for sums, MUL otherwise); inputs with one entry on
     * that axis broadcast; a stored constant with one entry per channel follows them (CHANNELWISE vector).
     */
    private void elementwise(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes, Op tie) {
        OnnxNode n = r.node();
        int out = 0;
        for (Val v : ins) {
            if (v != null) {
                if (v.rank() < 0) {
                    opaque(r, ins, shapes, "the shapes of its inputs are unknown");
                    return;
                }
                out = Math.max(out, v.rank());
            }
        }
        int k = -2;
        List<Val> unknown = new ArrayList<>();
        for (Val v : ins) {
            if (v != null && v.data) {
                if (v.caxis == UNKNOWN) {
                    unknown.add(v);
                    continue;
                }
                int a = v.caxis + out - v.rank();
                if (k != -2 && k != a) {
                    opaque(r, ins, shapes, "its inputs have their channels on different axes");
                    return;
                }
                k = a;
            }
        }
        if (!unknown.isEmpty()) {
            if (k == -2 && unknown.size() == 1) {
                keepAs(r, unknown.get(0), shapes[0], UNKNOWN, Op.CHANNELWISE, Map.of());
            } else {
                opaque(r, ins, shapes, "an input whose channels Lady does not follow");
            }
            return;
        }
        long channels = shapes[0] != null && k < shapes[0].length ? shapes[0][k] : -1;
        List<Val> mains = new ArrayList<>();
        List<String[]> vectors = new ArrayList<>(); // {tensor, axis}
        for (Val v : ins) {
            if (v == null) {
                continue;
            }
            int a = k - (out - v.rank());
            long d = a < 0 ? 1 : v.dim(a);
            if (v.data) {
                if (d == 1 && channels != 1) {
                    continue; // one entry for every channel: broadcast
                }
                mains.add(v);
                continue;
            }
            if (d == 1) {
                continue;
            }
            if (d < 0 || v.view == null || v.view.axes()[a] < 0) {
                opaque(r, ins, shapes, "a constant that differs from channel to channel is computed, not stored");
                return;
            }
            long[] ts = model.initializer(model.tensors().get(v.view.tensor()).initializer()).shape();
            if (ts[v.view.axes()[a]] != d) {
                continue; // expanded from one entry: the same for every channel
            }
            vectors.add(new String[] {v.view.tensor(), Integer.toString(v.view.axes()[a])});
        }
        if (mains.isEmpty()) {
            opaque(r, ins, shapes, "its channels come from a broadcast input");
            return;
        }
        String name = name(n);
        String target = n.outputs().get(0);
        int total = mains.size() - 1 + vectors.size();
        String cur = mains.get(0).lady;
        if (total == 0) {
            emit(name, Op.CHANNELWISE, List.of(cur), target, Map.of(), Map.of(), n.opType());
        }
        int step = 0;
        for (int i = 1; i < mains.size(); i++) {
            step++;
            String node = step == 1 ? name : extra(name, step);
            String o = step == total ? target : node + ":out";
            emit(node, tie, List.of(cur, mains.get(i).lady), o, Map.of(), Map.of(), n.opType());
            cur = o;
        }
        for (String[] v : vectors) {
            step++;
            String node = step == 1 ? name : extra(name, step);
            String o = step == total ? target : node + ":out";
            emit(node, Op.CHANNELWISE, List.of(cur), o, Map.of("vector", v[0]), Map.of("axis", Long.parseLong(v[1])),
                    n.opType());
            cur = o;
        }
        data(n, 0, target, shapes[0], k);
    }

    private void concat(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        int rank = -1;
        int k = -2;
        for (Val v : ins) {
            if (v == null) {
                opaque(r, ins, shapes, "an input is missing");
                return;
            }
            if (rank >= 0 && v.rank() != rank || v.rank() < 0) {
                opaque(r, ins, shapes, "its inputs' ranks are unknown or differ");
                return;
            }
            rank = v.rank();
            if (v.data) {
                if (v.caxis == UNKNOWN || (k != -2 && k != v.caxis)) {
                    opaque(r, ins, shapes, "its inputs' channels are not followed on one axis");
                    return;
                }
                k = v.caxis;
            }
        }
        int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 0), rank);
        if (axis < 0) {
            opaque(r, ins, shapes, "its axis is out of range");
            return;
        }
        for (Val v : ins) {
            // a stored parameter concatenated along another axis (a class token) opens a space of its own, tied
            if (!v.data && (axis == k || v.view == null || k != rank - 1 || v.view.axes()[k] != tensorRank(v.view) - 1)) {
                opaque(r, ins, shapes, "a constant concatenated with the data");
                return;
            }
        }
        List<String> in = new ArrayList<>();
        String name = name(n);
        int params = 0;
        for (Val v : ins) {
            if (v.data) {
                in.add(v.lady);
                continue;
            }
            String node = extra(name, ++params);
            String value = node + ":param";
            emit(node, Op.PARAM, List.of(), value, Map.of("value", v.view.tensor()), Map.of("expand", 0L), n.opType());
            in.add(value);
        }
        String out = n.outputs().get(0);
        emit(name, Op.CONCAT, in, out, Map.of(), Map.of("axis", (long) axis, "channels", axis == k ? 1L : 0L), n.opType());
        data(n, 0, out, shapes[0], k);
    }

    private void flatten(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        int rank = x.rank();
        long a = OnnxShapes.attr(n, "axis", 1);
        int axis = (int) (a < 0 ? a + rank : a);
        if (x.caxis == UNKNOWN) {
            keepAs(r, x, shapes[0], UNKNOWN, Op.CHANNELWISE, Map.of());
            return;
        }
        if (rank < 0 || axis < 0 || axis > rank) {
            opaque(r, ins, shapes, "flatten of an input of unknown rank");
            return;
        }
        // the axes merged in front of the channels must all be of size 1
        boolean front = axis <= x.caxis;
        for (int i = axis; front && i < x.caxis; i++) {
            front = x.dim(i) == 1;
        }
        if (!front) {
            opaque(r, ins, shapes, "a flatten that puts the channels inside another axis");
        } else if (x.caxis == rank - 1) {
            keepAs(r, x, shapes[0], 1, Op.CHANNELWISE, Map.of());
        } else {
            keepAs(r, x, shapes[0], 1, Op.FLATTEN, Map.of("start", (long) axis));
        }
    }

    private void reshape(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (heldStart(r, x, shapes[0])) {
            return;
        }
        if (settled(r, ins, shapes, "the values of its target shape")) {
            return;
        }
        long[] to = shapes[0];
        if (!x.known() || to == null) {
            opaque(r, ins, shapes, "a reshape whose shapes are known only at run time");
            return;
        }
        int[] where = OnnxShapes.reshapedAxis(x.shape, to, x.caxis);
        if (where == null) {
            opaque(r, ins, shapes, "a reshape that splits the channels or merges them inside another axis "
                    + "(attention whose heads Lady could not prove stays in place)");
        } else if (where[1] == 1) {
            keepAs(r, x, to, where[0], Op.FLATTEN, Map.of("start", (long) where[0]));
        } else {
            keepAs(r, x, to, where[0], Op.CHANNELWISE, Map.of());
        }
    }

    private void transpose(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        long[] perm = OnnxShapes.ints(r.node(), "perm", reverse(x.rank()));
        boolean[] seen = new boolean[perm.length];
        for (long a : perm) {
            if (a < 0 || a >= perm.length || seen[(int) a] || (x.rank() >= 0 && perm.length != x.rank())) {
                opaque(r, ins, shapes, "its perm " + Arrays.toString(perm) + " is not an order of the input's axes");
                return;
            }
            seen[(int) a] = true;
        }
        int caxis = UNKNOWN;
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] == x.caxis) {
                caxis = i;
            }
        }
        if (x.caxis != UNKNOWN && caxis == UNKNOWN) {
            opaque(r, ins, shapes, "a transpose Lady cannot read");
            return;
        }
        keepAs(r, x, shapes[0], caxis, Op.CHANNELWISE, Map.of());
    }

    private void squeeze(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (x.caxis == UNKNOWN) {
            keepAs(r, x, shapes[0], UNKNOWN, Op.CHANNELWISE, Map.of());
            return;
        }
        long[] axes = axesOf(r.node(), ins, 1);
        boolean unsqueeze = r.node().opType().equals("Unsqueeze");
        int rank = x.rank();
        if (rank < 0 || (axes == null && (unsqueeze || !x.known()))) {
            opaque(r, ins, shapes, "its axes are known only at run time");
            return;
        }
        int caxis;
        if (unsqueeze) {
            int outRank = rank + axes.length;
            boolean[] added = new boolean[outRank];
            for (long a : axes) {
                int v = OnnxShapes.axis(a, outRank);
                if (v < 0) {
                    opaque(r, ins, shapes, "its axes are out of range");
                    return;
                }
                added[v] = true;
            }
            caxis = -1;
            for (int i = 0, j = 0; i < outRank; i++) {
                if (!added[i]) {
                    if (j++ == x.caxis) {
                        caxis = i;
                    }
                }
            }
        } else {
            boolean[] removed = new boolean[rank];
            if (axes == null) {
                for (int i = 0; i < rank; i++) {
                    removed[i] = x.shape[i] == 1;
                }
            } else {
                for (long a : axes) {
                    int v = OnnxShapes.axis(a, rank);
                    if (v < 0) {
                        opaque(r, ins, shapes, "its axes are out of range");
                        return;
                    }
                    removed[v] = true;
                }
            }
            if (removed[x.caxis]) {
                opaque(r, ins, shapes, "it removes the channel axis");
                return;
            }
            caxis = x.caxis;
            for (int i = 0; i < x.caxis; i++) {
                caxis -= removed[i] ? 1 : 0;
            }
        }
        keepAs(r, x, shapes[0], caxis, Op.CHANNELWISE, Map.of());
    }

    /** The axes of a node: its attribute "axes" (older opsets) or the integer constant at input {@code input}. */
    private static long[] axesOf(OnnxNode n, List<Val> ins, int input) {
        OnnxAttribute a = n.attribute("axes");
        if (a != null && a.type() == OnnxAttribute.Type.INTS) {
            return a.asLongs();
        }
        if (ins.size() > input && ins.get(input) != null) {
            return ins.get(input).ints;
        }
        return null;
    }

    private void pad(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        if (settled(r, ins, shapes, "its pads or value")) {
            return;
        }
        long[] pads = n.attribute("pads") != null ? OnnxShapes.ints(n, "pads", null)
                : ins.size() > 1 && ins.get(1) != null ? ins.get(1).ints : null;
        long[] axes = ins.size() > 3 && ins.get(3) != null ? ins.get(3).ints : null;
        int rank = x.rank();
        if (pads == null || rank < 0 || (axes == null && pads.length != 2L * rank)
                || (axes != null && pads.length != 2L * axes.length)) {
            opaque(r, ins, shapes, "its pads are known only at run time");
            return;
        }
        int count = pads.length / 2;
        for (int i = 0; i < count; i++) {
            int a = axes == null ? i : OnnxShapes.axis(axes[i], rank);
            if (a == x.caxis && (pads[i] != 0 || pads[i + count] != 0)) {
                opaque(r, ins, shapes, "it pads the channels");
                return;
            }
        }
        keepAs(r, x, shapes[0], x.caxis, Op.CHANNELWISE, Map.of());
    }

    private void resize(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (settled(r, ins, shapes, "its sizes")) {
            return;
        }
        long[] out = shapes[0];
        if (out == null || x.dim(x.caxis) < 0 || out.length != x.rank() || out[x.caxis] != x.dim(x.caxis)) {
            opaque(r, ins, shapes, "a resize of the channels, or one whose sizes are known only at run time");
            return;
        }
        keepAs(r, x, out, x.caxis, Op.CHANNELWISE, Map.of());
    }

    private void pool(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        if (x.caxis != UNKNOWN && x.caxis != 1) {
            opaque(r, ins, shapes, "its input's channels are not on axis 1");
            return;
        }
        long[] kernel = OnnxShapes.ints(n, "kernel_shape", new long[0]);
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kernel", kernel);
        a.put("stride", OnnxShapes.ints(n, "strides", filled(kernel.length, 1)));
        a.put("padding", OnnxShapes.ints(n, "pads", filled(2 * kernel.length, 0)));
        a.put("ceil", OnnxShapes.attr(n, "ceil_mode", 0));
        Op op = switch (n.opType()) {
            case "MaxPool" -> Op.MAX_POOL;
            case "AveragePool" -> Op.AVG_POOL;
            default -> Op.CHANNELWISE;
        };
        if (op == Op.AVG_POOL) {
            a.put("count_include_pad", OnnxShapes.attr(n, "count_include_pad", 0));
        }
        keepAs(r, x, shapes[0], 1, op, a);
    }

    private void globalPool(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (x.caxis != UNKNOWN && x.caxis != 1) {
            opaque(r, ins, shapes, "its input's channels are not on axis 1");
            return;
        }
        if (r.node().opType().equals("GlobalAveragePool")) {
            keepAs(r, x, shapes[0], 1, Op.ADAPTIVE_AVG_POOL, Map.of("size", filled(Math.max(x.rank() - 2, 0), 1)));
        } else {
            keepAs(r, x, shapes[0], 1, Op.CHANNELWISE, Map.of());
        }
    }

    private void reduce(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        if (settled(r, ins, shapes, "its axes")) {
            return;
        }
        int rank = x.rank();
        long[] axes = axesOf(n, ins, 1);
        boolean keepDims = OnnxShapes.attr(n, "keepdims", 1) == 1;
        if (axes == null && ins.size() > 1 && ins.get(1) != null) {
            opaque(r, ins, shapes, "its axes are known only at run time");
            return;
        }
        boolean[] reduced = new boolean[Math.max(rank, 0)];
        if (axes == null || axes.length == 0) {
            if (OnnxShapes.attr(n, "noop_with_empty_axes", 0) == 1) {
                keepAs(r, x, shapes[0], x.caxis, Op.CHANNELWISE, Map.of());
                return;
            }
            Arrays.fill(reduced, true);
        } else {
            for (long a : axes) {
                int v = OnnxShapes.axis(a, rank);
                if (v < 0) {
                    opaque(r, ins, shapes, "its axes are out of range or the rank is unknown");
                    return;
                }
                reduced[v] = true;
            }
        }
        if (reduced[x.caxis]) {
            if (SYMMETRIC_REDUCTIONS.contains(n.opType())) {
                free(r, ins, shapes); // the same for any order of the channels
            } else {
                opaque(r, ins, shapes, "a reduction over the channels that depends on their order");
            }
            return;
        }
        int caxis = x.caxis;
        if (!keepDims) {
            for (int i = 0; i < x.caxis; i++) {
                caxis -= reduced[i] ? 1 : 0;
            }
        }
        boolean spatialMean = n.opType().equals("ReduceMean") && keepDims && rank == 4 && x.caxis == 1 && reduced[2]
                && reduced[3] && !reduced[0];
        if (spatialMean) {
            keepAs(r, x, shapes[0], caxis, Op.ADAPTIVE_AVG_POOL, Map.of("size", new long[] {1, 1}));
        } else {
            keepAs(r, x, shapes[0], caxis, Op.CHANNELWISE, Map.of());
        }
    }

    private void argReduce(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        if (x.caxis == UNKNOWN) {
            keepAs(r, x, shapes[0], UNKNOWN, Op.CHANNELWISE, Map.of());
            return;
        }
        int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 0), x.rank());
        if (axis < 0 || axis == x.caxis) {
            opaque(r, ins, shapes, "the index of the largest or smallest channel");
            return;
        }
        int caxis = OnnxShapes.attr(n, "keepdims", 1) == 1 || axis > x.caxis ? x.caxis : x.caxis - 1;
        keepAs(r, x, shapes[0], caxis, Op.CHANNELWISE, Map.of());
    }

    private void gather(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        Val idx = ins.get(1);
        int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 0), x.rank());
        if (!x.data) {
            View w = weight(x, 2);
            if (w != null && w.whole(2) && axis == 0 && idx.rank() >= 0) {
                String out = n.outputs().get(0);
                emit(name(n), Op.EMBEDDING, List.of(idx.lady), out, Map.of("weight", w.tensor()), Map.of(), n.opType());
                data(n, 0, out, shapes[0], idx.rank());
            } else {
                opaque(r, ins, shapes, "a lookup in a table that is not a stored 2-D tensor");
            }
            return;
        }
        if (idx.data) {
            opaque(r, ins, shapes, "indices that depend on the channels");
            return;
        }
        if (x.caxis == UNKNOWN) {
            keepAs(r, x, shapes[0], UNKNOWN, Op.CHANNELWISE, Map.of());
            return;
        }
        if (axis < 0 || axis == x.caxis || idx.rank() < 0) {
            opaque(r, ins, shapes, "it picks channels");
            return;
        }
        int caxis = x.caxis < axis ? x.caxis : x.caxis - 1 + idx.rank();
        keepAs(r, x, shapes[0], caxis, idx.rank() == 0 ? Op.SELECT : Op.CHANNELWISE,
                idx.rank() == 0 && idx.ints != null ? Map.of("axis", (long) axis, "index", idx.ints[0]) : Map.of());
    }

    private void slice(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (settled(r, ins, shapes, "its bounds")) {
            return;
        }
        long[] out = shapes[0];
        List<long[]> ints = ins.stream().map(v -> v == null ? null : v.ints).toList();
        if (out != null && x.caxis != UNKNOWN && x.dim(x.caxis) >= 0 && out.length == x.rank()
                && out[x.caxis] != x.dim(x.caxis)) { // a run of the channels (torch.chunk, a slice x[:, a:b])
            long[] run = OnnxShapes.channelRun(r.node(), ints, x.rank(), x.caxis, x.dim(x.caxis));
            if (run != null && run[1] == out[x.caxis] && run[1] > 0) {
                keepAs(r, x, out, x.caxis, Op.SLICE_CHANNELS, Map.of("axis", (long) x.caxis, "start", run[0],
                        "length", run[1]));
                return;
            }
        }
        if (out == null || x.dim(x.caxis) < 0 || out.length != x.rank() || out[x.caxis] != x.dim(x.caxis)
                || !OnnxShapes.sliceKeepsAxis(r.node(), ints, x.rank(), x.caxis)) {
            opaque(r, ins, shapes, "a strided slice of the channels, or one whose bounds are known only at run time");
            return;
        }
        keepAs(r, x, out, x.caxis, Op.CHANNELWISE, Map.of());
    }

    private void split(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        OnnxNode n = r.node();
        Val x = ins.get(0);
        int axis = OnnxShapes.axis(OnnxShapes.attr(n, "axis", 0), x.rank());
        String name = name(n);
        if (x.caxis != UNKNOWN && axis == x.caxis) { // runs of the channels, one per output
            long at = 0;
            for (long[] sh : shapes) {
                at = sh == null || sh.length != x.rank() || sh[axis] < 0 || at < 0 ? -1 : at + sh[axis];
            }
            if (at < 0 || at != x.dim(axis)) {
                opaque(r, ins, shapes, "a split of the channels whose sizes are known only at run time");
                return;
            }
            long start = 0;
            for (int k = 0; k < n.outputs().size(); k++) {
                String out = n.outputs().get(k);
                if (!out.isEmpty() && shapes[k][axis] > 0) {
                    emit(k == 0 ? name : extra(name, k + 1), Op.SLICE_CHANNELS, List.of(x.lady), out, Map.of(),
                            Map.of("axis", (long) axis, "start", start, "length", shapes[k][axis]), n.opType());
                    data(n, k, out, shapes[k], x.caxis);
                }
                start += shapes[k][axis];
            }
            return;
        }
        if (x.caxis != UNKNOWN && axis < 0) {
            opaque(r, ins, shapes, "a split of the channels");
            return;
        }
        for (int k = 0; k < n.outputs().size(); k++) {
            String out = n.outputs().get(k);
            if (!out.isEmpty()) {
                emit(k == 0 ? name : extra(name, k + 1), Op.CHANNELWISE, List.of(x.lady), out, Map.of(), Map.of(), n.opType());
                data(n, k, out, shapes[k], x.caxis);
            }
        }
    }

    private void expand(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (settled(r, ins, shapes, "the values of its shape")) {
            return;
        }
        if (shapes[0] == null || x.rank() < 0) {
            opaque(r, ins, shapes, "its shape is known only at run time");
            return;
        }
        keepAs(r, x, shapes[0], x.caxis + shapes[0].length - x.rank(), Op.CHANNELWISE, Map.of());
    }

    private void tile(OnnxModel.ResolvedNode r, List<Val> ins, long[][] shapes) {
        Val x = ins.get(0);
        if (settled(r, ins, shapes, "its repeats")) {
            return;
        }
        long[] repeats = ins.get(1) != null ? ins.get(1).ints : null;
        if (repeats == null || repeats.length != x.rank() || repeats[x.caxis] != 1) {
            opaque(r, ins, shapes, "it repeats the channels, or its repeats are known only at run time");
        } else {
            keepAs(r, x, shapes[0], x.caxis, Op.CHANNELWISE, Map.of());
        }
    }
}
