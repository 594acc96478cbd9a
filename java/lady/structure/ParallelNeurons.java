package lady.structure;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Groups a layer's neurons into clusters of positively parallel incoming maps ({@link NeuronGroup#incoming}):
 * neurons that compute the same thing up to a positive factor r (exactly 1 when the activation after them is
 * not positively homogeneous), such as the copies of a split neuron or the two halves of a dummy pair, each
 * possibly rescaled. A cluster can be merged into one neuron whose consumer columns are the sum of its
 * members' columns, each times its ratio to the representative ({@code r_k = |v_k| / |v_rep|}, the
 * representative being the cluster's lowest index). A cluster whose merged columns vanish (a dummy pair
 * cancels) does nothing, and neither does a neuron with all-zero columns.
 *
 * <p>Finding them is exact and fast: every unit vector is projected on one fixed direction; two unit vectors
 * at distance at most t project at most t apart, so sorting the projections and comparing each neuron with the
 * next ones within t finds every pair within t (each candidate pair is then checked in double precision). When
 * that window holds most pairs (half-precision tolerances on long vectors), the candidates come from the native
 * kernel's cosines of all pairs instead ({@link #byCosines}), with the same exact check: the same clusters.
 * Neurons whose incoming map is entirely zero compute the same constant: they form one cluster (ratio 1).
 */
public final class ParallelNeurons {
    private ParallelNeurons() {}

    /** The fixed direction's seed: the same clusters on every run. */
    private static final long DIRECTION_SEED = 0x5eedL;

    /**
     * One cluster.
     *
     * @param members   the neurons, representative (lowest index) first
     * @param ratios    each member's ratio to the representative (1 for the representative)
     * @param vanishing whether its merged columns vanish (it does nothing)
     */
    public record Cluster(int[] members, double[] ratios, boolean vanishing) {
        /** The lowest index. */
        public int representative() {
            return members[0];
        }
    }

    /** The clusters of {@code d}, ordered by representative; {@code t} is the tolerance ({@link Tolerance}). */
    public static List<Cluster> find(NeuronGroup d, double t) {
        return find(d, t, GRAM_PAIRS_PER_NEURON, null);
    }

    /**
     * {@link #find(NeuronGroup, double)} when the partition of the incoming maps is known already ({@code known[j]}:
     * neuron j's class; null: search it): what is left of an earlier search after an edit that kept, dropped or
     * merged whole clusters and left every kept neuron's incoming map as it was (the clusters of the rest are then
     * the same, and only their ratios and whether they vanish, which read the consumers, are computed again).
     */
    static List<Cluster> find(NeuronGroup d, double t, int[] known) {
        return find(d, t, GRAM_PAIRS_PER_NEURON, known);
    }

    /** {@link #find(NeuronGroup, double)} with another switch to the cosines' candidates ({@link #byCosines}). */
    static List<Cluster> find(NeuronGroup d, double t, long gramPairsPerNeuron) {
        return find(d, t, gramPairsPerNeuron, null);
    }

    private static List<Cluster> find(NeuronGroup d, double t, long gramPairsPerNeuron, int[] known) {
        int n = d.n;
        if (known != null && known.length != n) {
            throw new lady.LadyException(lady.LadyException.Kind.INTERNAL, "group '" + d.group.name() + "': "
                    + known.length + " known classes for " + n + " neurons");
        }
        int dim = d.incomingLength();
        double[] direction = new double[dim];
        SplittableRandom rng = new SplittableRandom(DIRECTION_SEED);
        for (int i = 0; i < dim; i++) {
            direction[i] = rng.nextDouble() * 2 - 1;
        }
        double dn = Slices.norm(direction);
        double[] norm = new double[n];
        double[] proj = new double[n];
        List<Integer> nonzero = new ArrayList<>();
        int[] parent = new int[n];
        int firstZero = -1;
        for (int j = 0; j < n; j++) {
            parent[j] = j;
            double[] sd = d.incomingSquaresAndDot(j, direction);
            norm[j] = Math.sqrt(sd[0]);
            if (norm[j] == 0) {
                if (firstZero < 0) {
                    firstZero = j;
                } else {
                    parent[j] = firstZero;
                }
            } else {
                proj[j] = sd[1] / (norm[j] * dn);
                nonzero.add(j);
            }
        }
        boolean homogeneous = d.rule.homogeneous();
        if (known != null) {
            java.util.Map<Integer, Integer> first = new java.util.HashMap<>();
            for (int j = 0; j < n; j++) {
                int self = j;
                parent[j] = first.computeIfAbsent(known[j], c -> self);
            }
            return clusters(d, parent, norm, t, homogeneous);
        }
        Integer[] order = nonzero.toArray(Integer[]::new);
        Arrays.sort(order, (a, b) -> Double.compare(proj[a], proj[b]));
        long window = 0; // the pairs the sorted projection leaves to check
        for (int x = 0, y = 0; x < order.length; x++) {
            y = Math.max(y, x + 1);
            while (y < order.length && proj[order[y]] - proj[order[x]] <= t) {
                y++;
            }
            window += y - x - 1;
        }
        if (window > gramPairsPerNeuron * order.length) {
            byCosines(d, order, norm, t, homogeneous, parent);
        } else {
            for (int x = 0; x < order.length; x++) {
                double[] va = null;
                for (int y = x + 1; y < order.length && proj[order[y]] - proj[order[x]] <= t; y++) {
                    if (va == null) {
                        va = d.incoming(order[x]);
                    }
                    check(order[x], order[y], va, d.incoming(order[y]), norm, t, homogeneous, parent);
                }
            }
        }
        return clusters(d, parent, norm, t, homogeneous);
    }

    /** The clusters of the union-find forest {@code parent}, with their ratios and whether they vanish. */
    private static List<Cluster> clusters(NeuronGroup d, int[] parent, double[] norm, double t, boolean homogeneous) {
        int n = d.n;
        List<List<Integer>> groups = new ArrayList<>();
        int[] index = new int[n];
        Arrays.fill(index, -1);
        for (int j = 0; j < n; j++) {
            int r = root(parent, j);
            if (index[r] < 0) {
                index[r] = groups.size();
                groups.add(new ArrayList<>());
            }
            groups.get(index[r]).add(j);
        }
        double[] outNorm = d.outgoingNorms();
        List<Cluster> out = new ArrayList<>();
        for (List<Integer> g : groups) {
            int[] members = g.stream().mapToInt(Integer::intValue).sorted().toArray();
            int rep = members[0];
            double[] ratios = new double[members.length];
            double parts = 0;
            for (int k = 0; k < members.length; k++) {
                int m = members[k];
                ratios[k] = norm[rep] == 0 || !homogeneous ? 1 : norm[m] / norm[rep];
                parts += ratios[k] * outNorm[m];
            }
            double merged;
            if (members.length == 1) {
                merged = outNorm[rep];
            } else {
                double[] sum = new double[d.outgoingLength()];
                for (int k = 0; k < members.length; k++) {
                    double[] o = d.outgoing(members[k]);
                    for (int i = 0; i < sum.length; i++) {
                        sum[i] += ratios[k] * o[i];
                    }
                }
                merged = Slices.norm(sum);
            }
            boolean vanishing = merged == 0 || (members.length > 1 && merged <= t * parts);
            out.add(new Cluster(members, ratios, vanishing));
        }
        return out;
    }

    /**
     * Past this many pairs per neuron left by the sorted projection, the candidates come from the cosines of all
     * pairs instead ({@link #byCosines}). A projection on one direction spreads unit vectors of dimension D over
     * about 1 / sqrt(D): when the tolerance is wider (half precision: 0.25 for bfloat16, against 0.011 for the 8192
     * values of an LLM's MLP unit), every pair falls in the window and the pair-by-pair check in double, n^2 D
     * operations one vector at a time, took hours on 14336 units.
     */
    static final int GRAM_PAIRS_PER_NEURON = 64;

    /**
     * Slack on the float32 cosines of {@link #byCosines}, far above their rounding (the kernel sums at most 512 +
     * D / 256 products in float32 per entry: under 1e-4 for D up to 200,000): no pair within the tolerance is missed,
     * and every candidate is checked exactly.
     */
    private static final double COSINE_SLACK = 1e-3;

    /** Rows of unit vectors per call of the cosine kernel in {@link #byCosines}. */
    private static final int COSINE_BLOCK = 1024;

    /**
     * The candidates of {@link #find} from the float32 cosines of every pair of the nonzero neurons (the native
     * kernel, the upper triangle in row blocks): a pair within distance t of unit vectors has cosine at least
     * 1 - t^2 / 2; each pair above that, less {@link #COSINE_SLACK}, is checked as the sorted projection's pairs are
     * (in double). The same clusters, at the kernel's speed.
     */
    private static void byCosines(NeuronGroup d, Integer[] nonzero, double[] norm, double t, boolean homogeneous,
            int[] parent) {
        int m = nonzero.length;
        int dim = d.incomingLength();
        lady.tensor.HostTensor bf16 = d.bfloat16Incoming() ? bfloat16Rows(d, nonzero) : null;
        double[] inv = new double[m];
        for (int r = 0; r < m; r++) {
            inv[r] = 1 / norm[nonzero[r]];
        }
        lady.tensor.HostTensor unit = null;
        if (bf16 == null) {
            unit = lady.tensor.HostTensor.allocate(lady.tensor.DType.FLOAT32, m, dim);
            float[] row = new float[dim];
            for (int r = 0; r < m; r++) {
                double[] v = d.incoming(nonzero[r]);
                for (int i = 0; i < dim; i++) {
                    row[i] = (float) (v[i] * inv[r]);
                }
                unit.bytes(4L * r * dim, 4 * dim).asFloatBuffer().put(row); // one window per row: any size
            }
        }
        double cut = 1 - t * t / 2 - COSINE_SLACK;
        lady.tensor.HostTensor out = lady.tensor.HostTensor.allocate(lady.tensor.DType.FLOAT32,
                (long) Math.min(COSINE_BLOCK, m) * m);
        java.nio.FloatBuffer outs = out.floats();
        float[] cos = new float[Math.min(COSINE_BLOCK, m) * m];
        for (int r0 = 0; r0 < m; r0 += COSINE_BLOCK) {
            int rows = Math.min(COSINE_BLOCK, m - r0);
            int cols = m - r0;
            // the block's rows against every row from the block on
            if (bf16 != null) {
                long at = bf16.address() + 2L * r0 * dim;
                lady.kernels.Kernels.cosineSimilarityBf16(lady.kernels.Backend.CPU, at, at, rows, cols, dim,
                        Arrays.copyOfRange(inv, r0, r0 + rows), Arrays.copyOfRange(inv, r0, m), out.address());
            } else {
                long at = unit.address() + 4L * r0 * dim;
                lady.kernels.Kernels.cosineSimilarity(lady.kernels.Backend.CPU, at, at, rows, cols, dim, false,
                        out.address());
            }
            outs.get(0, cos, 0, rows * cols);
            for (int x = 0; x < rows; x++) {
                double[] va = null;
                for (int y = x + 1; y < cols; y++) {
                    if (cos[x * cols + y] >= cut) {
                        if (va == null) {
                            va = d.incoming(nonzero[r0 + x]);
                        }
                        check(nonzero[r0 + x], nonzero[r0 + y], va, d.incoming(nonzero[r0 + y]), norm, t, homogeneous,
                                parent);
                    }
                }
            }
        }
        java.lang.ref.Reference.reachabilityFence(unit);
        java.lang.ref.Reference.reachabilityFence(bf16);
        java.lang.ref.Reference.reachabilityFence(out);
    }

    /**
     * The incoming maps of {@code nonzero} as bfloat16 rows (m x dim raw values) when every value is a bfloat16 value
     * (a group stored as bfloat16 whose maps are its stored rows and biases), else null: the bfloat16 kernel's products
     * of such values are exact in float32, so its cosines are the float32 kernel's up to summation order, at twice
     * the rate (an LLM's 16k-unit MLP: 2.2 TFLOP per search).
     */
    private static lady.tensor.HostTensor bfloat16Rows(NeuronGroup d, Integer[] nonzero) {
        int m = nonzero.length;
        int dim = d.incomingLength();
        lady.tensor.HostTensor rows = lady.tensor.HostTensor.allocate(lady.tensor.DType.BFLOAT16, m, dim);
        short[] row = new short[dim];
        for (int r = 0; r < m; r++) {
            double[] v = d.incoming(nonzero[r]);
            for (int i = 0; i < dim; i++) {
                int bits = Float.floatToRawIntBits((float) v[i]);
                if ((bits & 0xffff) != 0 || (float) v[i] != v[i]) { // not a bfloat16 value after all
                    rows.memory().close();
                    return null;
                }
                row[i] = (short) (bits >>> 16);
            }
            rows.bytes(2L * r * dim, 2 * dim).asShortBuffer().put(row);
        }
        return rows;
    }

    /** Joins a and b (incoming maps va, vb) when their unit vectors are within t (and, unless homogeneous, their norms). */
    private static void check(int a, int b, double[] va, double[] vb, double[] norm, double t, boolean homogeneous,
            int[] parent) {
        double dist2 = 0;
        for (int i = 0; i < va.length; i++) {
            double e = va[i] / norm[a] - vb[i] / norm[b];
            dist2 += e * e;
        }
        if (dist2 <= t * t && (homogeneous || Math.abs(norm[b] / norm[a] - 1) <= t)) {
            union(parent, a, b);
        }
    }

    private static int root(int[] parent, int j) {
        while (parent[j] != j) {
            parent[j] = parent[parent[j]];
            j = parent[j];
        }
        return j;
    }

    private static void union(int[] parent, int a, int b) {
        int ra = root(parent, a);
        int rb = root(parent, b);
        if (ra != rb) {
            parent[Math.max(ra, rb)] = Math.min(ra, rb);
        }
    }
}
