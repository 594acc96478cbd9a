package lady.structure;

import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.graph.Graph;
import lady.graph.StructuralRules;
import lady.model.ModelConfig;
import lady.model.Models;
import lady.permutation.Group;
import lady.permutation.PermutationSpec;

/**
 * A state dict's network as structural edits see it: the graph built from the checkpoint's own widths
 * ({@link Models#infer}), its permutation spec and each group's {@link StructuralRules}. An edit that changes a
 * group's width takes {@link #resized} (the graph's shapes are then those it was read with: edits read shapes
 * from the state dict).
 *
 * @param architecture the architecture's name
 * @param graph        the network with the checkpoint's sizes
 * @param spec         its groups, with the checkpoint's sizes
 * @param rules        per group, what keeps its function
 * @param imported     whether a graph read from a file describes the network (an ONNX model's), not a family
 */
public record NetworkView(String architecture, Graph graph, PermutationSpec spec, Map<String, StructuralRules.Rule> rules,
        boolean imported) {

    /** The view of {@code state}, of architecture {@code arch} (null: recognized from the names and shapes). */
    public static NetworkView of(StateDict state, String arch) {
        ModelConfig mc = Models.infer(state, arch);
        Graph graph = mc.description().graph();
        PermutationSpec spec = mc.description().permutationSpec();
        return new NetworkView(mc.architecture(), graph, spec, StructuralRules.of(graph, spec), false);
    }

    /**
     * The view of a network that a graph describes (an ONNX model's, lady.onnx.OnnxGraph) with its spec: the
     * architecture is the spec's. Edits may change a group's width ({@link #resized}) when no member of the spec starts
     * past index 0 of its axis ({@link #hasOffsets}: the graph cannot be read again from a state dict).
     */
    public static NetworkView of(Graph graph, PermutationSpec spec) {
        return new NetworkView(spec.architecture(), graph, spec, StructuralRules.of(graph, spec), true);
    }

    /**
     * The view after group {@code name} of {@code state} was rewritten to {@code size} neurons. When no member of
     * any group starts past index 0 of its axis (no concatenation: every range begins at 0, so one group's width
     * moves no other group's range) that is this view with the group's size changed; otherwise a family's view is read
     * again from {@code state}, and an imported graph's is refused. A family's state's configuration follows its widths
     * ({@link Models#syncConfig}).
     */
    public NetworkView resized(String name, long size, StateDict state) {
        if (!imported) {
            Models.syncConfig(state, architecture);
        }
        if (hasOffsets(spec)) {
            if (imported) {
                throw concatenation(architecture);
            }
            return of(state, architecture);
        }
        java.util.List<Group> groups = new java.util.ArrayList<>();
        for (Group g : spec.groups()) {
            groups.add(g.name().equals(name) ? new Group(g.name(), size, g.members()) : g);
        }
        return new NetworkView(architecture, graph, new PermutationSpec(spec.architecture(), groups, spec.fixed(), spec.notes()),
                rules, imported);
    }

    /**
     * The view of the network {@code graph} describes with {@code spec}'s groups at the widths of {@code state} (an ONNX
     * model after structural edits: each group's size scaled by its first member's axis, in the state dict against the
     * graph).
     *
     * @throws LadyException INVALID_INPUT when a width changed and a group sits at an offset of its tensors
     *                       ({@link #hasOffsets}): a graph read from a file cannot follow a concatenation through it
     */
    public static NetworkView sized(Graph graph, PermutationSpec spec, StateDict state) {
        java.util.List<Group> groups = new java.util.ArrayList<>();
        boolean resized = false;
        for (Group g : spec.groups()) { // (without offsets each member spans its axis: the width scales with it)
            lady.permutation.Member m = g.members().get(0);
            long now = state.shape(m.tensor())[m.axis()];
            long read = graph.shape(m.tensor())[m.axis()];
            groups.add(now == read ? g : new Group(g.name(), g.size() * now / read, g.members()));
            resized |= now != read;
        }
        if (resized && hasOffsets(spec)) {
            throw concatenation(spec.architecture());
        }
        return of(graph, new PermutationSpec(spec.architecture(), groups, spec.fixed(), spec.notes()));
    }

    /** The refusal of a change of width in an imported graph whose groups sit at offsets ({@link #hasOffsets}). */
    private static LadyException concatenation(String architecture) {
        return LadyException.invalidInput(architecture + ": its groups sit at offsets of their tensors (a concatenation), "
                + "which a graph read from a file cannot follow through a change of width");
    }

    /** Whether a member of {@code spec} starts past index 0 of its axis (a concatenation's later part). */
    public static boolean hasOffsets(PermutationSpec spec) {
        return spec.groups().stream().flatMap(g -> g.members().stream()).anyMatch(m -> m.offset() != 0);
    }

    /** The group called {@code name}; a clear error otherwise. */
    public Group group(String name) {
        return spec.group(name).orElseThrow(() -> LadyException.invalidInput("the network has no group '" + name
                + "'; its groups are: " + String.join(", ", spec.groups().stream().map(Group::name).toList())));
    }

    /** The rules of group {@code name}. */
    public StructuralRules.Rule rule(String name) {
        group(name);
        return rules.get(name);
    }
}
