package lady.onnx;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.onnx.proto.Onnx.AttributeProto;
import lady.onnx.proto.Onnx.FunctionProto;
import lady.onnx.proto.Onnx.GraphProto;
import lady.onnx.proto.Onnx.ModelProto;
import lady.onnx.proto.Onnx.NodeProto;
import lady.onnx.proto.Onnx.OperatorSetIdProto;
import lady.onnx.proto.Onnx.TensorProto;
import lady.onnx.proto.Onnx.ValueInfoProto;
import lady.util.Text;

/**
 * A model's local functions (ModelProto.functions, ONNX IR 8 and later) expanded into its main graph, for Lady's
 * view of the model ({@link OnnxModel#nodes()}). Exporters write them: PyTorch's {@code export_modules_as_functions}
 * makes each module (a ResNet's BasicBlock, a whole network) a function, whose weights are inputs of the call; the
 * main graph then shows one node per call, whose channels no rule reads.
 *
 * <p>A call (a node whose domain and operator name a local function) is replaced by the function's nodes: formal
 * inputs read the call's inputs (a missing optional input stays missing), formal outputs write the call's outputs,
 * every other value and node is renamed under the call's name ({@code <call>/<name>}, made unique); an attribute that
 * refers to the function's attributes ({@code ref_attr_name}) takes the call's value, or the function's default
 * ({@code attribute_proto}, IR 9), or is left out (the operator's default). Calls inside functions are expanded in turn. The file is not changed:
 * {@link Onnx#write} writes the model as it was read, its initializers replaced, and writes the expanded nodes only
 * when it must point one node inside a function at an initializer of its own ({@link Onnx#write}'s un-sharing).
 */
final class OnnxFunctions {
    private OnnxFunctions() {}

    /** Nodes of the expanded graph at most: a file of a few kilobytes could nest calls that expand exponentially. */
    static final int MAX_NODES = 1 << 20;
    /** Calls nested deeper than this are refused. */
    static final int MAX_DEPTH = 64;

    /**
     * The main graph's nodes with every call of a local function replaced by the function's nodes (recursively); the
     * graph's own node list when it calls none.
     *
     * @throws LadyException INVALID_INPUT when two functions share a name, a function calls itself, the calls nest more
     *                       than {@link #MAX_DEPTH} deep, or the expanded graph would exceed {@link #MAX_NODES} nodes
     */
    static List<NodeProto> expand(ModelProto model, Path path) {
        GraphProto g = model.getGraph();
        if (model.getFunctionsCount() == 0) {
            return g.getNodeList();
        }
        Map<String, FunctionProto> functions = new HashMap<>();
        for (FunctionProto f : model.getFunctionsList()) {
            if (functions.putIfAbsent(key(f.getDomain(), f.getName()), f) != null) {
                throw LadyException.invalidInput(path + ": two local functions are named " + Text.quote(f.getName())
                        + " in domain " + Text.quote(f.getDomain()));
            }
        }
        if (g.getNodeList().stream().noneMatch(n -> functions.containsKey(key(n.getDomain(), n.getOpType())))) {
            return g.getNodeList();
        }
        long total = size(g.getNodeList(), functions, new HashMap<>(), new ArrayDeque<>(), path);
        if (total > MAX_NODES) { // counted before anything is built
            throw LadyException.invalidInput(path + ": its local functions expand to more than " + MAX_NODES + " nodes");
        }
        Set<String> taken = new HashSet<>();
        g.getInputList().forEach(v -> taken.add(v.getName()));
        g.getOutputList().forEach(v -> taken.add(v.getName()));
        g.getInitializerList().forEach(t -> taken.add(t.getName()));
        for (NodeProto n : g.getNodeList()) {
            taken.addAll(n.getOutputList());
        }
        Expansion e = new Expansion(functions, taken);
        for (NodeProto n : g.getNodeList()) {
            e.add(n);
        }
        return List.copyOf(e.out);
    }

    /**
     * The number of nodes function {@code f} expands to (memoized in {@code sizes}; at most about Long.MAX_VALUE / 2).
     *
     * @throws LadyException INVALID_INPUT when it calls itself or nests calls more than {@link #MAX_DEPTH} deep
     */
    private static long size(FunctionProto f, Map<String, FunctionProto> functions, Map<String, Long> sizes,
            Deque<String> stack, Path path) {
        String k = key(f.getDomain(), f.getName());
        Long known = sizes.get(k);
        if (known != null) {
            return known;
        }
        if (stack.contains(k)) {
            throw LadyException.invalidInput(path + ": local function " + Text.quote(f.getName()) + " calls itself");
        }
        if (stack.size() >= MAX_DEPTH) {
            throw LadyException.invalidInput(path + ": its local functions call each other more than " + MAX_DEPTH
                    + " deep");
        }
        stack.push(k);
        long n = size(f.getNodeList(), functions, sizes, stack, path);
        stack.pop();
        sizes.put(k, n);
        return n;
    }

    /** The number of nodes {@code nodes} expand to: 1 each, a call the size of its function ({@link #size}). */
    private static long size(List<NodeProto> nodes, Map<String, FunctionProto> functions, Map<String, Long> sizes,
            Deque<String> stack, Path path) {
        long n = 0;
        for (NodeProto x : nodes) {
            FunctionProto callee = functions.get(key(x.getDomain(), x.getOpType()));
            n = Math.min(n + (callee == null ? 1 : size(callee, functions, sizes, stack, path)), Long.MAX_VALUE / 2);
        }
        return n;
    }

    /**
     * The operator sets the expanded nodes need beside the model's own: those that its functions import and the model
     * does not.
     *
     * @throws LadyException INVALID_INPUT when a function imports a version of an operator set other than the model's
     *                       (its nodes cannot be written into the main graph unchanged)
     */
    static List<OperatorSetIdProto> extraOpsets(ModelProto model, Path path) {
        Map<String, Long> own = new HashMap<>();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            own.put(canonical(o.getDomain()), o.getVersion());
        }
        Map<String, OperatorSetIdProto> extra = new HashMap<>();
        for (FunctionProto f : model.getFunctionsList()) {
            for (OperatorSetIdProto o : f.getOpsetImportList()) {
                Long v = own.get(canonical(o.getDomain()));
                if (v == null) {
                    extra.putIfAbsent(canonical(o.getDomain()), o);
                } else if (v != o.getVersion()) {
                    throw LadyException.invalidInput(path + ": local function " + Text.quote(f.getName()) + " imports "
                            + "version " + o.getVersion() + " of operator set " + Text.quote(o.getDomain())
                            + " and the model version " + v + "; Lady cannot write its nodes into the main graph");
                }
            }
        }
        return List.copyOf(extra.values());
    }

    private static String canonical(String domain) {
        return domain.equals("ai.onnx") ? "" : domain;
    }

    private static String key(String domain, String name) {
        return canonical(domain) + "\u0000" + name;
    }

    /** One expansion: the nodes written so far and every value name in use. */
    private static final class Expansion {
        final Map<String, FunctionProto> functions;
        final Set<String> taken;
        final List<NodeProto> out = new ArrayList<>();

        Expansion(Map<String, FunctionProto> functions, Set<String> taken) {
            this.functions = functions;
            this.taken = taken;
        }

        /** Adds {@code n}, or, when it calls a local function, that function's nodes. */
        void add(NodeProto n) {
            FunctionProto f = functions.get(key(n.getDomain(), n.getOpType()));
            if (f == null) {
                out.add(n);
                return;
            }
            String prefix = (n.getName().isEmpty() ? f.getName() : n.getName()) + "/";
            Map<String, String> rename = new HashMap<>();
            for (int i = 0; i < f.getInputCount(); i++) {
                rename.put(f.getInput(i), i < n.getInputCount() ? n.getInput(i) : "");
            }
            for (int i = 0; i < f.getOutputCount(); i++) {
                String actual = i < n.getOutputCount() ? n.getOutput(i) : "";
                rename.put(f.getOutput(i), actual.isEmpty() ? fresh(prefix + f.getOutput(i)) : actual);
            }
            for (NodeProto inner : f.getNodeList()) {
                for (String o : inner.getOutputList()) {
                    if (!o.isEmpty() && !rename.containsKey(o)) {
                        rename.put(o, fresh(prefix + o));
                    }
                }
            }
            Map<String, AttributeProto> given = new HashMap<>();
            for (AttributeProto a : f.getAttributeProtoList()) { // the function's defaults (IR 9), then the call's values
                given.put(a.getName(), a);
            }
            for (AttributeProto a : n.getAttributeList()) {
                given.put(a.getName(), a);
            }
            int index = 0;
            for (NodeProto inner : f.getNodeList()) {
                NodeProto.Builder b = inner.toBuilder().clearInput().clearOutput().clearAttribute()
                        .setName(prefix + (inner.getName().isEmpty() ? inner.getOpType() + "_" + index : inner.getName()));
                index++;
                for (String in : inner.getInputList()) {
                    b.addInput(in.isEmpty() ? "" : rename.getOrDefault(in, prefix + in));
                }
                for (String o : inner.getOutputList()) {
                    b.addOutput(o.isEmpty() ? "" : rename.get(o));
                }
                for (AttributeProto a : inner.getAttributeList()) {
                    AttributeProto resolved = resolve(a, given, rename);
                    if (resolved != null) {
                        b.addAttribute(resolved);
                    }
                }
                add(b.build());
            }
        }

        /** {@code name}, or {@code name#2}, {@code #3}, ... when it is in use; then in use. */
        String fresh(String name) {
            String s = name;
            for (int k = 2; taken.contains(s); k++) {
                s = name + "#" + k;
            }
            taken.add(s);
            return s;
        }
    }

    /**
     * Attribute {@code a} of a function's node as the call gives it: a reference to the function's attribute takes the
     * call's value (or the function's default) under {@code a}'s name, or null when neither is given (the operator's default then applies); a
     * subgraph reads the renamed values of the function.
     */
    private static AttributeProto resolve(AttributeProto a, Map<String, AttributeProto> given, Map<String, String> rename) {
        if (!a.getRefAttrName().isEmpty()) {
            AttributeProto v = given.get(a.getRefAttrName());
            return v == null ? null : v.toBuilder().setName(a.getName()).build();
        }
        if (!a.hasG() && a.getGraphsCount() == 0) {
            return a;
        }
        AttributeProto.Builder b = a.toBuilder();
        if (a.hasG()) {
            b.setG(renameCaptured(a.getG(), given, rename));
        }
        for (int i = 0; i < a.getGraphsCount(); i++) {
            b.setGraphs(i, renameCaptured(a.getGraphs(i), given, rename));
        }
        return b.build();
    }

    /** Subgraph {@code g} with the outer values it reads (those it does not define) renamed by {@code rename}. */
    private static GraphProto renameCaptured(GraphProto g, Map<String, AttributeProto> given, Map<String, String> rename) {
        Set<String> local = new HashSet<>();
        for (ValueInfoProto v : g.getInputList()) {
            local.add(v.getName());
        }
        for (TensorProto t : g.getInitializerList()) {
            local.add(t.getName());
        }
        for (NodeProto n : g.getNodeList()) {
            local.addAll(n.getOutputList());
        }
        Map<String, String> outer = new HashMap<>(rename);
        outer.keySet().removeAll(local);
        GraphProto.Builder b = g.toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto n = g.getNode(i);
            NodeProto.Builder nb = b.getNodeBuilder(i);
            for (int k = 0; k < n.getInputCount(); k++) {
                String r = outer.get(n.getInput(k));
                if (r != null) {
                    nb.setInput(k, r);
                }
            }
            nb.clearAttribute();
            for (AttributeProto a : n.getAttributeList()) {
                AttributeProto resolved = resolve(a, given, outer);
                if (resolved != null) {
                    nb.addAttribute(resolved);
                }
            }
        }
        for (int i = 0; i < g.getOutputCount(); i++) {
            String r = outer.get(g.getOutput(i).getName());
            if (r != null) {
                b.getOutputBuilder(i).setName(r);
            }
        }
        return b.build();
    }
}
