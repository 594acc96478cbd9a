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
import lady.util.Ints;
import lady.util.Seeds;

/**
 * Applies permutations of neuron groups to a {@link StateDict}: one group, several, or all, in ONE
 * native pass over the weights ({@link Kernels#permuteTensors}), because a tensor can belong to several
 * groups (axis 0 as producer of one, axis 1 as consumer of the next, ranges of one axis for the branches
 * of a concatenation or the q/k/v segments of attention heads): per tensor axis, every group's range
 * permutation is composed into one index map first. Convention (method.md 2):
 * applying {@code p} to a group makes new neuron {@code j} old neuron {@code p[j]} in every member
 * (producer weight and bias, BN weight, bias, running_mean and running_var, consumer columns in
 * blocks); {@code num_batches_tracked} and every tensor outside the groups are untouched.
 */
public final class Permuter {
    private Permuter() {}

    /** Applies {@code perms} (group name -> permutation) to {@code state} in place. */
    public static void applyInPlace(StateDict state, PermutationSpec spec, Map<String, Permutation> perms,
            Backend backend) {
        Composed c = compose(state, spec, perms); // validated before anything changes
        state.rename(c.moves());
        for (String name : c.maps().keySet()) {
            if (state.get(name).mapped()) { // over a mapped file: copied once first (StateDict.writable)
                state.writable(name);
            }
        }
        for (List<TensorPermutation> pass : passes(state, c.maps(), c.grain())) { // the copies' addresses
            if (!pass.isEmpty()) {
                Kernels.permuteTensors(backend, pass);
            }
        }
    }

    /** A permuted deep copy of {@code state}; {@code state} itself is unchanged. */
    public static StateDict apply(StateDict state, PermutationSpec spec, Map<String, Permutation> perms,
            Backend backend) {
        compose(state, spec, perms); // validate before copying
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

    /**
     * The permutations that undo {@code perms}: applying the result after {@code perms} restores the tensors.
     * inv(p) per group, except for nested groups ({@link Nesting}): an inner group undoes, at its position,
     * what the outer group's undo brings there (its sibling's permutation: {@link Nesting#referenceFrame}).
     */
    public static Map<String, Permutation> inverse(PermutationSpec spec, Map<String, Permutation> perms) {
        Map<String, long[]> frame = Nesting.of(spec).referenceFrame(indices(perms), null);
        Map<String, Permutation> inv = new LinkedHashMap<>();
        frame.forEach((name, p) -> inv.put(name, Permutation.of(p).inverse()));
        return inv;
    }

    /**
     * A random permutation for each named group, in spec order. Each group's permutation depends
     * only on {@code seed} and the group's name (so choosing other groups does not change it), and is never
     * the identity ({@link #nonIdentity}).
     */
    public static Map<String, Permutation> random(PermutationSpec spec, Collection<String> groups, long seed) {
        Map<String, Permutation> perms = new LinkedHashMap<>();
        for (String name : groups) {
            Group g = group(spec, name);
            perms.put(name, nonIdentity(Math.toIntExact(g.size()), Seeds.derive(seed, "permute:" + name)));
        }
        return perms;
    }

    /**
     * A random permutation of {@code n} that is not the identity (for n >= 2): drawing the identity would
     * leave a group in place, which an attack never wants (small groups, such as 2 KV heads, draw it often).
     */
    static Permutation nonIdentity(int n, long seed) {
        Permutation p = Permutation.random(n, seed);
        for (int attempt = 1; n >= 2 && p.equals(Permutation.identity(n)); attempt++) {
            p = Permutation.random(n, Seeds.derive(seed, "redraw:" + attempt));
        }
        return p;
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

    /**
     * Applies {@code perms} to {@code state} without moving bytes: each tensor's axis 0 and 1 get the
     * composed full-axis index map ({@link StateDict#permuteLazily}); the bytes are gathered when the tensor
     * is read or written. Permutations of later axes (a class token's or position embedding's features)
     * are applied in place on a copy, as {@link #applyInPlace} does.
     */
    public static void applyLazily(StateDict state, PermutationSpec spec, Map<String, Permutation> perms,
            Backend backend) {
        Composed c = compose(state, spec, perms); // validated before anything changes
        state.rename(c.moves());
        Map<String, java.util.TreeMap<Integer, long[]>> later = new LinkedHashMap<>();
        c.maps().forEach((name, axes) -> {
            if (axes.lastKey() >= 2) {
                later.put(name, new java.util.TreeMap<>(axes.tailMap(2)));
            }
        });
        if (!later.isEmpty()) {
            later.keySet().forEach(state::writable);
            for (List<TensorPermutation> pass : passes(state, later, c.grain())) {
                if (!pass.isEmpty()) {
                    Kernels.permuteTensors(backend, pass);
                }
            }
        }
        c.maps().forEach((name, axes) -> axes.headMap(2).forEach((axis, map) -> state.permuteLazily(name, axis, map)));
    }

    /**
     * Per tensor and axis, the composed full-axis index map, and the coarsest block every member there moves; the
     * tensors moved whole between names ({@link Role#WHOLE_TENSOR}: name -> the name whose tensor ends there), whose
     * maps are keyed by the name they end at. Permutations compose in spec order, each group acting on what the
     * earlier ones left: a whole tensor's maps move with it.
     */
    private record Composed(Map<String, java.util.TreeMap<Integer, long[]>> maps,
            Map<String, java.util.TreeMap<Integer, Long>> grain, Map<String, String> moves) {}

    private static Composed compose(StateDict state, PermutationSpec spec, Map<String, Permutation> perms) {
        for (String name : perms.keySet()) {
            group(spec, name); // unknown names: a clear error
        }
        Map<String, java.util.TreeMap<Integer, long[]>> maps = new LinkedHashMap<>();
        Map<String, java.util.TreeMap<Integer, Long>> grain = new LinkedHashMap<>();
        Map<String, String> source = new LinkedHashMap<>(); // name -> the name whose tensor ends there
        for (Group g : spec.groups()) {
            Permutation p = perms.get(g.name());
            if (p == null) {
                continue;
            }
            if (p.size() != g.size()) {
                throw LadyException.invalidInput(String.format(
                        "group '%s' has %d neurons but its permutation has size %d", g.name(), g.size(), p.size()));
            }
            long[] idx = p.longIndices();
            Map<String, String> moved = wholeMoves(state, g, idx);
            if (!moved.isEmpty()) {
                Map<String, java.util.TreeMap<Integer, long[]>> m0 = new java.util.HashMap<>(maps);
                Map<String, java.util.TreeMap<Integer, Long>> g0 = new java.util.HashMap<>(grain);
                Map<String, String> s0 = new java.util.HashMap<>(source);
                moved.forEach((to, from) -> {
                    moveEntry(maps, m0, to, from);
                    moveEntry(grain, g0, to, from);
                    source.put(to, s0.getOrDefault(from, from));
                });
            }
            for (Member m : g.members()) {
                if (m.role() == Role.WHOLE_TENSOR) {
                    continue;
                }
                long[] shape = state.shape(m.tensor()); // a clear error when the state has no such tensor
                long length = g.size() * m.block();
                if (m.axis() >= shape.length || m.offset() + length > shape[m.axis()]) {
                    throw LadyException.invalidInput(String.format(
                            "group '%s': tensor '%s' of shape %s has no range [%d, %d) on axis %d", g.name(), m.tensor(),
                            java.util.Arrays.toString(shape), m.offset(), m.offset() + length, m.axis()));
                }
                long[] map = maps.computeIfAbsent(m.tensor(), k -> new java.util.TreeMap<>())
                        .computeIfAbsent(m.axis(), a -> identity(shape[a]));
                compose(map, m.offset(), m.block(), idx);
                grain.computeIfAbsent(m.tensor(), k -> new java.util.TreeMap<>())
                        .merge(m.axis(), Ints.gcd(Ints.gcd(m.block(), m.offset()), shape[m.axis()]), Ints::gcd);
            }
        }
        Map<String, String> moves = new LinkedHashMap<>();
        source.forEach((to, from) -> {
            if (!to.equals(from)) {
                moves.put(to, from);
            }
        });
        return new Composed(maps, grain, moves);
    }

    private static <V> void moveEntry(Map<String, V> now, Map<String, V> before, String to, String from) {
        V v = before.get(from);
        if (v == null) {
            now.remove(to);
        } else {
            now.put(to, v);
        }
    }

    /**
     * The names a group's whole tensors ({@link Role#WHOLE_TENSOR}) move between under {@code p}: tensor k of neuron
     * j's list becomes tensor k of neuron p[j]'s (name -> the name it takes its tensor from); empty for a group without
     * whole tensors. Checked first: every neuron has its list, of tensors the state holds, the same shapes place by
     * place.
     */
    private static Map<String, String> wholeMoves(StateDict state, Group g, long[] p) {
        List<List<String>> slots = wholeTensors(g);
        Map<String, String> out = new LinkedHashMap<>();
        if (slots.isEmpty()) {
            return out;
        }
        for (int j = 0; j < slots.size(); j++) {
            List<String> to = slots.get(j);
            List<String> from = slots.get(Math.toIntExact(p[j]));
            if (to.size() != from.size()) {
                throw LadyException.invalidInput("group '" + g.name() + "': neurons " + j + " and " + p[j] + " hold "
                        + to.size() + " and " + from.size() + " whole tensors; they cannot trade places");
            }
            for (int k = 0; k < to.size(); k++) {
                long[] a = state.shape(to.get(k));
                long[] b = state.shape(from.get(k));
                if (!java.util.Arrays.equals(a, b)) {
                    throw LadyException.invalidInput("group '" + g.name() + "': '" + from.get(k) + "' of shape "
                            + java.util.Arrays.toString(b) + " cannot take the place of '" + to.get(k) + "' of shape "
                            + java.util.Arrays.toString(a) + " (neurons " + p[j] + " and " + j + ")");
                }
                out.put(to.get(k), from.get(k));
            }
        }
        return out;
    }

    /** Neuron j -> its whole tensors ({@link Role#WHOLE_TENSOR}), in member order; empty when the group has none. */
    public static List<List<String>> wholeTensors(Group g) {
        List<Member> whole = g.members(Role.WHOLE_TENSOR);
        if (whole.isEmpty()) {
            return List.of();
        }
        List<List<String>> slots = new ArrayList<>();
        for (long j = 0; j < g.size(); j++) {
            slots.add(new ArrayList<>());
        }
        for (Member m : whole) {
            if (m.offset() >= g.size()) {
                throw LadyException.invalidInput("group '" + g.name() + "' (N = " + g.size() + "): whole tensor '"
                        + m.tensor() + "' belongs to neuron " + m.offset());
            }
            slots.get(Math.toIntExact(m.offset())).add(m.tensor());
        }
        return slots;
    }

    /**
     * The kernel passes of composed maps: per tensor, one full-axis index map per permuted axis. Most tensors need one
     * target in the first pass (axes 0 and 1); an axis beyond 1 is permuted through a view that folds the axes before
     * it into rows, in a pass of its own when the tensor also moves on axis 0 or 1.
     */
    private static List<List<TensorPermutation>> passes(StateDict state, Map<String, java.util.TreeMap<Integer, long[]>> maps,
            Map<String, java.util.TreeMap<Integer, Long>> grain) {
        List<TensorPermutation> first = new ArrayList<>();
        List<List<TensorPermutation>> later = new ArrayList<>();
        for (String name : state.names()) {
            java.util.TreeMap<Integer, long[]> axes = maps.get(name);
            if (axes == null) {
                continue;
            }
            HostTensor t = state.get(name);
            long[] shape = t.shape();
            int es = t.dtype().elementSize();
            long[] p0 = axes.get(0);
            long[] p1 = axes.get(1);
            if (p0 != null || p1 != null) {
                long b = p1 == null ? 1 : grain.get(name).get(1);
                first.add(TensorPermutation.of(name, t.address(), shape, es, p0, p1 == null ? null : coarse(p1, b), b, t));
            }
            int pass = 0;
            for (Map.Entry<Integer, long[]> e : axes.tailMap(2).entrySet()) {
                int a = e.getKey();
                long before = 1;
                long after = 1;
                for (int i = 0; i < shape.length; i++) {
                    if (i < a) {
                        before = Math.multiplyExact(before, shape[i]);
                    } else if (i > a) {
                        after = Math.multiplyExact(after, shape[i]);
                    }
                }
                long b = grain.get(name).get(a);
                TensorPermutation tp = TensorPermutation.of(name, t.address(), new long[] {before, shape[a], after}, es,
                        null, coarse(e.getValue(), b), b, t);
                if (p0 == null && p1 == null && pass == 0) {
                    first.add(tp);
                } else {
                    while (later.size() <= pass) {
                        later.add(new ArrayList<>());
                    }
                    later.get(pass).add(tp);
                }
                pass++;
            }
        }
        List<List<TensorPermutation>> out = new ArrayList<>();
        out.add(first);
        out.addAll(later);
        return out;
    }

    private static long[] identity(long n) {
        long[] m = new long[Math.toIntExact(n)];
        for (int i = 0; i < m.length; i++) {
            m[i] = i;
        }
        return m;
    }

    /** {@code map} after applying {@code p} to the range at {@code offset} in blocks: new[i] = old[g(i)]. */
    private static void compose(long[] map, long offset, long block, long[] p) {
        int off = Math.toIntExact(offset);
        int b = Math.toIntExact(block);
        long[] old = java.util.Arrays.copyOfRange(map, off, off + p.length * b);
        for (int j = 0; j < p.length; j++) {
            System.arraycopy(old, (int) p[j] * b, map, off + j * b, b);
        }
    }

    /** A full-axis map that moves aligned blocks of {@code b} indices, as a map over blocks. */
    private static long[] coarse(long[] map, long b) {
        if (b == 1) {
            return map;
        }
        long[] c = new long[Math.toIntExact(map.length / b)];
        for (int j = 0; j < c.length; j++) {
            c[j] = map[(int) (j * b)] / b;
        }
        return c;
    }
}
