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
 * ({@link Models#infer}), its permutation spec and each group's {@link StructuralRules}. Edits that change a
 * group's width change every later group's offsets, so they take a fresh view after each edit.
 *
 * @param architecture the architecture's name
 * @param graph        the network with the checkpoint's sizes
 * @param spec         its groups, with the checkpoint's sizes
 * @param rules        per group, what keeps its function
 */
public record NetworkView(String architecture, Graph graph, PermutationSpec spec, Map<String, StructuralRules.Rule> rules) {

    /** The view of {@code state}, of architecture {@code arch} (null: recognized from the names and shapes). */
    public static NetworkView of(StateDict state, String arch) {
        ModelConfig mc = Models.infer(state, arch);
        Graph graph = mc.description().graph();
        PermutationSpec spec = mc.description().permutationSpec();
        return new NetworkView(mc.architecture(), graph, spec, StructuralRules.of(graph, spec));
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
