package lady.experiment;

import java.util.List;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.model.Architecture;

/** The tensors an attack works on, taken from the typed architecture (never guessed from names). */
public final class AttackTargets {
    private AttackTargets() {}

    /**
     * The weights an attack on all layers works on when only a spec file describes the network: every
     * tensor of rank 2 or more that produces or consumes a group's neurons, in the checkpoint's order.
     */
    public static List<String> weights(lady.permutation.PermutationSpec spec, StateDict state) {
        java.util.Set<String> members = new java.util.HashSet<>();
        for (lady.permutation.Group g : spec.groups()) {
            for (lady.permutation.Member m : g.members(lady.permutation.Role.PRODUCER_WEIGHT,
                    lady.permutation.Role.CONSUMER_WEIGHT)) {
                members.add(m.tensor());
            }
        }
        return state.names().stream().filter(n -> members.contains(n) && state.shape(n).length >= 2).toList();
    }

    /**
     * The attacked weight named on the command line when only a spec describes the network: a weight's own
     * name, or a group's name (its first producer's weight).
     */
    public static String layerWeight(lady.permutation.PermutationSpec spec, StateDict state, String layer) {
        if (layer == null || layer.isBlank()) {
            throw new LadyException(LadyException.Kind.USAGE, "no attacked layer given (--layer NAME: a group or a weight)");
        }
        List<String> weights = weights(spec, state);
        if (weights.contains(layer)) {
            return layer;
        }
        return lady.permutation.Permuter.group(spec, layer).members(lady.permutation.Role.PRODUCER_WEIGHT).get(0).tensor();
    }

    /** Every weight an attack on all layers works on ({@link Architecture#weights()}), in execution order. */
    public static List<String> weights(Architecture arch) {
        return arch.weights();
    }

    /**
     * The weight tensor of the attacked layer: {@code layer} may be a module path ("features.17")
     * or the weight's own name ("features.17.weight"); it must be one of {@link #weights}.
     */
    public static String layerWeight(Architecture arch, StateDict state, String layer) {
        List<String> weights = weights(arch);
        if (layer == null || layer.isBlank()) { // named after this model's own layers
            throw new LadyException(LadyException.Kind.USAGE, "no attacked layer given: --layer NAME, a layer of this "
                    + "model" + (weights.isEmpty() ? "" : " such as " + weights.get(weights.size() / 2))
                    + " (lady spec lists them)");
        }
        if (weights.contains(layer) && state.contains(layer)) {
            return layer;
        }
        String name = moduleWeight(arch, weights, layer);
        if (!weights.contains(name) || !state.contains(name)) {
            throw new LadyException(LadyException.Kind.USAGE, "layer '" + layer + "' has no weight in the checkpoint");
        }
        return name;
    }

    /**
     * The weight of the module at path {@code layer}: a convolution or linear layer's node, or a projection
     * inside an attention node (q_proj of grouped-query attention), whose weight is the PyTorch parameter
     * {@code layer + ".weight"}.
     *
     * @throws LadyException USAGE listing the weights an attack works on when there is none
     */
    private static String moduleWeight(Architecture arch, List<String> weights, String layer) {
        java.util.Optional<Architecture.Producer> producer = arch.findProducer(layer);
        if (producer.isPresent()) {
            return producer.get().weight();
        }
        String parameter = layer + ".weight";
        if (weights.contains(parameter)) {
            return parameter;
        }
        throw new LadyException(LadyException.Kind.USAGE, "'" + layer + "' is not a layer of " + arch.name()
                + " an attack works on; its weights are: " + lady.util.Text.list(weights, 12)
                + " (a module path without .weight also works)");
    }

}
