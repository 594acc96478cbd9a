package lady.permutation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
 *   <li>group names are unique, every group has a size of at least 1 and a producer weight;</li>
 *   <li>every member names an existing tensor and axis, and its range {@code [offset, offset + N * block)}
 *       lies inside that axis; a whole tensor ({@link Role#WHOLE_TENSOR}) belongs to one neuron (its offset) of one
 *       group, and the neurons' lists of whole tensors have the same shapes place by place;</li>
 *   <li>two ranges on the same (tensor, axis) are disjoint, or the later group's lies inside a single block
 *       of the earlier group's (nested groups: the query heads inside a KV head's block, listed after it:
 *       see {@link Nesting}), and never belong to the same
 *       group twice;</li>
 *   <li>no fixed (tensor, axis) is also a member of a group; every fixed entry names an existing tensor
 *       (and axis);</li>
 *   <li>every tensor is accounted for: a member of some group or fixed (whole, or one of its axes).</li>
 * </ul>
 * Problems are reported at once in one {@link LadyException} of kind INVALID_INPUT (the first few,
 * with their count).
 */
public final class SpecValidator {
    private SpecValidator() {}

    /** How many problems one error message lists. */
    private static final int LISTED = 8;

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

    private record Range(String group, long start, long end, long block) {}

    /** Validates {@code spec} against tensor shapes (name -> shape, e.g. from a graph). */
    public static PermutationSpec validate(PermutationSpec spec, Map<String, long[]> shapes) {
        List<String> problems = new ArrayList<>();
        Map<String, List<Range>> ranges = new HashMap<>(); // "tensor[axis]" -> ranges
        Set<String> touched = new HashSet<>();
        Set<String> groupNames = new HashSet<>();
        Map<String, String> whole = new HashMap<>(); // tensor held whole by a neuron -> its group
        for (Group g : spec.groups()) {
            if (!groupNames.add(g.name())) {
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
                if (shape == null) {
                    problems.add("group '" + g.name() + "': no tensor named '" + m.tensor() + "'");
                    continue;
                }
                if (m.role() == Role.WHOLE_TENSOR) {
                    if (m.offset() >= g.size()) {
                        problems.add("group '" + g.name() + "' (N = " + g.size() + "): whole tensor '" + m.tensor()
                                + "' belongs to neuron " + m.offset());
                    }
                    String other = whole.putIfAbsent(m.tensor(), g.name());
                    if (other != null) {
                        problems.add("'" + m.tensor() + "' is held whole by groups '" + other + "' and '" + g.name() + "'");
                    }
                    touched.add(m.tensor());
                    continue;
                }
                if (m.axis() >= shape.length) {
                    problems.add("group '" + g.name() + "': '" + m.tensor() + "' has no axis " + m.axis()
                            + " (shape " + Arrays.toString(shape) + ")");
                    continue;
                }
                long length = g.size() * m.block();
                if (m.offset() + length > shape[m.axis()]) {
                    problems.add("group '" + g.name() + "' (N = " + g.size() + "): '" + m.tensor() + "' axis " + m.axis()
                            + " has " + shape[m.axis()] + " entries, expected " + (m.offset() == 0 ? ""
                                    : "at least offset + ") + "N * block = " + (m.offset() == 0 ? "" : m.offset() + " + ")
                            + g.size() + " * " + m.block());
                    touched.add(m.tensor());
                    ranges.computeIfAbsent(fixedAxis(m.tensor(), m.axis()), k -> new ArrayList<>());
                    continue;
                }
                touched.add(m.tensor());
                String key = fixedAxis(m.tensor(), m.axis());
                Range r = new Range(g.name(), m.offset(), m.offset() + length, m.block());
                for (Range o : ranges.getOrDefault(key, List.of())) {
                    String clash = clash(o, r);
                    if (clash != null) {
                        problems.add(key + " " + clash);
                    }
                }
                ranges.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
            }
        }
        wholeShapes(spec, shapes, problems);
        for (String f : spec.fixed()) {
            int bracket = f.lastIndexOf('[');
            if (bracket > 0 && f.endsWith("]") && !shapes.containsKey(f)) {
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
                } else if (axis < 0 || axis >= shape.length) {
                    problems.add("fixed entry '" + f + "': the tensor has " + shape.length + " axes");
                } else if (ranges.containsKey(f) && !ranges.get(f).isEmpty()) {
                    problems.add(f + " is declared fixed but belongs to group '" + ranges.get(f).get(0).group() + "'");
                }
                touched.add(tensor);
            } else if (!shapes.containsKey(f)) {
                problems.add("fixed entry '" + f + "': no tensor of that name");
            } else {
                long[] shape = shapes.get(f);
                for (int axis = 0; axis < shape.length; axis++) {
                    List<Range> rs = ranges.get(fixedAxis(f, axis));
                    if (rs != null && !rs.isEmpty()) {
                        problems.add(f + " is declared fixed but axis " + axis + " belongs to group '" + rs.get(0).group() + "'");
                    }
                }
                touched.add(f);
            }
        }
        Set<String> wholeFixed = new HashSet<>();
        for (String f : spec.fixed()) {
            if (shapes.containsKey(f)) {
                wholeFixed.add(f);
            }
        }
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String tensor = e.getKey();
            long[] shape = e.getValue();
            if (wholeFixed.contains(tensor)) {
                continue;
            }
            if (!touched.contains(tensor)) {
                problems.add("'" + tensor + "' is neither in a group nor fixed");
                continue;
            }
            // the neuron axes (0, and 1 of a weight): each in a group or fixed, unless it has one entry
            for (int axis = 0; axis < Math.min(shape.length, 2); axis++) {
                String key = fixedAxis(tensor, axis);
                if (shape[axis] > 1 && !ranges.containsKey(key) && !spec.fixed().contains(key)) {
                    problems.add(key + " is neither in a group nor fixed");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw LadyException.invalidInput("the permutation spec of '" + spec.architecture()
                    + "' does not fit the model (" + problems.size() + " problem(s)): "
                    + String.join("; ", problems.subList(0, Math.min(LISTED, problems.size())))
                    + (problems.size() > LISTED ? "; ..." : ""));
        }
        return spec;
    }

    /** Every neuron of a group with whole tensors holds as many as the others, of the same shapes place by place. */
    private static void wholeShapes(PermutationSpec spec, Map<String, long[]> shapes, List<String> problems) {
        for (Group g : spec.groups()) {
            if (g.members(Role.WHOLE_TENSOR).stream().anyMatch(m -> m.offset() >= g.size() || !shapes.containsKey(m.tensor()))) {
                continue; // said above
            }
            List<List<String>> slots = Permuter.wholeTensors(g);
            for (int j = 1; j < slots.size(); j++) {
                List<String> a = slots.get(0);
                List<String> b = slots.get(j);
                boolean same = a.size() == b.size();
                for (int k = 0; same && k < a.size(); k++) {
                    same = Arrays.equals(shapes.get(a.get(k)), shapes.get(b.get(k)));
                }
                if (!same) {
                    problems.add("group '" + g.name() + "': neuron " + j + "'s whole tensors " + b + " do not have the "
                            + "shapes of neuron 0's " + a + "; they cannot trade places");
                }
            }
        }
    }

    /** Why two ranges on one axis cannot coexist, or null when they can (disjoint, or nested in one block). */
    private static String clash(Range a, Range b) {
        if (a.end() <= b.start() || b.end() <= a.start()) {
            return null;
        }
        if (a.group().equals(b.group())) {
            return "is listed twice in group '" + a.group() + "'";
        }
        if (insideOneBlock(b, a)) {
            return null;
        }
        if (insideOneBlock(a, b)) { // permutations compose in spec order: the outer group's first
            return "of group '" + a.group() + "' lies inside one block of the later group '" + b.group()
                    + "': list the outer group first";
        }
        return "belongs to both '" + a.group() + "' and '" + b.group() + "' with overlapping ranges";
    }

    /** Whether {@code inner} lies inside one block of {@code outer}. */
    private static boolean insideOneBlock(Range inner, Range outer) {
        if (inner.start() < outer.start() || inner.end() > outer.end()) {
            return false;
        }
        long first = (inner.start() - outer.start()) / outer.block();
        long last = (inner.end() - 1 - outer.start()) / outer.block();
        return first == last;
    }
}
