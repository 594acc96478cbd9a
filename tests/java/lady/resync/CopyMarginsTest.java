package lady.resync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.kernels.Backend;
import lady.checkpoint.StateDict;
import lady.kernels.Kernels;
import lady.permutation.Member;
import lady.permutation.Permutation;
import lady.permutation.Role;
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.torch.Torch;

/**
 * {@link CopyMargins}: the native float32 cosine kernel is symmetric bit for bit and does not depend on the positions
 * or neighbours of its rows (what the symmetric product rests on), and the margins of an exact copy equal the full-row
 * path's ({@link PrefilteredMatch#floatMargins}) bit for bit; anything that is not an exact copy is left to that path.
 */
class CopyMarginsTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static float[] gaussian(SplittableRandom rnd, int n, int d) {
        float[] x = new float[n * d];
        for (int t = 0; t < x.length; t++) {
            x[t] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static float[] rowsOf(float[] x, int d, int[] idx) {
        float[] out = new float[idx.length * d];
        for (int r = 0; r < idx.length; r++) {
            System.arraycopy(x, idx[r] * d, out, r * d, d);
        }
        return out;
    }

    private static void assertBits(float expected, float actual, String what) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                what + ": " + expected + " vs " + actual);
    }

    /**
     * K(a, b) == K(b, a) bit for bit, and the same whatever the rows' positions and the other rows of the call: sizes
     * that are not multiples of the micro-tiles (12 x 32, 6 x 16, 4 x 8), of the row block (240), of the depth block
     * (256) or of the column block (2048); a zero row, duplicate rows, rows of very different scales. The float32
     * kernel's instruction set is chosen once per process (the one this CPU has); the argument (one FMA lane per
     * element, depth in a fixed order) is the same for each.
     */
    @Test
    void floatKernelIsSymmetricAndIndependentOfPositions() {
        SplittableRandom rnd = new SplittableRandom(11);
        int n = 263;
        for (int d : new int[] {600, 49, 1}) {
            float[] x = gaussian(rnd, n, d);
            Arrays.fill(x, 9 * d, 10 * d, 0f); // a zero row
            System.arraycopy(x, 5 * d, x, 17 * d, d); // a duplicate row
            for (int t = 30 * d; t < 31 * d; t++) {
                x[t] *= 1e-20f;
            }
            for (int t = 31 * d; t < 32 * d; t++) {
                x[t] *= 1e20f;
            }
            float[] k = Kernels.cosineSimilarity(Backend.CPU, x, x, n, n, d, false);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    assertBits(k[i * n + j], k[j * n + i], "d " + d + ": K(" + i + ", " + j + ") vs K(" + j + ", " + i
                            + ")");
                }
            }
            // other positions and neighbours: a shuffled subset against another, both ways
            int[] perm = Arrays.stream(Permutation.random(n, 3 + d).longIndices()).mapToInt(v -> (int) v).toArray();
            int[] ia = Arrays.copyOfRange(perm, 0, 37);
            int[] ib = Arrays.copyOfRange(perm, 20, 20 + 241);
            float[] ab = Kernels.cosineSimilarity(Backend.CPU, rowsOf(x, d, ia), rowsOf(x, d, ib), ia.length, ib.length,
                    d, false);
            float[] ba = Kernels.cosineSimilarity(Backend.CPU, rowsOf(x, d, ib), rowsOf(x, d, ia), ib.length, ia.length,
                    d, false);
            for (int r = 0; r < ia.length; r++) {
                for (int c = 0; c < ib.length; c++) {
                    float full = k[ia[r] * n + ib[c]];
                    assertBits(full, ab[r * ib.length + c], "d " + d + ": moved rows " + ia[r] + ", " + ib[c]);
                    assertBits(full, ba[c * ia.length + r], "d " + d + ": moved rows " + ib[c] + ", " + ia[r]);
                }
            }
        }
        // more columns than one column block (2048), both ways
        int d = 300;
        int m = 2100;
        float[] a = gaussian(rnd, 30, d);
        float[] b = gaussian(rnd, m, d);
        float[] ab = Kernels.cosineSimilarity(Backend.CPU, a, b, 30, m, d, false);
        float[] ba = Kernels.cosineSimilarity(Backend.CPU, b, a, m, 30, d, false);
        for (int r = 0; r < 30; r++) {
            for (int c = 0; c < m; c++) {
                assertBits(ab[r * m + c], ba[c * 30 + r], "wide: " + r + ", " + c);
            }
        }
    }

    /** A reference (row sets of {@code d[p]} values; row 9 zero in every set, row 17 a copy of row 5) and its copy
     * permuted by a seeded permutation, with match = the permutation's inverse. */
    private record Pair(List<NeuronRows> ref, List<NeuronRows> sus, long[] match, float[][] refRows,
            float[][] susRows) {}

    private static Pair pair(int n, int[] d, long seed, DType dtype) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long[] p = Permutation.random(n, seed).longIndices(); // suspect row j = reference row p[j]
        long[] match = new long[n];
        for (int j = 0; j < n; j++) {
            match[(int) p[j]] = j;
        }
        NeuronRows[] ref = new NeuronRows[d.length];
        NeuronRows[] sus = new NeuronRows[d.length];
        float[][] refRows = new float[d.length][];
        float[][] susRows = new float[d.length][];
        for (int q = 0; q < d.length; q++) {
            float[] x = gaussian(rnd, n, d[q]);
            Arrays.fill(x, 9 * d[q], 10 * d[q], 0f);
            System.arraycopy(x, 5 * d[q], x, 17 * d[q], d[q]);
            float[] y = new float[n * d[q]];
            for (int j = 0; j < n; j++) {
                System.arraycopy(x, (int) p[j] * d[q], y, j * d[q], d[q]);
            }
            refRows[q] = x;
            susRows[q] = y;
            ref[q] = NeuronRows.dense(tensor(x, n, d[q], dtype), n);
            sus[q] = NeuronRows.dense(tensor(y, n, d[q], dtype), n);
        }
        return new Pair(List.of(ref), List.of(sus), match, refRows, susRows);
    }

    private static HostTensor tensor(float[] x, int n, int d, DType dtype) {
        HostTensor f = HostTensor.ofFloats(x, n, d);
        return dtype == DType.FLOAT32 ? f : f.converted(dtype);
    }

    private static double[] todays(Pair c, double[] w, int n, int[] rows) {
        double[] out = new double[n];
        Arrays.fill(out, Double.NaN);
        PrefilteredMatch.floatMargins(Backend.CPU, c.ref(), c.sus(), w, n, c.match(), rows, out);
        return out;
    }

    private static void assertSameMargins(double[] expected, double[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Double.doubleToRawLongBits(expected[i]), Double.doubleToRawLongBits(actual[i]),
                    what + ": margin of row " + i + ": " + expected[i] + " vs " + actual[i]);
        }
    }

    /** One row set and two with weights; every row asked and some; float32 and float16 rows: bit for bit today's. */
    @Test
    void exactCopyMarginsEqualTheFullRowPath() {
        // 301: halved once into two square calls (of at most 240 rows) and one call across; 2500: calls across of more
        // rows than one call takes (1024), in parts; some rows asked: the parts after them skipped
        bothPathsAgree(301, DType.FLOAT32, new int[] {600});
        bothPathsAgree(301, DType.FLOAT16, new int[] {600});
        bothPathsAgree(301, DType.FLOAT32, new int[] {600, 49});
        bothPathsAgree(301, DType.FLOAT16, new int[] {600, 49});
        bothPathsAgree(2500, DType.FLOAT32, new int[] {40, 9});
    }

    private static void bothPathsAgree(int n, DType dtype, int[] d) {
        double[] w = d.length == 1 ? new double[] {1} : new double[] {Math.sqrt(d[0]), Math.sqrt(d[1])};
        Pair c = pair(n, d, 5 + d.length, dtype);
        int[] all = java.util.stream.IntStream.range(0, n).toArray();
        int[] some = java.util.stream.IntStream.range(0, n).filter(i -> i % 3 != 1).toArray();
        int[] quarter = java.util.stream.IntStream.range(0, n).filter(i -> i % 4 == 0).toArray();
        for (int[] rows : new int[][] {all, some, quarter}) {
            String what = n + " rows of " + dtype + ", " + d.length + " row sets, " + rows.length + " asked";
            double[] expected = todays(c, w, n, rows);
            double[] got = new double[n];
            Arrays.fill(got, Double.NaN);
            assertTrue(CopyMargins.margins(Backend.CPU, c.ref(), c.sus(), w, n, c.match(), rows, got), what);
            assertSameMargins(expected, got, what);
            double[] viaExact = new double[n];
            Arrays.fill(viaExact, Double.NaN);
            PrefilteredMatch.exactMargins(Backend.CPU, c.ref(), c.sus(), w, n, c.match(), rows, viaExact);
            assertSameMargins(expected, viaExact, what + " (exactMargins)");
        }
        // the duplicate rows 5 and 17 tie: their margins are 0
        assertEquals(0.0, todays(c, w, n, all)[5], what(d));
    }

    private static String what(int[] d) {
        return d.length + " row sets";
    }

    /**
     * A producer whose suspect rows are permuted lazily (through a row map) and a consumer read by columns (axis 1,
     * through a column map): the copy is recognized through the maps and the margins are today's.
     */
    @Test
    void lazilyPermutedRowsAndColumnsAreRecognizedAsCopies() {
        int n = 50;
        SplittableRandom rnd = new SplittableRandom(8);
        long[] p = Permutation.random(n, 4).longIndices(); // suspect neuron j = reference neuron p[j]
        long[] match = new long[n];
        for (int j = 0; j < n; j++) {
            match[(int) p[j]] = j;
        }
        StateDict ref = new StateDict();
        StateDict sus = new StateDict();
        for (StateDict sd : List.of(ref, sus)) {
            SplittableRandom same = new SplittableRandom(9); // the same values in both
            sd.put("v", HostTensor.ofFloats(gaussian(same, n, 30), n, 30));
            sd.put("w", HostTensor.ofFloats(gaussian(same, 20, n), 20, n));
        }
        sus.permuteLazily("v", 0, p);
        sus.permuteLazily("w", 1, p);
        Member rowsOf = new Member("v", 0, 0, 1, Role.PRODUCER_WEIGHT);
        Member columnsOf = new Member("w", 1, 0, 1, Role.CONSUMER_WEIGHT);
        List<NeuronRows> refs = List.of(NeuronRows.of(ref.indexed("v"), rowsOf, n),
                NeuronRows.of(ref.indexed("w"), columnsOf, n));
        List<NeuronRows> suss = List.of(NeuronRows.of(sus.indexed("v"), rowsOf, n),
                NeuronRows.of(sus.indexed("w"), columnsOf, n));
        assertFalse(suss.get(1).byRows, "the consumer must be read by columns");
        double[] w = {Math.sqrt(30), Math.sqrt(20)};
        int[] all = java.util.stream.IntStream.range(0, n).toArray();
        double[] expected = new double[n];
        PrefilteredMatch.floatMargins(Backend.CPU, refs, suss, w, n, match, all, expected);
        double[] got = new double[n];
        assertTrue(CopyMargins.margins(Backend.CPU, refs, suss, w, n, match, all, got));
        assertSameMargins(expected, got, "lazily permuted");
        // one value of the consumer changed: no longer a copy
        float[] values = gaussian(new SplittableRandom(9), n * 30 + 20 * n, 1); // v's values, then w's
        float[] wc = Arrays.copyOfRange(values, n * 30, values.length);
        wc[7] += 1;
        StateDict other = new StateDict();
        other.put("w", HostTensor.ofFloats(wc, 20, n));
        other.permuteLazily("w", 1, p);
        List<NeuronRows> changedSus = List.of(suss.get(0), NeuronRows.of(other.indexed("w"), columnsOf, n));
        assertFalse(CopyMargins.margins(Backend.CPU, refs, changedSus, w, n, match, all, new double[n]));
    }

    /** A flipped bit in one matched pair (past the cheap probe), a match that is not a permutation, rows stored as
     * bfloat16 in both models, or too few rows asked: the full-row path, margins untouched. */
    @Test
    void anythingButAnExactCopyIsLeftToTheFullRowPath() {
        int n = 120;
        int[] d = {64, 10};
        double[] w = {8, Math.sqrt(10)};
        int[] all = java.util.stream.IntStream.range(0, n).toArray();
        Pair c = pair(n, d, 21, DType.FLOAT32);
        double[] got = new double[n];
        assertTrue(CopyMargins.margins(Backend.CPU, c.ref(), c.sus(), w, n, c.match(), all, got));

        // one bit of the second row set of the last matched row
        float[] y = c.susRows()[1].clone();
        int j = (int) c.match()[n - 1];
        y[j * d[1] + 3] = Float.intBitsToFloat(Float.floatToRawIntBits(y[j * d[1] + 3]) ^ 1);
        List<NeuronRows> flipped = List.of(c.sus().get(0), NeuronRows.dense(HostTensor.ofFloats(y, n, d[1]), n));
        double[] untouched = new double[n];
        Arrays.fill(untouched, Double.NaN);
        assertFalse(CopyMargins.margins(Backend.CPU, c.ref(), flipped, w, n, c.match(), all, untouched));
        assertTrue(Arrays.stream(untouched).allMatch(Double::isNaN));
        // exactMargins still gives today's margins on it
        double[] expected = new double[n];
        PrefilteredMatch.floatMargins(Backend.CPU, c.ref(), flipped, w, n, c.match(), all, expected);
        double[] viaExact = new double[n];
        PrefilteredMatch.exactMargins(Backend.CPU, c.ref(), flipped, w, n, c.match(), all, viaExact);
        assertSameMargins(expected, viaExact, "not a copy");

        long[] twice = c.match().clone();
        twice[1] = twice[0];
        assertFalse(CopyMargins.margins(Backend.CPU, c.ref(), c.sus(), w, n, twice, all, untouched));
        assertFalse(CopyMargins.margins(Backend.CPU, c.ref(), c.sus(), w, n, c.match(), new int[] {1, 2, 3},
                untouched));
        Pair bf = pair(n, d, 21, DType.BFLOAT16);
        assertFalse(CopyMargins.margins(Backend.CPU, bf.ref(), bf.sus(), w, n, bf.match(), all, untouched));
        assertTrue(Arrays.stream(untouched).allMatch(Double::isNaN));
    }
}
