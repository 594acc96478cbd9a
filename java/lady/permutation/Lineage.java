package lady.permutation;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;

/**
 * Where each neuron of a structurally attacked group comes from (the structural part of a {@link Secret}):
 * after any chain of rescalings, dummy pairs, splits and permutations, neuron {@code j} of the attacked
 * group descends from original neuron {@code origin[j]} ({@code -1} for a dummy), its incoming weights are
 * {@code factor[j]} times the original's, and {@code kind[j]} says how it came to be. A plain permutation
 * {@code p} is the lineage {@code origin = p}, every factor 1, every kind original.
 *
 * @param originalSize neurons of the group before the attack
 * @param origin       per attacked neuron, the original neuron it descends from, or -1
 * @param factor       per attacked neuron, the factor of its incoming weights relative to the original's
 *                     (1 for a dummy)
 * @param kind         per attacked neuron, what it is
 */
public record Lineage(int originalSize, int[] origin, double[] factor, Kind[] kind) {

    /** What an attacked neuron is. */
    public enum Kind {
        /** The original neuron (possibly rescaled and moved). */
        ORIGINAL,
        /** A copy of an original neuron sharing its outgoing weights (a split). */
        SPLIT,
        /** One of a pair of neurons with identical incoming weights whose outgoing weights cancel. */
        DUMMY;

        String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public Lineage {
        if (origin.length != factor.length || origin.length != kind.length) {
            throw new IllegalArgumentException("origin, factor and kind must have one entry per neuron");
        }
        origin = origin.clone();
        factor = factor.clone();
        kind = kind.clone();
    }

    /** The untouched group of {@code n} neurons. */
    public static Lineage identity(int n) {
        int[] o = new int[n];
        double[] f = new double[n];
        Kind[] k = new Kind[n];
        for (int i = 0; i < n; i++) {
            o[i] = i;
            f[i] = 1;
            k[i] = Kind.ORIGINAL;
        }
        return new Lineage(n, o, f, k);
    }

    /** Neurons of the attacked group. */
    public int size() {
        return origin.length;
    }

    /** After rescaling neuron j by {@code a[j]} (indexed by attacked neuron). */
    public Lineage scaled(double[] a) {
        if (a.length != size()) {
            throw new IllegalArgumentException("one factor per neuron expected");
        }
        double[] f = factor.clone();
        for (int j = 0; j < f.length; j++) {
            f[j] *= a[j];
        }
        return new Lineage(originalSize, origin, f, kind);
    }

    /** After appending neurons: {@code sources[k]} is the attacked neuron copied (split) or -1 (dummy). */
    public Lineage appended(int[] sources, Kind appendedKind) {
        int n = size() + sources.length;
        int[] o = java.util.Arrays.copyOf(origin, n);
        double[] f = java.util.Arrays.copyOf(factor, n);
        Kind[] k = java.util.Arrays.copyOf(kind, n);
        for (int i = 0; i < sources.length; i++) {
            int s = sources[i];
            o[size() + i] = s < 0 ? -1 : origin[s];
            f[size() + i] = s < 0 ? 1 : factor[s];
            k[size() + i] = appendedKind;
        }
        return new Lineage(originalSize, o, f, k);
    }

    /** After applying permutation {@code p} (new neuron j = old neuron p[j]). */
    public Lineage permuted(Permutation p) {
        if (p.size() != size()) {
            throw new IllegalArgumentException("permutation of size " + p.size() + " for " + size() + " neurons");
        }
        int[] o = new int[size()];
        double[] f = new double[size()];
        Kind[] k = new Kind[size()];
        for (int j = 0; j < o.length; j++) {
            int s = p.get(j);
            o[j] = origin[s];
            f[j] = factor[s];
            k[j] = kind[s];
        }
        return new Lineage(originalSize, o, f, k);
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("original_size", originalSize);
        m.put("origin", origin);
        m.put("factor", factor);
        List<String> k = new ArrayList<>();
        for (Kind x : kind) {
            k.add(x.key());
        }
        m.put("kind", k);
        return m;
    }

    static Lineage fromJson(Object v, String what) {
        if (!(v instanceof Map<?, ?> m) || !(m.get("original_size") instanceof Number n)
                || !(m.get("origin") instanceof List<?> o) || !(m.get("factor") instanceof List<?> f)
                || !(m.get("kind") instanceof List<?> k)) {
            throw LadyException.invalidInput(what + ": expected {\"original_size\", \"origin\", \"factor\", \"kind\"}");
        }
        int size = o.size();
        if (f.size() != size || k.size() != size || n.intValue() < 0) {
            throw LadyException.invalidInput(what + ": origin, factor and kind must have one entry per neuron");
        }
        int[] origin = new int[size];
        double[] factor = new double[size];
        Kind[] kind = new Kind[size];
        for (int j = 0; j < size; j++) {
            if (!(o.get(j) instanceof Number on) || on.intValue() < -1 || on.intValue() >= n.intValue()) {
                throw LadyException.invalidInput(what + ": origin " + j + " must be -1 or an original neuron < "
                        + n.intValue() + ", got " + o.get(j));
            }
            if (!(f.get(j) instanceof Number fn) || !(fn.doubleValue() > 0) || Double.isInfinite(fn.doubleValue())) {
                throw LadyException.invalidInput(what + ": factor " + j + " is not a positive number: " + f.get(j));
            }
            Kind kj = null;
            for (Kind x : Kind.values()) {
                if (x.key().equals(k.get(j))) {
                    kj = x;
                }
            }
            if (kj == null) {
                throw LadyException.invalidInput(what + ": kind " + j + " must be original, split or dummy, got " + k.get(j));
            }
            origin[j] = on.intValue();
            factor[j] = fn.doubleValue();
            kind[j] = kj;
        }
        return new Lineage(n.intValue(), origin, factor, kind);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Lineage l && l.originalSize == originalSize && java.util.Arrays.equals(l.origin, origin)
                && java.util.Arrays.equals(l.factor, factor) && java.util.Arrays.equals(l.kind, kind);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(originalSize, java.util.Arrays.hashCode(origin), java.util.Arrays.hashCode(factor));
    }
}
