package lady.experiment;

import java.util.ArrayList;
import java.util.List;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.model.Architecture;
import lady.model.Layer;

/** The tensors an attack works on, taken from the typed architecture (never guessed from names). */
public final class AttackTargets {
    private AttackTargets() {}

    /** Every Conv2d and Linear weight of {@code arch} (those inside residual blocks too), in execution order. */
    public static List<String> weights(Architecture arch) {
        List<String> names = new ArrayList<>();
        for (Layer.Conv c : arch.convolutions()) {
            names.add(c.name() + ".weight");
        }
        for (Layer l : arch.layers()) {
            if (l instanceof Layer.Linear li) {
                names.add(li.name() + ".weight");
            }
        }
        return names;
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
        String name = layer.endsWith(".weight") ? layer : layer + ".weight";
        if (!weights.contains(name) || !state.contains(name)) {
            throw new LadyException(LadyException.Kind.USAGE, "layer '" + layer + "' is not a Conv2d or Linear layer of "
                    + arch.name() + "; valid layers: " + String.join(", ",
                            weights.stream().map(w -> w.substring(0, w.length() - ".weight".length())).toList()));
        }
        return name;
    }

    /** The module path of a weight name ("features.17.weight" -> "features.17"). */
    public static String module(String weight) {
        return weight.endsWith(".weight") ? weight.substring(0, weight.length() - ".weight".length()) : weight;
    }
}
