package lady.permutation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;

/**
 * Checks a {@link PermutationSpec} against the tensors of a model.
 *
 * <p>Notation of {@link PermutationSpec#fixed()}: a plain tensor name ("features.0.bias",
 * "bn1.num_batches_tracked") means no group touches any axis of it; {@code name[axis]}
 * ({@link #fixedAxis(String, int)}, e.g. "features.0.weight[1]" for the first layer's input
 * channels, "classifier.6.weight[0]" for the classifier's outputs) means that axis is never permuted.
 *
 * <p>A spec is valid for a model when:
 * <ul>
 *   <li>every member names an existing tensor, its axis exists and {@code shape[axis] == N * block};</li>
 *   <li>no (tensor, axis) belongs to two groups, or to a group and {@code fixed};</li>
 *   <li>every tensor is covered: each of its neuron axes (axis 0, and axis 1 for weights of rank
 *       >= 2) is in a group or fixed, or the whole tensor is fixed (scalars must be);</li>
 *   <li>every fixed entry names an existing tensor (and axis); group names are unique.</li>
 * </ul>
 * All problems are reported at once in one {@link LadyException} of kind INVALID_INPUT.
 */
public final class SpecValidator {
    private SpecValidator() {}

    /** The {@code fixed} entry for one axis of a tensor: {@code "name[axis]"}. */
    public static String fixedAxis(String tensor, int axis) {
        return tensor + "[" + axis + "]";
    }

    /** Validates {@code spec} against the tensors of {@code state}; returns {@code spec}. */
    public static PermutationSpec validate(PermutationSpec spec, StateDict state) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String name : state.names()) {
            shapes.put(name, state.shape(name));
        }
        return validate(spec, shapes);
    }

    /** Validates {@code spec} against tensor shapes (name -> shape, e.g. from a description). */
    public static PermutationSpec validate(PermutationSpec spec, Map<String, long[]> shapes) {
        List<String> problems = new ArrayList<>();
        Map<String, String> owner = new HashMap<>(); // "tensor[axis]" -> group or "fixed"
        Map<String, Boolean> groupNames = new HashMap<>();
        for (Group g : spec.groups()) {
            if (groupNames.put(g.name(), Boolean.TRUE) != null) {
                problems.add("group name '" + g.name() + "' is used twice");
            }
            if (g.size() < 1) {
                problems.add("group '" + g.name() + "' has size " + g.size());
            }
            if (g.members(Role.PRODUCER_WEIGHT).isEmpty()) {
                problems.add("group '" + g.name() + "' has no producer weight");
            }
            for (Member m : g.members()) {
                long[] shape = shapes.get(m.tensor());
                String key = fixedAxis(m.tensor(), m.axis());
                if (shape == null) {
                    problems.add("group '" + g.name() + "': no tensor named '" + m.tensor() + "'");
                } else if (m.axis() >= shape.length) {
                    problems.add("group '" + g.name() + "': '" + m.tensor() + "' has no axis " + m.axis()
                            + " (shape " + java.util.Arrays.toString(shape) + ")");
                } else if (shape[m.axis()] != g.size() * m.block()) {
                    problems.add("group '" + g.name() + "' (N = " + g.size() + "): '" + m.tensor() + "' axis "
                            + m.axis() + " has " + shape[m.axis()] + " entries, expected N * block = "
                            + g.size() + " * " + m.block());
                }
                String previous = owner.put(key, g.name());
                if (previous != null) {
                    problems.add(key + " belongs to both '" + previous + "' and '" + g.name() + "'");
                }
            }
        }
        Map<String, Boolean> wholeFixed = new HashMap<>();
        for (String f : spec.fixed()) {
            int bracket = f.indexOf('[');
            if (bracket > 0 && f.endsWith("]")) {
                String tensor = f.substring(0, bracket);
                long[] shape = shapes.get(tensor);
                int axis;
                try {
                    axis = Integer.parseInt(f.substring(bracket + 1, f.length() - 1));
                } catch (NumberFormatException e) {
                    problems.add("fixed entry '" + f + "' has no valid axis");
                    continue;
                }
                if (shape == null) {
                    problems.add("fixed entry '" + f + "': no tensor named '" + tensor + "'");
                } else if (axis >= shape.length) {
                    problems.add("fixed entry '" + f + "': the tensor has only " + shape.length + " axes");
                }
                String previous = owner.put(f, "fixed");
                if (previous != null) {
                    problems.add(f + " is declared fixed but belongs to group '" + previous + "'");
                }
            } else if (!shapes.containsKey(f)) {
                problems.add("fixed entry '" + f + "': no tensor of that name");
            } else {
                wholeFixed.put(f, Boolean.TRUE);
            }
        }
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String tensor = e.getKey();
            long[] shape = e.getValue();
            if (wholeFixed.containsKey(tensor)) {
                for (int axis = 0; axis < shape.length; axis++) {
                    String group = owner.get(fixedAxis(tensor, axis));
                    if (group != null && !group.equals("fixed")) {
                        problems.add(tensor + " is declared fixed but axis " + axis + " belongs to group '" + group + "'");
                    }
                }
                continue;
            }
            if (shape.length == 0) {
                problems.add("scalar '" + tensor + "' is neither in a group nor fixed");
            }
            for (int axis = 0; axis < Math.min(shape.length, 2); axis++) {
                if (!owner.containsKey(fixedAxis(tensor, axis))) {
                    problems.add(fixedAxis(tensor, axis) + " is neither in a group nor fixed");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw LadyException.invalidInput("the permutation spec of '" + spec.architecture()
                    + "' does not fit the model (" + problems.size() + " problem(s)): " + String.join("; ", problems));
        }
        return spec;
    }
}
