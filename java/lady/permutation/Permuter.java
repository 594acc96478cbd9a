package lady.permutation;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.kernels.TensorPermutation;
import lady.tensor.HostTensor;
import lady.util.Seeds;

/**
 * Applies permutations of neuron groups to a {@link StateDict}: one group, several, or all, in ONE
 * native pass over the weights ({@link Kernels#permuteTensors}), because a tensor can belong to two
 * groups (axis 0 as producer of one, axis 1 as consumer of the next). Convention (method.md 2):
 * applying {@code p} to a group makes new neuron {@code j} old neuron {@code p[j]} in every member
 * (producer weight and bias, BN weight, bias, running_mean and running_var, consumer columns in
 * blocks); {@code num_batches_tracked} and every tensor outside the groups are untouched.
 */
public final class Permuter {
    private Permuter() {}

    /** Applies {@code perms} (group name -> permutation) to {@code state} in place. */
    public static void applyInPlace(StateDict state, PermutationSpec spec, Map<String, Permutation> perms,
            Backend backend) {
        List<TensorPermutation> targets = targets(state, spec, perms);
        if (!targets.isEmpty()) {
            Kernels.permuteTensors(backend, writable(state, targets));
        }
    }

    /** The targets over tensors that may be written: one still over a mapped file is copied first
     * ({@link StateDict#writable}). */
    private static List<TensorPermutation> writable(StateDict state, List<TensorPermutation> targets) {
        List<TensorPermutation> out = new ArrayList<>(targets.size());
        for (TensorPermutation t : targets) {
            HostTensor h = state.writable(t.name());
            out.add(h.address() == t.address() ? t : new TensorPermutation(t.name(), h.address(), t.rows(), t.n1(),
                    t.block(), t.innerBytes(), t.p0(), t.p1(), h));
        }
        return out;
    }

    /** A permuted deep copy of {@code state}; {@code state} itself is unchanged. */
    public static StateDict apply(StateDict state, PermutationSpec spec, Map<String, Permutation> perms,
            Backend backend) {
        targets(state, spec, perms); // validate before copying
        StateDict copy = state.copy();
        applyInPlace(copy, spec, perms, backend);
        return copy;
    }

    /** Each group's permutation as the long[] indices the resync takes ({@code ReferenceResync} secrets). */
    public static Map<String, long[]> indices(Map<String, Permutation> perms) {
        Map<String, long[]> out = new LinkedHashMap<>();
        perms.forEach((name, p) -> out.put(name, p.longIndices()));
        return out;
    }

    /** The inverse of every permutation: applying the result after {@code perms} restores the tensors. */
    public static Map<String, Permutation> inverse(Map<String, Permutation> perms) {
        Map<String, Permutation> inv = new LinkedHashMap<>();
        perms.forEach((name, p) -> inv.put(name, p.inverse()));
        return inv;
    }

    /**
     * A random permutation for each named group, in spec order. Each group's permutation depends
     * only on {@code seed} and the group's name (so choosing other groups does not change it).
     */
    public static Map<String, Permutation> random(PermutationSpec spec, Collection<String> groups, long seed) {
        Map<String, Permutation> perms = new LinkedHashMap<>();
        for (String name : groups) {
            Group g = group(spec, name);
            perms.put(name, Permutation.random(Math.toIntExact(g.size()), Seeds.derive(seed, "permute:" + name)));
        }
        return perms;
    }

    /**
     * Group names from a selection: {@code "all"} or a comma-separated list such as
     * {@code "features.17,classifier.0"}; returned in spec (topological) order, each once.
     *
     * @throws LadyException USAGE naming the unknown group and listing the valid names
     */
    public static List<String> select(PermutationSpec spec, String selection) {
        if (selection == null || selection.isBlank()) {
            throw new LadyException(LadyException.Kind.USAGE, "no groups selected; valid: all, " + validNames(spec));
        }
        if (selection.trim().equals("all")) {
            return spec.groups().stream().map(Group::name).toList();
        }
        java.util.Set<String> wanted = new java.util.LinkedHashSet<>();
        for (String part : selection.split(",")) {
            String name = part.trim();
            if (spec.group(name).isEmpty()) {
                throw new LadyException(LadyException.Kind.USAGE, "unknown group '" + name + "' for "
                        + spec.architecture() + "; valid: all, " + validNames(spec));
            }
            wanted.add(name);
        }
        return spec.groups().stream().map(Group::name).filter(wanted::contains).toList();
    }

    /** The group called {@code name}; a clear error listing the valid names otherwise. */
    public static Group group(PermutationSpec spec, String name) {
        return spec.group(name).orElseThrow(() -> LadyException.invalidInput("unknown group '" + name + "' for "
                + spec.architecture() + "; valid: " + validNames(spec)));
    }

    static String validNames(PermutationSpec spec) {
        return String.join(", ", spec.groups().stream().map(Group::name).toList());
    }

    /** Per tensor, the (axis 0, axis 1) permutations of every group that touches it: validated, in state order. */
    static List<TensorPermutation> targets(StateDict state, PermutationSpec spec, Map<String, Permutation> perms) {
        Map<String, long[][]> axes = new LinkedHashMap<>(); // tensor -> {p0, p1, {block}}
        for (Map.Entry<String, Permutation> e : perms.entrySet()) {
            Group g = group(spec, e.getKey());
            Permutation p = e.getValue();
            if (p.size() != g.size()) {
                throw LadyException.invalidInput(String.format(
                        "group '%s' has %d neurons but its permutation has size %d", g.name(), g.size(), p.size()));
            }
            for (Member m : g.members()) {
                if (m.axis() > 1) {
                    throw LadyException.invalidInput(String.format(
                            "group '%s': member '%s' is permuted along axis %d; only axes 0 and 1 are supported",
                            g.name(), m.tensor(), m.axis()));
                }
                state.get(m.tensor()); // a clear error when the state has no such tensor
                long[][] a = axes.computeIfAbsent(m.tensor(), k -> new long[][] {null, null, {1}});
                if (a[m.axis()] != null) {
                    throw LadyException.invalidInput(String.format(
                            "tensor '%s' axis %d belongs to two selected groups (second: '%s'): invalid spec",
                            m.tensor(), m.axis(), g.name()));
                }
                a[m.axis()] = p.longIndices();
                if (m.axis() == 1) {
                    a[2][0] = m.block();
                }
            }
        }
        List<TensorPermutation> targets = new ArrayList<>();
        for (String name : state.names()) {
            long[][] a = axes.get(name);
            if (a != null) {
                HostTensor t = state.get(name);
                targets.add(TensorPermutation.of(name, t.address(), t.shape(), t.dtype().elementSize(), a[0], a[1],
                        a[2][0], t));
            }
        }
        return targets;
    }
}
