package lady.experiment;

import java.util.List;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.model.Architecture;

/** The tensors an attack works on, taken from the typed architecture (never guessed from names). */
public final class AttackTargets {
    private AttackTargets() {}

    /** Every weight an attack on all layers works on ({@link Architecture#weights()}), in execution order. */
    public static List<String> weights(Architecture arch) {
        return arch.weights();
    }

    /**
     * The weight tensor of the attacked layer: {@code layer} may be a module path ("features.17")
     * or the weight's own name ("features.17.weight"); it must be one of {@link #weights}.
     */
    public static String layerWeight(Architecture arch, StateDict state, String layer) {
        if (layer == null || layer.isBlank()) {
            throw new LadyException(LadyException.Kind.USAGE, "no attacked layer given (e.g. --layer features.17)");
        }
        List<String> weights = weights(arch);
        if (weights.contains(layer) && state.contains(layer)) {
            return layer;
        }
        String name = arch.producer(layer).weight(); // a module path; refuses an unknown name, listing the layers
        if (!weights.contains(name) || !state.contains(name)) {
            throw new LadyException(LadyException.Kind.USAGE, "layer '" + layer + "' has no weight in the checkpoint");
        }
        return name;
    }

}
