package lady.resync;

import java.util.Arrays;
import java.util.PriorityQueue;

/**
 * The maximum-weight perfect matching of a sparse bipartite graph: n reference neurons (rows), n suspect
 * neurons (columns), and for each row a few candidate columns with their similarity. What the prefilter
 * solves instead of an n x n assignment (a 14336-unit MLP's dense matrix alone is 822 MB).
 *
 * <p>Successive shortest augmenting paths with potentials (the Hungarian method with Dijkstra over the
 * candidate edges only): costs are the negated similarities; row and column potentials keep every
 * reduced cost non-negative and matched edges at zero, so each row is added along a shortest path of
 * reduced costs, and the matching stays optimal for the rows added so far. A near-permutation (each
 * row's best column distinct) costs one heap pop per row. Exact in double precision.
 */
final class SparseAssignment {
    private SparseAssignment() {}

    /**
     * perm[i] = the column of row i in a maximum-weight perfect matching using only the edges
     * (i, columns[i][c]) of weight values[i][c]; null when those edges hold no perfect matching.
     */
    static int[] solve(int n, int[][] columns, double[][] values) {
        double[] u = new double[n];
        double[] v = new double[n];
        int[] colOf = new int[n]; // row -> column
        int[] rowOf = new int[n]; // column -> row
        Arrays.fill(colOf, -1);
        Arrays.fill(rowOf, -1);
        for (int i = 0; i < n; i++) {
            double min = Double.POSITIVE_INFINITY;
            for (double x : values[i]) {
                min = Math.min(min, -x);
            }
            if (columns[i].length == 0) {
                return null;
            }
            u[i] = min; // reduced costs -x - u[i] - v[j] >= 0
        }
        double[] distCol = new double[n];
        double[] distRow = new double[n];
        int[] pred = new int[n];
        boolean[] settled = new boolean[n];
        int[] touchedCols = new int[n];
        int[] settledRows = new int[n];
        Arrays.fill(distCol, Double.POSITIVE_INFINITY);
        for (int s = 0; s < n; s++) {
            int touched = 0;
            int rowsSettled = 0;
            PriorityQueue<double[]> heap = new PriorityQueue<>((a, b) -> Double.compare(a[0], b[0]));
            distRow[s] = 0;
            settledRows[rowsSettled++] = s;
            touched = relax(s, 0, columns, values, u, v, distCol, pred, heap, touchedCols, touched);
            int end = -1;
            double total = 0;
            while (!heap.isEmpty()) {
                double[] top = heap.poll();
                int j = (int) top[1];
                if (settled[j] || top[0] > distCol[j]) {
                    continue;
                }
                settled[j] = true;
                if (rowOf[j] < 0) {
                    end = j;
                    total = distCol[j];
                    break;
                }
                int i = rowOf[j];
                distRow[i] = distCol[j];
                settledRows[rowsSettled++] = i;
                touched = relax(i, distRow[i], columns, values, u, v, distCol, pred, heap, touchedCols, touched);
            }
            if (end < 0) {
                return null; // no augmenting path: the candidate edges hold no perfect matching
            }
            for (int k = 0; k < rowsSettled; k++) {
                int i = settledRows[k];
                u[i] += total - distRow[i];
            }
            for (int k = 0; k < touched; k++) {
                int j = touchedCols[k];
                if (settled[j]) {
                    v[j] -= total - distCol[j];
                }
            }
            for (int j = end; ; ) { // augment along the predecessors
                int i = pred[j];
                int next = colOf[i];
                colOf[i] = j;
                rowOf[j] = i;
                if (i == s) {
                    break;
                }
                j = next;
            }
            for (int k = 0; k < touched; k++) {
                int j = touchedCols[k];
                distCol[j] = Double.POSITIVE_INFINITY;
                settled[j] = false;
            }
        }
        return colOf;
    }

    /** Relaxes the edges of row i (distance d): tentative column distances, predecessors, heap entries. */
    private static int relax(int i, double d, int[][] columns, double[][] values, double[] u, double[] v, double[] distCol,
            int[] pred, PriorityQueue<double[]> heap, int[] touchedCols, int touched) {
        for (int c = 0; c < columns[i].length; c++) {
            int j = columns[i][c];
            double reduced = Math.max(0, -values[i][c] - u[i] - v[j]); // >= 0 up to rounding
            double nd = d + reduced;
            if (nd < distCol[j]) {
                if (distCol[j] == Double.POSITIVE_INFINITY) {
                    touchedCols[touched++] = j;
                }
                distCol[j] = nd;
                pred[j] = i;
                heap.add(new double[] {nd, j});
            }
        }
        return touched;
    }
}
