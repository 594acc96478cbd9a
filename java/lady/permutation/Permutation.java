package lady.permutation;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import lady.LadyException;
import lady.kernels.Kernels;

/**
 * An immutable permutation of 0..n-1 (method.md section 2). <b>Applying</b> {@code p} to a group of
 * neurons makes new neuron {@code j} old neuron {@code p[j]}: a producer weight becomes
 * {@code W[p]}, a consumer weight {@code V[:, p]}.
 *
 * <p>Every way in validates that each index of 0..n-1 appears exactly once, with a clear message
 * otherwise. Equality is by value.
 */
public final class Permutation {
    private final int[] p;
    private volatile long[] asLong;

    private Permutation(int[] p) {
        this.p = p;
    }

    /** The permutation with {@code p[j] = indices[j]} (copied and validated). */
    public static Permutation of(int... indices) {
        if (indices == null) {
            throw LadyException.invalidInput("permutation is missing (null)");
        }
        return of(Arrays.stream(indices).asLongStream().toArray());
    }

    /** The permutation with {@code p[j] = indices[j]} (copied and validated; sizes up to 2^31 - 1). */
    public static Permutation of(long... indices) {
        Kernels.validatePermutation(indices);
        int[] copy = new int[indices.length];
        for (int j = 0; j < indices.length; j++) {
            copy[j] = (int) indices[j];
        }
        return new Permutation(copy);
    }

    /**
     * Whether {@code indices} holds every index of 0..n-1 exactly once, n its length: what {@link #of(long...)}
     * accepts ({@link Kernels#validatePermutation}, the one definition), for a caller that has a way around a match
     * that is not one (argmax duplicates).
     */
    public static boolean isPermutation(long[] indices) {
        try {
            Kernels.validatePermutation(indices);
            return true;
        } catch (LadyException e) {
            return false;
        }
    }

    /** The identity of size {@code n}. */
    public static Permutation identity(int n) {
        if (n < 0) {
            throw LadyException.invalidInput("permutation size must be >= 0, got " + n);
        }
        int[] p = new int[n];
        for (int j = 0; j < n; j++) {
            p[j] = j;
        }
        return new Permutation(p);
    }

    /**
     * A uniformly random permutation of size {@code n}, a pure function of {@code seed}: the same
     * seed gives the same permutation on every machine and Java version (Fisher-Yates driven by
     * {@link SplittableRandom}, whose algorithm is specified).
     */
    public static Permutation random(int n, long seed) {
        Permutation id = identity(n);
        int[] p = id.p;
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int k = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[k];
            p[k] = t;
        }
        return id;
    }

    /** Size n. */
    public int size() {
        return p.length;
    }

    /** {@code p[j]}: the old index of new neuron {@code j}. */
    public int get(int j) {
        return p[j];
    }

    /** The indices as a new int array. */
    public int[] toArray() {
        return p.clone();
    }

    /** The indices as a long array, the kernels' form (shared, do not modify). */
    public long[] longIndices() {
        long[] a = asLong;
        if (a == null) {
            a = new long[p.length];
            for (int j = 0; j < p.length; j++) {
                a[j] = p[j];
            }
            asLong = a;
        }
        return a;
    }

    /** The inverse {@code q}: {@code q[p[j]] = j}; applying {@code q} after {@code p} restores the tensors. */
    public Permutation inverse() {
        int[] q = new int[p.length];
        for (int j = 0; j < p.length; j++) {
            q[p[j]] = j;
        }
        return new Permutation(q);
    }

    /**
     * The permutation equivalent to applying {@code this} first and then {@code next}: applying
     * {@code this} gives {@code a[j] = x[this[j]]}, applying {@code next} to that gives
     * {@code b[j] = a[next[j]] = x[this[next[j]]]}, so the result is {@code r[j] = this[next[j]]}.
     * In particular {@code p.then(p.inverse())} and {@code p.inverse().then(p)} are the identity.
     */
    public Permutation then(Permutation next) {
        if (next.size() != p.length) {
            throw LadyException.invalidInput(String.format("cannot compose permutations of sizes %d and %d", p.length,
                    next.size()));
        }
        int[] r = new int[p.length];
        for (int j = 0; j < p.length; j++) {
            r[j] = p[next.p[j]];
        }
        return new Permutation(r);
    }

    public boolean isIdentity() {
        for (int j = 0; j < p.length; j++) {
            if (p[j] != j) {
                return false;
            }
        }
        return true;
    }

    /** JSON form: the list of indices ({@code [p[0], p[1], ...]}), written by {@link lady.report.Json}. */
    public List<Integer> toJson() {
        return Arrays.stream(p).boxed().toList();
    }

    /**
     * Reads the JSON form (a list of integers as {@link lady.report.Json#parse} returns it).
     *
     * @param what names the value in error messages (e.g. "group 'features.17'")
     */
    public static Permutation fromJson(Object json, String what) {
        if (!(json instanceof List<?> list)) {
            throw LadyException.invalidInput(what + ": expected a list of indices");
        }
        long[] v = new long[list.size()];
        for (int j = 0; j < v.length; j++) {
            Object o = list.get(j);
            if (!(o instanceof Number num) || num.doubleValue() != Math.rint(num.doubleValue())) {
                throw LadyException.invalidInput(what + ": entry " + j + " is not an integer: " + o);
            }
            v[j] = num.longValue();
        }
        try {
            return of(v);
        } catch (LadyException e) {
            throw LadyException.invalidInput(what + ": " + e.getMessage());
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Permutation other && Arrays.equals(p, other.p);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(p);
    }

    @Override
    public String toString() {
        if (p.length <= 16) {
            return "Permutation" + Arrays.toString(p);
        }
        return "Permutation[size " + p.length + ": " + Arrays.toString(Arrays.copyOf(p, 8)).replace("]", ", ...]");
    }
}
