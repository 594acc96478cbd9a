package lady.permutation;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Nested groups: a group whose every member lies inside ONE block of a member of an earlier group on the
 * same (tensor, axis), the same block index k for all of them (the query heads of a KV head: inside block
 * k of the KV heads' q rows and o columns; the value dimensions of KV head k: inside its v rows and the o
 * columns of its query heads). The earlier group is the <em>outer</em> group, k the inner group's
 * <em>position</em>; inner groups at other positions with the same members shifted by whole outer blocks
 * are its <em>siblings</em> (q_heads.0, q_heads.1, ...).
 *
 * An expert of a mixture of experts is a neuron whose tensors are whole ({@link Role#WHOLE_TENSOR}): the groups of its
 * units are nested in it, their siblings the same units of the other experts.
 *
 * <p><b>Convention.</b> {@link Permuter} composes permutations in spec order, outer first: an inner group's
 * permutation acts on the block at its position <em>after</em> the outer permutation moved the blocks. So
 * with outer permutation p and inner permutations q_k (k = position), inner neuron r of the block now at
 * position k is original neuron q_k[r] of original block p[k]. A secret ({@link Secret}) records q_k under
 * the name of the inner group at position k: relative to the positions after the outer permutation.
 *
 * <p><b>Resync frame.</b> A resync undoes the outer group first; position i then holds the block that the
 * attacker had at position inv(p)[i], still scrambled by q_{inv(p)[i]}. The permutation that the resync
 * of the inner group at position i must undo is therefore the secret of its sibling at position inv(p)[i]
 * ({@link #referenceFrame}); Psi of nested groups compares the match with that. (The outer group's members
 * that the inner groups scramble inside, the q and v rows of a KV head, are left out of its first solve by
 * the resync's evidence rule, {@code lady.resync.EvidenceContext#orderedBy}: the KV heads are matched on
 * their k rows, whose dimensions never move.)
 */
public final class Nesting {
    private final PermutationSpec spec;
    /** inner group -> its outer group and its position (block index) in it. */
    private final Map<String, Place> places = new HashMap<>();
    /** signature of a group's members -> group name (to find siblings). */
    private final Map<Set<Slot>, String> bySignature = new HashMap<>();

    private record Place(Group outer, long block) {}

    private record Slot(String tensor, int axis, long offset, long block) {}

    private Nesting(PermutationSpec spec) {
        this.spec = spec;
        List<Group> groups = spec.groups();
        for (Group g : groups) {
            bySignature.put(signature(g), g.name());
        }
        for (int b = 0; b < groups.size(); b++) {
            Group inner = groups.get(b);
            for (int a = b - 1; a >= 0; a--) { // the nearest enclosing earlier group
                Group outer = groups.get(a);
                long k = position(inner, outer);
                if (k >= 0) {
                    places.put(inner.name(), new Place(outer, k));
                    break;
                }
            }
        }
    }

    /** The nesting of {@code spec}'s groups. */
    public static Nesting of(PermutationSpec spec) {
        return new Nesting(spec);
    }

    /** The outer group of {@code group}, or null when it is not nested. */
    public String outer(String group) {
        Place p = places.get(group);
        return p == null ? null : p.outer().name();
    }

    /** The position of nested {@code group} in its outer group (block index), or -1. */
    public long position(String group) {
        Place p = places.get(group);
        return p == null ? -1 : p.block();
    }

    /**
     * The secret in the resync's frame (see the class comment): for each nested group whose outer group is
     * resynced too ({@code resynced}), the attacker's permutation of its sibling at position
     * inv(outer)[k]; other groups keep their own. Groups absent from {@code secret} mean the identity; a
     * nested group gets an entry when its sibling has one.
     *
     * @param secret   group -> applied permutation p (new j = old p[j]), attacker's frame
     * @param resynced the groups the resync solves (null: all)
     */
    public Map<String, long[]> referenceFrame(Map<String, long[]> secret, Set<String> resynced) {
        if (secret == null) {
            return null;
        }
        Map<String, long[]> out = new LinkedHashMap<>(secret);
        attackerGroups(secret, resynced).forEach((group, source) -> {
            long[] p = secret.get(source);
            if (p == null && secret.containsKey(group)) {
                p = identity(spec.group(group).orElseThrow().size());
            }
            if (p != null) {
                out.put(group, p);
            } else {
                out.remove(group);
            }
        });
        return out;
    }

    /**
     * For each nested group that the resync measures in another group's record ({@link #referenceFrame}), that group:
     * its sibling at position inv(outer)[k], with {@code moves} the attacker's permutations of the outer groups
     * (group -> p, new j = old p[j]) and {@code resynced} the groups the resync solves (null: all).
     */
    public Map<String, String> attackerGroups(Map<String, long[]> moves, Set<String> resynced) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Group g : spec.groups()) {
            String source = attackerGroup(g.name(), moves, resynced);
            if (!source.equals(g.name())) {
                out.put(g.name(), source);
            }
        }
        return out;
    }

    /** The group of the attacker's frame whose secret the resync of {@code group} undoes (itself when not nested). */
    private String attackerGroup(String group, Map<String, long[]> secret, Set<String> resynced) {
        return source(group, secret, resynced, true);
    }

    /**
     * The group whose block the position of {@code group} holds after its outer groups were moved, in
     * {@link Permuter}'s convention (outer first; new block k = old block p[k]) by {@code perms} (group -> p,
     * each outer group moved by the permutation of its own source): the sibling at p[k], through nested outer
     * groups recursively; {@code group} itself when it is not nested or its outer group is not moved. So a
     * permutation computed on each group of a model as it is (a canonical order) is applied to the right block
     * by giving a nested group the permutation of its source.
     */
    public String sourceAfter(String group, Map<String, long[]> perms) {
        return source(group, perms, null, false);
    }

    /**
     * The sibling whose block ends at the position of {@code group} ({@code inverse}: at block inv(p)[k], the
     * resync's frame; else p[k], Permuter's), p the permutation of the outer group's own source in {@code perms};
     * only outer groups in {@code moved} count (null: all).
     */
    private String source(String group, Map<String, long[]> perms, Set<String> moved, boolean inverse) {
        Place place = places.get(group);
        if (place == null || (moved != null && !moved.contains(place.outer().name()))) {
            return group;
        }
        String outerSource = source(place.outer().name(), perms, moved, inverse);
        Group outer = spec.group(outerSource).orElseThrow();
        long[] p = perms.get(outerSource);
        long from = place.block();
        long to = from;
        if (p != null && !inverse) {
            to = p[Math.toIntExact(from)];
        } else if (p != null) {
            for (int j = 0; j < p.length; j++) {
                if (p[j] == from) {
                    to = j; // inv(p)[from]
                }
            }
        }
        // the inner group shifted to block `to` of the outer group's counterpart in the attacker's frame
        Group inner = spec.group(group).orElseThrow();
        Group originalOuter = place.outer();
        String sibling = bySignature.get(shifted(inner, originalOuter, outer, from, to));
        return sibling == null ? group : sibling;
    }

    /** The member slots of {@code inner} moved from block {@code from} of {@code outerAt} to block {@code to} of {@code outerTo}. */
    private static Set<Slot> shifted(Group inner, Group outerAt, Group outerTo, long from, long to) {
        Set<Slot> s = new java.util.HashSet<>();
        for (Member m : inner.members()) {
            Member o = enclosing(outerAt, m, inner.size());
            if (o != null && o.role() == Role.WHOLE_TENSOR) { // the same place in the tensors of neuron `to`
                Member o2 = wholeCounterpart(outerAt, o, outerTo, to);
                if (o2 == null) {
                    return Set.of();
                }
                s.add(new Slot(o2.tensor(), m.axis(), m.offset(), m.block()));
                continue;
            }
            Member o2 = o == null ? null : counterpart(outerAt, o, outerTo);
            if (o == null || o2 == null) {
                return Set.of();
            }
            long within = m.offset() - (o.offset() + from * o.block());
            s.add(new Slot(m.tensor(), m.axis(), o2.offset() + to * o2.block() + within, m.block()));
        }
        return s;
    }

    /**
     * The member of {@code outerTo} that plays {@code o}'s part in {@code outerAt}: the one at the same place in its
     * member list (a tensor may hold a group in several ranges of one axis: Phi-3's packed q, k and v rows), else the
     * first on the same (tensor, axis); null when there is none.
     */
    private static Member counterpart(Group outerAt, Member o, Group outerTo) {
        int at = outerAt.members().indexOf(o);
        if (at >= 0 && at < outerTo.members().size()) {
            Member same = outerTo.members().get(at);
            if (same.tensor().equals(o.tensor()) && same.axis() == o.axis()) {
                return same;
            }
        }
        return outerTo.members().stream().filter(x -> x.tensor().equals(o.tensor()) && x.axis() == o.axis()).findFirst()
                .orElse(null);
    }

    /**
     * The whole tensor of neuron {@code to} in {@code outerTo} at the place {@code o} has among its neuron's whole
     * tensors in {@code outerAt} (an expert's up weight -> another expert's up weight), or null.
     */
    private static Member wholeCounterpart(Group outerAt, Member o, Group outerTo, long to) {
        List<Member> at = outerAt.members(Role.WHOLE_TENSOR).stream().filter(x -> x.offset() == o.offset()).toList();
        List<Member> there = outerTo.members(Role.WHOLE_TENSOR).stream().filter(x -> x.offset() == to).toList();
        int k = at.indexOf(o);
        return k >= 0 && k < there.size() ? there.get(k) : null;
    }

    private static Set<Slot> signature(Group g) {
        Set<Slot> s = new java.util.HashSet<>();
        for (Member m : g.members()) {
            s.add(new Slot(m.tensor(), m.axis(), m.offset(), m.block()));
        }
        return s;
    }

    /** The member of {@code outer} on the same (tensor, axis) whose range holds {@code m}'s, or null. */
    private static Member enclosing(Group outer, Member m, long n) {
        for (Member o : outer.members()) {
            if (contains(o, outer.size(), m, n)) {
                return o;
            }
        }
        return null;
    }

    /** The block index of {@code outer} that every member of {@code inner} lies in, or -1 when it is not nested in it. */
    private static long position(Group inner, Group outer) {
        long k = -1;
        for (Member m : inner.members()) {
            Member o = enclosing(outer, m, inner.size());
            if (o == null) {
                return -1;
            }
            long block = o.role() == Role.WHOLE_TENSOR ? o.offset() : (m.offset() - o.offset()) / o.block();
            if (k >= 0 && block != k) {
                return -1;
            }
            k = block;
        }
        return k;
    }

    /** Whether member {@code in} (of a group of {@code n}) lies inside one block of member {@code out} (of {@code outN}). */
    private static boolean contains(Member out, long outN, Member in, long n) {
        if (in.role() == Role.WHOLE_TENSOR) {
            return false;
        }
        if (out.role() == Role.WHOLE_TENSOR) { // every range of the tensor lies inside its neuron
            return out.tensor().equals(in.tensor()) && in.role() != Role.WHOLE_TENSOR;
        }
        if (!out.tensor().equals(in.tensor()) || out.axis() != in.axis()) {
            return false;
        }
        long start = in.offset();
        long end = in.offset() + n * in.block();
        if (start < out.offset() || end > out.offset() + outN * out.block()) {
            return false;
        }
        return (start - out.offset()) / out.block() == (end - 1 - out.offset()) / out.block();
    }

    private static long[] identity(long n) {
        long[] p = new long[Math.toIntExact(n)];
        for (int i = 0; i < p.length; i++) {
            p[i] = i;
        }
        return p;
    }

    /** Every nested group with its outer group, in spec order (for reports and tests). */
    public Map<String, String> outers() {
        Map<String, String> out = new LinkedHashMap<>();
        for (Group g : spec.groups()) {
            if (places.containsKey(g.name())) {
                out.put(g.name(), places.get(g.name()).outer().name());
            }
        }
        return out;
    }
}
