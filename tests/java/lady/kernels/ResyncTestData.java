package lady.kernels;

import java.util.SplittableRandom;

import lady.permutation.Permutation;

/** Seeded matrices for the resync kernel tests (similarity, ranking, assignment). */
final class ResyncTestData {
    private ResyncTestData() {}

    static float[] gaussian(SplittableRandom rnd, int rows, int cols) {
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) gaussian(rnd);
        }
        return x;
    }

    /** Values from {-0.75, -0.5, ..., 0.75}: ties are frequent. */
    static float[] tied(SplittableRandom rnd, int rows, int cols) {
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = 0.25f * (rnd.nextInt(7) - 3);
        }
        return x;
    }

    static double gaussian(SplittableRandom rnd) {
        double u = 1.0 - rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** Resync-like similarity: rows vs a permuted noisy copy; perm[j] = source row of suspect row j. */
    static float[] nearPermutation(SplittableRandom rnd, int n, int d, double noise, int[] perm) {
        float[] a = gaussian(rnd, n, d);
        float[] b = new float[n * d];
        int[] p = Permutation.random(n, rnd.nextLong()).toArray();
        System.arraycopy(p, 0, perm, 0, n);
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < d; k++) {
                b[j * d + k] = (float) (a[p[j] * d + k] + noise * gaussian(rnd));
            }
        }
        return Kernels.cosineSimilarity(Backend.CPU, a, b, n, n, d, false);
    }

    static boolean isPermutation(int[] p) {
        boolean[] seen = new boolean[p.length];
        for (int v : p) {
            if (v < 0 || v >= p.length || seen[v]) {
                return false;
            }
            seen[v] = true;
        }
        return true;
    }

    static void assertClose(float[] expected, float[] actual, double relTol, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double tol = relTol * Math.max(1.0, Math.abs(expected[i]));
            if (!(Math.abs(expected[i] - actual[i]) <= tol)) {
                org.junit.jupiter.api.Assertions.fail(what + ": element " + i + " is " + actual[i] + ", reference "
                        + expected[i] + " (tolerance " + tol + ")");
            }
        }
    }
}
