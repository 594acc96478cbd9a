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
 * next ones within t finds every pair within t (each candidate pair is then checked in double precision).
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
        int n = d.n;
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
        Integer[] order = nonzero.toArray(Integer[]::new);
        Arrays.sort(order, (a, b) -> Double.compare(proj[a], proj[b]));
        boolean homogeneous = d.rule.homogeneous();
        for (int x = 0; x < order.length; x++) {
            double[] va = null;
            for (int y = x + 1; y < order.length && proj[order[y]] - proj[order[x]] <= t; y++) {
                int a = order[x];
                int b = order[y];
                if (va == null) {
                    va = d.incoming(a);
                }
                double[] vb = d.incoming(b);
                double dist2 = 0;
                for (int i = 0; i < dim; i++) {
                    double e = va[i] / norm[a] - vb[i] / norm[b];
                    dist2 += e * e;
                }
                boolean same = dist2 <= t * t && (homogeneous || Math.abs(norm[b] / norm[a] - 1) <= t);
                if (same) {
                    union(parent, a, b);
                }
            }
        }
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
