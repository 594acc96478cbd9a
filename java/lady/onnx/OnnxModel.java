package lady.onnx;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.onnx.proto.Onnx.AttributeProto;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.onnx.proto.Onnx.OperatorSetIdProto;
import lady.onnx.proto.Onnx.StringStringEntryProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.onnx.proto.Onnx.TensorShapeProto;
import lady.onnx.proto.Onnx.TypeProto;
import lady.onnx.proto.Onnx.ValueInfoProto;
import lady.tensor.HostTensor;

/**
 * An ONNX model as read by {@link Onnx#read}: an immutable, validated view of its main graph, calls of the model's
 * local functions expanded ({@link OnnxFunctions}; subgraphs of If/Loop nodes are kept in the file but not described
 * here). Every initializer was
 * checked when the model was read (known type, sane dimensions, exactly the data its shape needs);
 * {@link #stateDict()} decodes their values.
 *
 * <p>Exporters share equal initializers through Identity nodes (PyTorch's exporter writes
 * {@code Identity(features.8.block.2.fc2.bias) -> features.10.block.2.fc1.bias}); {@link #aliases()} maps
 * each such Identity output to the initializer it stands for, and {@link #topologicalOrder()} resolves
 * node inputs through them.
 *
 * <p><b>Tensors.</b> Lady sees a model as one tensor per <em>use</em> of a floating-point initializer
 * ({@link #tensors()}): two layers that share an initializer (through Identity aliases, or by reading the
 * same name) may belong to different permutation groups, and one shared tensor could not follow both
 * permutations. The first node input that reads an initializer (in topological order, inputs in order)
 * keeps the initializer's name; a later one is named after the alias it reads (PyTorch's exporter names
 * aliases after the state-dict entry they replace, so an export with kept names gives every use its
 * state-dict name), or, when that name is taken too, {@code <name>#2}, {@code #3}, ... {@link #stateDict()}
 * holds every tensor (a copy per use), and {@link Onnx#write} keeps a use shared while its new values
 * equal those it would read through the graph, and otherwise gives it an initializer of its own under its
 * tensor name (un-sharing). Integer, boolean and one-element initializers are one tensor however many
 * nodes read them (nothing permutes them).
 */
public final class OnnxModel {
    private final Path path;
    private final ModelProto proto;
    private final Map<String, Long> opsets;
    private final Map<String, String> metadata;
    private final List<OnnxValue> inputs;
    private final List<OnnxValue> outputs;
    private final Map<String, OnnxValue> valueInfo;
    private final List<OnnxNode> nodes;
    /** The main graph's nodes with its local functions' calls expanded ({@link OnnxFunctions}), or null: it calls none. */
    private final List<NodeProto> expandedNodes;
    private final List<OnnxInitializer> initializers;
    private final Map<String, Integer> initializerIndex;
    private final Map<String, OnnxTensors.External> externals;
    private final Map<String, String> aliases;
    /** Alias -> the value its Identity node reads (an initializer or another alias). */
    private final Map<String, String> aliasParents = new LinkedHashMap<>();
    /** Alias -> the index of the Identity node that writes it. */
    private final Map<String, Integer> aliasNodes = new HashMap<>();
    private List<ResolvedNode> order;
    private Map<String, TensorUse> uses;
    private Map<Long, String> useByInput;
    /** A tensor read in parts (a bidirectional recurrent layer's weights: one per direction) -> its parts' names. */
    private Map<String, List<String>> parts;

    OnnxModel(Path path, ModelProto proto) {
        this.path = path;
        this.proto = proto;
        if (!proto.hasGraph()) {
            throw LadyException.invalidInput(path + " is not an ONNX model: it has no graph");
        }
        GraphProto g = proto.getGraph();
        Map<String, Long> ops = new LinkedHashMap<>();
        for (OperatorSetIdProto o : proto.getOpsetImportList()) {
            ops.put(o.getDomain(), o.getVersion());
        }
        this.opsets = Collections.unmodifiableMap(ops);
        Map<String, String> meta = new LinkedHashMap<>();
        for (StringStringEntryProto e : proto.getMetadataPropsList()) {
            meta.put(e.getKey(), e.getValue());
        }
        this.metadata = Collections.unmodifiableMap(meta);

        Path dir = path.toAbsolutePath().getParent();
        OnnxTensors.Folder folder = new OnnxTensors.Folder(dir != null ? dir : Path.of("."));
        List<OnnxInitializer> inits = new ArrayList<>(g.getInitializerCount());
        Map<String, Integer> index = new HashMap<>();
        Map<String, OnnxTensors.External> ext = new HashMap<>();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            if (index.putIfAbsent(t.getName(), i) != null) {
                throw LadyException.invalidInput(path + ": two initializers are named '" + t.getName() + "'");
            }
            OnnxTensors.Described d = OnnxTensors.describe(t, "initializer '" + t.getName() + "'", folder);
            inits.add(d.info());
            if (d.external() != null) {
                ext.put(t.getName(), d.external());
            }
        }
        this.initializers = List.copyOf(inits);
        this.initializerIndex = Collections.unmodifiableMap(index);
        this.externals = Collections.unmodifiableMap(ext);

        List<OnnxValue> in = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (!index.containsKey(v.getName())) { // older exporters list initializers as inputs too
                in.add(value(v));
            }
        }
        this.inputs = List.copyOf(in);
        this.outputs = g.getOutputList().stream().map(OnnxModel::value).toList();
        Map<String, OnnxValue> vi = new LinkedHashMap<>();
        for (ValueInfoProto v : g.getValueInfoList()) {
            vi.put(v.getName(), value(v));
        }
        this.valueInfo = Collections.unmodifiableMap(vi);
        List<NodeProto> expanded = OnnxFunctions.expand(proto, path);
        this.expandedNodes = expanded == g.getNodeList() ? null : expanded;
        List<OnnxNode> ns = new ArrayList<>(expanded.size());
        for (NodeProto n : expanded) {
            ns.add(node(n, folder));
        }
        this.nodes = List.copyOf(ns);
        this.aliases = Collections.unmodifiableMap(findAliases());
    }

    /** The file the model was read from. */
    public Path path() {
        return path;
    }

    public long irVersion() {
        return proto.getIrVersion();
    }

    /** The producer, e.g. "pytorch 1.13.0" (empty when the file does not say). */
    public String producer() {
        return (proto.getProducerName() + " " + proto.getProducerVersion()).trim();
    }

    /** Imported operator sets: domain ("" for the default ONNX domain) to version. */
    public Map<String, Long> opsets() {
        return opsets;
    }

    /** The version of the default ONNX operator set, or -1 when the model does not import it. */
    public long opset() {
        Long v = opsets.containsKey("") ? opsets.get("") : opsets.get("ai.onnx");
        return v == null ? -1 : v;
    }

    /** The model's metadata_props. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public String graphName() {
        return proto.getGraph().getName();
    }

    /** The graph's real inputs (initializers that older files also list as inputs are left out). */
    public List<OnnxValue> inputs() {
        return inputs;
    }

    public List<OnnxValue> outputs() {
        return outputs;
    }

    /** Shapes and types of intermediate values, where the file records them (value_info). */
    public Map<String, OnnxValue> valueInfo() {
        return valueInfo;
    }

    /**
     * The nodes of the main graph in the file's order (which ONNX requires to be topological), each call of a local
     * function replaced by the function's nodes ({@link OnnxFunctions}).
     */
    public List<OnnxNode> nodes() {
        return nodes;
    }

    /** The file's {@link #nodes()} as protobuf nodes: the main graph's, with local functions' calls expanded. */
    List<NodeProto> nodeProtos() {
        return expandedNodes != null ? expandedNodes : proto.getGraph().getNodeList();
    }

    /** Whether {@link #nodes()} expands calls of local functions (and so differs from the main graph's nodes). */
    boolean expandsFunctions() {
        return expandedNodes != null;
    }

    /** Every initializer, in the file's order. */
    public List<OnnxInitializer> initializers() {
        return initializers;
    }

    /** The initializer called {@code name}, or null. */
    public OnnxInitializer initializer(String name) {
        Integer i = initializerIndex.get(name);
        return i == null ? null : initializers.get(i);
    }

    /** Identity outputs that stand for an initializer (through chains of Identity nodes): alias to initializer. */
    public Map<String, String> aliases() {
        return aliases;
    }

    /** The initializer that value {@code name} is (itself or through aliases), or null when it is none. */
    public String initializerOf(String name) {
        String a = aliases.get(name);
        if (a != null) {
            return a;
        }
        return initializerIndex.containsKey(name) ? name : null;
    }

    /**
     * The model's tensors as a state dict: every initializer (its name, the file's order), then the tensors
     * of the later uses of shared initializers ({@link #tensors()}: a copy each), decoded from the file.
     * Initializers whose type libtorch lacks (strings, unsigned 16/32/64-bit, complex, 8- and 4-bit floats
     * and integers) are left out; {@link Onnx#write} keeps them as they are.
     */
    public StateDict stateDict() {
        StateDict sd = new StateDict();
        for (OnnxInitializer info : initializers) {
            if (info.inStateDict()) {
                sd.put(info.name(), decode(info.name()));
            }
        }
        for (TensorUse u : tensors().values()) {
            if (u.kind() != TensorUse.Kind.INITIALIZER) {
                sd.put(u.name(), sd.get(u.initializer()).copy());
            }
        }
        parts.forEach(sd::split);
        return sd;
    }

    /**
     * The tensors read in parts along their axis 0 ({@link StateDict#split}), by name (a key of {@link #tensors()}) ->
     * the names of their parts, which {@link #stateDict()} holds instead: the weights, recurrence weights and biases of
     * a bidirectional LSTM, GRU or RNN ([2, ...]: {@code <name>#forward}, {@code <name>#reverse}), whose two directions
     * have hidden units of their own. A tensor another node reads too is not split.
     */
    public Map<String, List<String>> parts() {
        if (uses == null) {
            findUses();
        }
        return parts;
    }

    /** The shape of tensor {@code name}: a key of {@link #tensors()} or one of its {@link #parts()}. */
    public long[] tensorShape(String name) {
        TensorUse u = tensors().get(name);
        if (u != null) {
            return initializer(u.initializer()).shape();
        }
        int cut = name.lastIndexOf('#');
        long[] whole = cut < 0 || !parts.containsKey(name.substring(0, cut)) ? null : tensorShape(name.substring(0, cut));
        if (whole == null) {
            throw LadyException.invalidInput("'" + name + "' is no tensor of " + path);
        }
        return java.util.Arrays.copyOfRange(whole, 1, whole.length);
    }

    /**
     * The values of a small integer or boolean initializer (at most {@code max} elements), or null when it
     * is of another type or larger.
     */
    long[] smallLongs(String name, long max) {
        OnnxInitializer info = initializer(name);
        if (info == null || info.elements() > max || info.storage() == OnnxInitializer.Storage.EXTERNAL) {
            return null;
        }
        return switch (info.dtype()) {
            case INT64, INT32, INT16, INT8, UINT8, UINT16, UINT32, UINT64, BOOL ->
                    OnnxTensors.decodeLongs(proto.getGraph().getInitializer(initializerIndex.get(name)), info);
            default -> null;
        };
    }

    /** The values of a small FLOAT or DOUBLE initializer (at most {@code max} elements), or null. */
    double[] smallDoubles(String name, long max) {
        OnnxInitializer info = initializer(name);
        if (info == null || info.elements() > max || info.storage() == OnnxInitializer.Storage.EXTERNAL
                || (info.dtype() != OnnxDType.FLOAT && info.dtype() != OnnxDType.DOUBLE)) {
            return null;
        }
        return OnnxTensors.decodeDoubles(proto.getGraph().getInitializer(initializerIndex.get(name)), info);
    }

    /** The values of initializer {@code name} (a new tensor; the type must have a state-dict type). */
    HostTensor decode(String name) {
        int i = initializerIndex.get(name);
        return OnnxTensors.toHost(proto.getGraph().getInitializer(i), initializers.get(i), externals.get(name));
    }

    /**
     * One tensor of Lady's view of the model (see the class comment): an initializer as node inputs read it.
     *
     * @param name        the tensor's name (the state-dict key)
     * @param initializer the initializer it holds the values of
     * @param kind        how the name came about
     * @param node        the index in {@link #nodes()} of the node whose input reads it (for INITIALIZER: the
     *                    first reader, or -1 when no node reads it)
     * @param input       that node's input index (-1 with node -1)
     * @param read        the value name that input reads (the initializer, or an alias of it)
     */
    public record TensorUse(String name, String initializer, Kind kind, int node, int input, String read) {
        /** How a tensor's name came about. */
        public enum Kind {
            /** The initializer itself (its first use, or every use of a tensor that is never split). */
            INITIALIZER,
            /** A later use, named after the Identity alias it reads. */
            ALIAS,
            /** A later use of a name an earlier use reads too: {@code <read>#k}. */
            COPY
        }
    }

    /**
     * Every tensor of Lady's view (see the class comment), by name: each initializer, then the later uses
     * of shared floating-point initializers in topological order.
     */
    public Map<String, TensorUse> tensors() {
        if (uses == null) {
            findUses();
        }
        return uses;
    }

    /**
     * The tensor (a key of {@link #tensors()}) that input {@code input} of node {@code node} (its index in
     * {@link #nodes()}) reads, or null when that input is no initializer.
     */
    public String tensorOf(int node, int input) {
        if (uses == null) {
            findUses();
        }
        return useByInput.get(((long) node << 32) | input);
    }

    /**
     * Whether each use of initializer {@code info} is a tensor of its own: more than one element, floating point or the
     * integers of quantized weights (int8, uint8, int16 and the int32 of quantized biases; a per-axis zero point may be
     * shared by weights of different groups). int64 (shapes, indices) is never permuted.
     */
    static boolean splittable(OnnxInitializer info) {
        return info.inStateDict() && info.elements() > 1 && switch (info.dtype()) {
            case FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8, UINT8, INT16, INT32 -> true;
            default -> false;
        };
    }

    private volatile List<String> malformed;

    /**
     * The nodes whose inputs have ranks their operator does not accept, as far as the import's shape inference knows
     * them (one message each; computed once): ONNX Runtime ends the process on some of them.
     */
    List<String> malformedNodes() {
        if (malformed == null) {
            malformed = OnnxImporter.malformed(this);
        }
        return malformed;
    }

    /** The value alias {@code alias}'s Identity node reads, or null when {@code alias} is no alias. */
    String aliasParent(String alias) {
        return aliasParents.get(alias);
    }

    /** The index in {@link #nodes()} of the Identity node writing alias {@code alias}. */
    int aliasNode(String alias) {
        return aliasNodes.get(alias);
    }

    private synchronized void findUses() {
        Map<String, TensorUse> out = new LinkedHashMap<>();
        Map<Long, String> byInput = new HashMap<>();
        Set<String> taken = new HashSet<>(initializerIndex.keySet());
        for (OnnxNode n : nodes) {
            taken.addAll(n.outputs());
        }
        for (ValueInfoProto v : proto.getGraph().getInputList()) {
            taken.add(v.getName());
        }
        Set<String> claimed = new HashSet<>();
        List<TensorUse> later = new ArrayList<>();
        Map<String, TensorUse> first = new HashMap<>();
        Set<String> sliced = onlySliced();
        for (ResolvedNode r : topologicalOrder()) {
            for (int i = 0; i < r.inputs().size(); i++) {
                Operand op = r.inputs().get(i);
                if (op.kind() != Operand.Kind.INITIALIZER) {
                    continue;
                }
                String init = op.name();
                String read = r.node().inputs().get(i);
                long key = ((long) r.index() << 32) | i;
                if (!splittable(initializer(init))) {
                    byInput.put(key, init);
                    continue;
                }
                TensorUse use;
                if (sliced.contains(init)) { // one tensor, whose rows its slices read
                    if (!first.containsKey(init)) {
                        first.put(init, new TensorUse(init, init, TensorUse.Kind.INITIALIZER, r.index(), i, read));
                    }
                    byInput.put(key, init);
                    continue;
                }
                if (!claimed.contains(init)) {
                    use = new TensorUse(init, init, TensorUse.Kind.INITIALIZER, r.index(), i, read);
                    first.put(init, use);
                } else if (!claimed.contains(read)) {
                    use = new TensorUse(read, init, TensorUse.Kind.ALIAS, r.index(), i, read);
                    later.add(use);
                } else {
                    String name = read;
                    for (int k = 2; taken.contains(name); k++) {
                        name = read + "#" + k;
                    }
                    use = new TensorUse(name, init, TensorUse.Kind.COPY, r.index(), i, read);
                    later.add(use);
                }
                taken.add(use.name());
                // the whole chain the input reads through belongs to this use: no later use may change it
                for (String v = read; v != null; v = aliasParents.get(v)) {
                    claimed.add(v);
                }
                byInput.put(key, use.name());
            }
        }
        for (OnnxInitializer info : initializers) {
            TensorUse f = first.get(info.name());
            out.put(info.name(), f != null ? f : new TensorUse(info.name(), info.name(), TensorUse.Kind.INITIALIZER, -1, -1,
                    info.name()));
        }
        for (TensorUse u : later) {
            if (out.containsKey(u.name())) {
                throw new LadyException(LadyException.Kind.INTERNAL, "tensor name '" + u.name() + "' given twice");
            }
            out.put(u.name(), u);
        }
        this.useByInput = byInput;
        this.parts = Collections.unmodifiableMap(directionParts(out, byInput, taken));
        this.uses = Collections.unmodifiableMap(out);
    }

    /**
     * The floating-point initializers read only as the data of Slice nodes, under their own names (no alias), by two
     * nodes or more: one tensor each, not one per use (PyTorch's kept export of a recurrent layer slices each state-dict
     * tensor into its gates; a slice changes no tensor, so the slices read one tensor that moves as a whole).
     */
    private Set<String> onlySliced() {
        Map<String, Integer> slices = new HashMap<>();
        Set<String> other = new HashSet<>();
        for (ResolvedNode r : topologicalOrder()) {
            OnnxNode n = r.node();
            boolean slice = n.opType().equals("Slice") && (n.domain().isEmpty() || n.domain().equals("ai.onnx"));
            for (int i = 0; i < r.inputs().size(); i++) {
                Operand op = r.inputs().get(i);
                if (op.kind() != Operand.Kind.INITIALIZER) {
                    continue;
                }
                if (slice && i == 0 && n.inputs().get(i).equals(op.name()) && n.inputs().lastIndexOf(op.name()) == 0) {
                    slices.merge(op.name(), 1, Integer::sum);
                } else {
                    other.add(op.name());
                }
            }
        }
        Set<String> out = new HashSet<>();
        slices.forEach((init, k) -> {
            if (k > 1 && !other.contains(init)) {
                out.add(init);
            }
        });
        return out;
    }

    /** The {@link #parts()} of the tensors {@code uses} (their names by node input {@code byInput}). */
    private Map<String, List<String>> directionParts(Map<String, TensorUse> uses, Map<Long, String> byInput,
            Set<String> taken) {
        Map<String, Integer> readers = new HashMap<>(); // a tensor -> how many node inputs read it
        byInput.values().forEach(t -> readers.merge(t, 1, Integer::sum));
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (ResolvedNode r : topologicalOrder()) {
            OnnxNode n = r.node();
            boolean recurrent = (n.domain().isEmpty() || n.domain().equals("ai.onnx"))
                    && (n.opType().equals("LSTM") || n.opType().equals("GRU") || n.opType().equals("RNN"));
            if (!recurrent || !"bidirectional".equals(OnnxShapes.stringAttr(n, "direction", "forward"))) {
                continue;
            }
            for (int i = 1; i <= 3 && i < r.inputs().size(); i++) { // W, R, B
                String t = byInput.get(((long) r.index() << 32) | i);
                TensorUse u = t == null ? null : uses.get(t);
                if (u == null || readers.get(t) != 1 || out.containsKey(t)) {
                    continue;
                }
                long[] shape = initializer(u.initializer()).shape();
                List<String> names = List.of(t + "#forward", t + "#reverse");
                if (splittable(initializer(u.initializer())) && shape.length >= 2 && shape[0] == 2 && names.stream().noneMatch(taken::contains)
                        && names.stream().noneMatch(uses::containsKey)) {
                    out.put(t, names);
                }
            }
        }
        return out;
    }

    /** What a node input is, after following Identity aliases. */
    public record Operand(Kind kind, String name) {
        /** The kinds of node inputs. */
        public enum Kind {
            /** An initializer (name = the initializer's, aliases resolved). */
            INITIALIZER,
            /** A graph input. */
            GRAPH_INPUT,
            /** The output of another node. */
            VALUE,
            /** An omitted optional input (empty name). */
            NONE
        }
    }

    /**
     * A node with its inputs resolved.
     *
     * @param node   the node
     * @param inputs its inputs, resolved
     * @param index  its index in {@link #nodes()}
     */
    public record ResolvedNode(OnnxNode node, List<Operand> inputs, int index) {
        public ResolvedNode {
            inputs = List.copyOf(inputs);
        }
    }

    /**
     * The nodes in topological order (the file's order where it allows), each input resolved to an
     * initializer (through Identity aliases), a graph input, another node's output, or nothing. The alias
     * Identity nodes themselves are left out: their consumers read the initializer directly.
     *
     * @throws LadyException INVALID_INPUT when a value is produced twice, an input is defined nowhere, or
     *                       the graph has a cycle
     */
    public List<ResolvedNode> topologicalOrder() {
        if (order == null) {
            order = computeOrder();
        }
        return order;
    }

    private List<ResolvedNode> computeOrder() {
        Set<String> graphInputs = new HashSet<>();
        for (ValueInfoProto v : proto.getGraph().getInputList()) {
            graphInputs.add(v.getName());
        }
        Map<String, Integer> producer = new HashMap<>();
        List<Integer> kept = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            OnnxNode n = nodes.get(i);
            if (isAlias(n)) {
                continue;
            }
            kept.add(i);
            for (String o : n.outputs()) {
                if (o.isEmpty()) {
                    continue;
                }
                if (producer.putIfAbsent(o, i) != null || initializerIndex.containsKey(o) || graphInputs.contains(o)) {
                    throw LadyException.invalidInput(path + ": value '" + o + "' is defined twice (node " + n.label() + ")");
                }
            }
        }
        Map<Integer, List<Operand>> resolved = new HashMap<>();
        Map<Integer, Integer> pending = new HashMap<>();
        Map<Integer, List<Integer>> consumers = new HashMap<>();
        for (int i : kept) {
            OnnxNode n = nodes.get(i);
            List<Operand> ops = new ArrayList<>(n.inputs().size());
            Set<Integer> waits = new HashSet<>();
            for (String in : n.inputs()) {
                Operand op = operand(in, producer, graphInputs, n);
                ops.add(op);
                if (op.kind() == Operand.Kind.VALUE) {
                    int p = producer.get(in);
                    if (waits.add(p)) {
                        consumers.computeIfAbsent(p, k -> new ArrayList<>()).add(i);
                    }
                }
            }
            resolved.put(i, ops);
            pending.put(i, waits.size());
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i : kept) {
            if (pending.get(i) == 0) {
                ready.add(i);
            }
        }
        List<ResolvedNode> order = new ArrayList<>(kept.size());
        while (!ready.isEmpty()) {
            int i = ready.poll();
            order.add(new ResolvedNode(nodes.get(i), resolved.get(i), i));
            for (int c : consumers.getOrDefault(i, List.of())) {
                if (pending.merge(c, -1, Integer::sum) == 0) {
                    ready.add(c);
                }
            }
        }
        if (order.size() != kept.size()) {
            for (int i : kept) {
                if (pending.get(i) > 0) {
                    throw LadyException.invalidInput(path + ": the graph has a cycle through node " + nodes.get(i).label());
                }
            }
        }
        return List.copyOf(order);
    }

    private Operand operand(String in, Map<String, Integer> producer, Set<String> graphInputs, OnnxNode n) {
        if (in.isEmpty()) {
            return new Operand(Operand.Kind.NONE, "");
        }
        String init = initializerOf(in);
        if (init != null) {
            return new Operand(Operand.Kind.INITIALIZER, init);
        }
        if (producer.containsKey(in)) {
            return new Operand(Operand.Kind.VALUE, in);
        }
        if (graphInputs.contains(in)) {
            return new Operand(Operand.Kind.GRAPH_INPUT, in);
        }
        throw LadyException.invalidInput(path + ": node " + n.label() + " reads '" + in
                + "', which no node, initializer or graph input defines");
    }

    private boolean isAlias(OnnxNode n) {
        return n.opType().equals("Identity") && n.domain().isEmpty() && n.outputs().size() == 1
                && aliases.containsKey(n.outputs().get(0));
    }

    private Map<String, String> findAliases() {
        Map<String, String> found = new LinkedHashMap<>();
        boolean grew = true;
        while (grew) { // chains of Identity nodes, in any order: until nothing new
            grew = false;
            for (int i = 0; i < nodes.size(); i++) {
                OnnxNode n = nodes.get(i);
                if (!n.opType().equals("Identity") || !n.domain().isEmpty() || n.inputs().size() != 1
                        || n.outputs().size() != 1) {
                    continue;
                }
                String out = n.outputs().get(0);
                String in = n.inputs().get(0);
                String target = found.containsKey(in) ? found.get(in) : initializerIndex.containsKey(in) ? in : null;
                if (target != null && !found.containsKey(out) && !initializerIndex.containsKey(out)) {
                    found.put(out, target);
                    aliasParents.put(out, in);
                    aliasNodes.put(out, i);
                    grew = true;
                }
            }
        }
        return found;
    }

    /** The parsed file (package-private: {@link Onnx#write} builds the output from it). */
    ModelProto proto() {
        return proto;
    }

    /** Where the values of an externally stored initializer are, or null. */
    OnnxTensors.External external(String name) {
        return externals.get(name);
    }

    private static OnnxValue value(ValueInfoProto v) {
        if (!v.hasType() || !v.getType().hasTensorType()) {
            return new OnnxValue(v.getName(), null, null);
        }
        TypeProto.Tensor t = v.getType().getTensorType();
        OnnxDType elem = null;
        if (t.hasElemType()) {
            elem = OnnxDType.ofCode(t.getElemType());
            if (elem == null) {
                throw LadyException.invalidInput("value '" + v.getName() + "' has an unknown data type (" + t.getElemType() + ")");
            }
        }
        if (!t.hasShape()) {
            return new OnnxValue(v.getName(), elem, null);
        }
        List<OnnxValue.Dim> dims = new ArrayList<>(t.getShape().getDimCount());
        for (TensorShapeProto.Dimension d : t.getShape().getDimList()) {
            if (d.hasDimValue()) {
                if (d.getDimValue() < 0) {
                    throw LadyException.invalidInput("value '" + v.getName() + "' has a negative dimension ("
                            + d.getDimValue() + ")");
                }
                dims.add(new OnnxValue.Dim(d.getDimValue(), null));
            } else {
                dims.add(new OnnxValue.Dim(-1, d.hasDimParam() ? d.getDimParam() : null));
            }
        }
        return new OnnxValue(v.getName(), elem, dims);
    }

    private static OnnxNode node(NodeProto n, OnnxTensors.Folder folder) {
        Map<String, OnnxAttribute> attrs = new LinkedHashMap<>();
        for (AttributeProto a : n.getAttributeList()) {
            attrs.put(a.getName(), attribute(a, n, folder));
        }
        return new OnnxNode(n.getName(), n.getOpType(), n.getDomain(), n.getInputList(), n.getOutputList(), attrs);
    }

    private static OnnxAttribute attribute(AttributeProto a, NodeProto n, OnnxTensors.Folder folder) {
        String name = a.getName();
        return switch (a.getType()) {
            case FLOAT -> new OnnxAttribute(name, OnnxAttribute.Type.FLOAT, a.getF());
            case INT -> new OnnxAttribute(name, OnnxAttribute.Type.INT, a.getI());
            case STRING -> new OnnxAttribute(name, OnnxAttribute.Type.STRING, a.getS().toString(StandardCharsets.UTF_8));
            case FLOATS -> {
                float[] v = new float[a.getFloatsCount()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = a.getFloats(i);
                }
                yield new OnnxAttribute(name, OnnxAttribute.Type.FLOATS, v);
            }
            case INTS -> {
                long[] v = new long[a.getIntsCount()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = a.getInts(i);
                }
                yield new OnnxAttribute(name, OnnxAttribute.Type.INTS, v);
            }
            case STRINGS -> new OnnxAttribute(name, OnnxAttribute.Type.STRINGS,
                    a.getStringsList().stream().map(s -> s.toString(StandardCharsets.UTF_8)).toList());
            case TENSOR -> {
                String what = "tensor attribute '" + name + "' of node " + (n.getName().isEmpty() ? n.getOpType() : n.getName());
                OnnxTensors.Described d = OnnxTensors.describe(a.getT(), what, folder);
                yield new OnnxAttribute(name, OnnxAttribute.Type.TENSOR, new OnnxConstant(d.info(), a.getT()));
            }
            case GRAPH -> new OnnxAttribute(name, OnnxAttribute.Type.GRAPH, null);
            default -> new OnnxAttribute(name, OnnxAttribute.Type.OTHER, null);
        };
    }
}
