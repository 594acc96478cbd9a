package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.permutation.Member;
import lady.permutation.Permutation;
import lady.permutation.Role;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.torch.Torch;

/**
 * {@link CopyEstimates}: on an exact copy the symmetric estimate product leaves every row's scan (block maxima, kept
 * estimates and their heap order, best column) bit for bit as the full-row path leaves it, hence the same outcome
 * (match, margins, bounds) in every margin mode; anything but an exact copy takes the full-row path.
 */
class CopyEstimatesTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /**
     * n rows of d floats: Gaussian, except that rows 5, 17 and 250 (when present) are row 3's bits, and with {@code near}
     * so are rows 4 to 23, and a quarter of the others are 0.8 row 3 plus a little noise: more equal largest estimates
     * than a row keeps.
     */
    private static float[] rows(SplittableRandom rnd, int n, int d, boolean near) {
        float[] x = new float[n * d];
        for (int t = 0; t < x.length; t++) {
            x[t] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < n; i++) {
            if (i == 5 || i == 17 || i == 250 || (near && i > 3 && i < 24)) {
                System.arraycopy(x, 3 * d, x, i * d, d);
            } else if (near && i > 3 && i % 4 == 1) {
                for (int t = 0; t < d; t++) {
                    x[i * d + t] = 0.8f * x[3 * d + t] + 0.3f * (float) rnd.nextGaussian();
                }
            }
        }
        return x;
    }

    /** Rows of x in the order p: row j of the result is row p[j] of x. */
    private static float[] permuted(float[] x, int d, long[] p) {
        float[] y = new float[x.length];
        for (int j = 0; j < p.length; j++) {
            System.arraycopy(x, (int) p[j] * d, y, j * d, d);
        }
        return y;
    }

    private static HostMemory native32(float[] v) {
        HostMemory m = HostMemory.allocate(4L * v.length);
        m.buffer(0, 4 * v.length).asFloatBuffer().put(v);
        return m;
    }

    private static double norm(float[] v, int i, int d) {
        double s = 0;
        for (int t = 0; t < d; t++) {
            s += (double) v[i * d + t] * v[i * d + t];
        }
        return Math.sqrt(s);
    }

    /**
     * The scans of both paths on sketch-like rows, bit for bit: sizes that leave a partial scan block, one band (33),
     * several bands and a last one shorter than the others (301: bands of 96, the last of 13 rows; 1000: of 192, the
     * last of 40; 2017: of 288, the last of one row), duplicate rows and many rows whose largest estimates tie.
     */
    @Test
    void symmetricScansAreTheFullRowScansBitForBit() {
        for (int n : new int[] {33, 301, 1000, 2017}) {
            int d = n == 2017 ? 40 : 72;
            SplittableRandom rnd = new SplittableRandom(n);
            float[] x = rows(rnd, n, d, true);
            long[] p = Permutation.random(n, n + 1).longIndices();
            float[] y = permuted(x, d, p);
            float[] ynf = new float[n];
            for (int j = 0; j < n; j++) {
                ynf[j] = (float) norm(y, j, d);
            }
            PrefilteredMatch.Scan today = new PrefilteredMatch.Scan(n, n, ynf);
            HostMemory mx = native32(x);
            HostMemory my = native32(y);
            HostMemory out = HostMemory.allocate(4L * n * n);
            try {
                Kernels.cosineSimilarity(Backend.CPU, mx.address(), my.address(), n, n, d, false, out.address());
                FloatBuffer cos = out.buffer(0, 4 * n * n).asFloatBuffer();
                float[] row = new float[n];
                for (int i = 0; i < n; i++) {
                    cos.get(i * n, row, 0, n);
                    today.contiguous(i, row, 0, 0, n);
                }
                int[] pi = CopyEstimates.sources(x, y, n, d);
                assertNotNull(pi, n + ": a permuted copy is a copy");
                for (int j = 0; j < n; j++) { // a source of the same bits (for a duplicate, any of its copies)
                    assertArrayEquals(java.util.Arrays.copyOfRange(x, (int) p[j] * d, (int) p[j] * d + d),
                            java.util.Arrays.copyOfRange(x, pi[j] * d, pi[j] * d + d), n + ": source of " + j);
                }
                PrefilteredMatch.Scan sym = new PrefilteredMatch.Scan(n, n, ynf);
                int band = CopyEstimates.bandRows(n);
                assertTrue(band > 0 && band % PrefilteredMatch.SCAN_BLOCK == 0, n + ": band " + band);
                assertTrue(CopyEstimates.scan(Backend.CPU, my, out, n, d, band, pi, sym));
                assertBits(today.blockMax, sym.blockMax, n + ": block maxima");
                assertBits(today.keptValue, sym.keptValue, n + ": kept estimates");
                assertArrayEquals(today.keptColumn, sym.keptColumn, n + ": kept columns (heap order included)");
                assertArrayEquals(today.best, sym.best, n + ": best columns");
                int tied = 0; // rows whose kept estimates hold equal values: the heap's ties were exercised
                for (int i = 0; i < n; i++) {
                    float[] kept = java.util.Arrays.copyOfRange(today.keptValue, i * today.keep, (i + 1) * today.keep);
                    java.util.Arrays.sort(kept);
                    for (int t = 1; t < kept.length; t++) {
                        if (kept[t] == kept[t - 1]) {
                            tied++;
                            break;
                        }
                    }
                }
                assertTrue(tied > 0, n + ": no tie among the kept estimates");
                assertTrue(!CopyEstimates.scan(Backend.REFERENCE, my, out, n, d, band, pi, sym), "CPU only");
            } finally {
                mx.close();
                my.close();
                out.close();
            }
        }
    }

    private static void assertBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int t = 0; t < expected.length; t++) {
            assertEquals(Float.floatToRawIntBits(expected[t]), Float.floatToRawIntBits(actual[t]),
                    what + " at " + t + ": " + expected[t] + " vs " + actual[t]);
        }
    }

    /** Not a bijection of equal bits: a value changed, a value not finite, two suspect rows copying one reference row. */
    @Test
    void onlyBitForBitPermutationsAreCopies() {
        int n = 64;
        int d = 20;
        float[] x = rows(new SplittableRandom(3), n, d, true);
        long[] p = Permutation.random(n, 4).longIndices();
        float[] y = permuted(x, d, p);
        assertNotNull(CopyEstimates.sources(x, y, n, d));
        float[] changed = y.clone();
        changed[7 * d + 3] = Math.nextUp(changed[7 * d + 3]);
        assertNull(CopyEstimates.sources(x, changed, n, d));
        float[] signed = y.clone();
        signed[0] = 0f;
        float[] signedRef = x.clone();
        signedRef[(int) p[0] * d] = -0f; // 0.0 and -0.0: different bits
        assertNull(CopyEstimates.sources(signedRef, signed, n, d));
        float[] nan = y.clone();
        float[] nanRef = x.clone();
        nan[0] = Float.NaN;
        nanRef[(int) p[0] * d] = Float.NaN;
        assertNull(CopyEstimates.sources(nanRef, nan, n, d));
        float[] twice = y.clone();
        System.arraycopy(y, 9 * d, twice, 10 * d, d); // suspect rows 9 and 10 both copy one reference row
        assertNull(CopyEstimates.sources(x, twice, n, d));
    }

    /** A group of row sets, reference and suspect, with weights. */
    private record Group(List<NeuronRows> ref, List<NeuronRows> sus, double[] w) {}

    /**
     * Row sets of widths {@code d} (one a consumer-like [30, n] tensor read by columns when {@code columns}), suspect
     * neuron j = reference neuron p[j], permuted lazily; {@code change}: one suspect value changed.
     */
    private static Group group(int n, int[] d, boolean columns, long[] p, boolean change, int seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        StateDict ref = new StateDict();
        StateDict sus = new StateDict();
        List<NeuronRows> refs = new ArrayList<>();
        List<NeuronRows> suss = new ArrayList<>();
        double[] w = new double[d.length + (columns ? 1 : 0)];
        for (int s = 0; s < w.length; s++) {
            boolean byColumns = s == d.length;
            int width = byColumns ? 30 : d[s];
            String name = "t" + s;
            float[] v = byColumns ? rows(rnd, width, n, false) : rows(rnd, n, width, false);
            float[] u = v.clone();
            if (change && s == w.length - 1) {
                u[u.length / 2] += 0.5f;
            }
            long[] shape = byColumns ? new long[] {width, n} : new long[] {n, width};
            ref.put(name, HostTensor.ofFloats(v, shape));
            sus.put(name, HostTensor.ofFloats(u, shape));
            sus.permuteLazily(name, byColumns ? 1 : 0, p);
            Member m = new Member(name, byColumns ? 1 : 0, 1, Role.PRODUCER_WEIGHT);
            refs.add(NeuronRows.of(ref.indexed(name), m, n));
            suss.add(NeuronRows.of(sus.indexed(name), m, n));
            w[s] = Math.sqrt(width) / (s + 1);
        }
        return new Group(refs, suss, w);
    }

    private static void assertSameOutcome(PrefilteredMatch.Outcome expected, PrefilteredMatch.Outcome actual,
            String what) {
        assertNotNull(expected, what + ": the full-row path settled the group");
        assertNotNull(actual, what);
        assertArrayEquals(expected.match(), actual.match(), what + ": match");
        assertEquals(expected.margins().length, actual.margins().length, what);
        for (int i = 0; i < expected.margins().length; i++) {
            assertEquals(Double.doubleToRawLongBits(expected.margins()[i]), Double.doubleToRawLongBits(actual.margins()[i]),
                    what + ": margin of row " + i);
        }
        assertArrayEquals(expected.bounds(), actual.bounds(), what + ": which margins are bounds");
    }

    /**
     * The outcome of an exact copy through the symmetric product equals the full-row path's, bit for bit, for one and
     * several row sets with weights (one read by columns), with exact and bound margins, at sizes that leave partial
     * scan blocks and bands; the symmetric product was taken (and not on the full-row path's run).
     */
    @Test
    void exactCopiesGiveTheFullRowPathsOutcome() {
        Object[][] cases = {
            {301, new int[] {4096}, false}, // rows much longer than the sketch: a wide error bound
            {1000, new int[] {100, 60}, false}, // rows no longer than the sketch: exact estimates
            {1000, new int[] {2000}, true},
        };
        for (Object[] c : cases) {
            int n = (int) c[0];
            int[] d = (int[]) c[1];
            boolean columns = (boolean) c[2];
            long[] p = Permutation.random(n, 11).longIndices();
            Group g = group(n, d, columns, p, false, n + d.length);
            for (Margins mode : new Margins[] {Margins.EXACT, Margins.BOUND}) {
                String what = n + " neurons, " + g.w().length + " row sets, " + mode;
                int before = CopyEstimates.TAKEN.get();
                PrefilteredMatch.Outcome today = PrefilteredMatch.solveRows(Backend.CPU, g.ref(), g.sus(), g.w(), n, mode,
                        0.05, false);
                assertEquals(before, CopyEstimates.TAKEN.get(), what + ": the full-row path took the symmetric one");
                PrefilteredMatch.Outcome sym = PrefilteredMatch.solveRows(Backend.CPU, g.ref(), g.sus(), g.w(), n, mode,
                        0.05, true);
                assertTrue(CopyEstimates.TAKEN.get() > before, what + ": the symmetric product was not taken");
                assertSameOutcome(today, sym, what);
                if (mode == Margins.BOUND) {
                    assertNotNull(sym.bounds(), what + ": no margin was a bound: the mode was not exercised");
                }
                long[] inv = Permutation.of(p).inverse().longIndices();
                for (int i = 0; i < n; i++) {
                    if (i != 3 && i != 5 && i != 17 && i != 250) { // the duplicates may take each other's columns
                        assertEquals(inv[i], sym.match()[i], what + ": row " + i);
                    }
                }
            }
        }
    }

    /** One suspect value changed: not a copy, the full-row path (and its outcome). */
    @Test
    void anythingButAnExactCopyTakesTheFullRowPath() {
        int n = 301;
        long[] p = Permutation.random(n, 12).longIndices();
        Group g = group(n, new int[] {200, 50}, true, p, true, 5);
        int before = CopyEstimates.TAKEN.get();
        PrefilteredMatch.Outcome o = PrefilteredMatch.solveRows(Backend.CPU, g.ref(), g.sus(), g.w(), n, Margins.EXACT,
                0.05, true);
        assertEquals(before, CopyEstimates.TAKEN.get(), "a changed value was taken for a copy");
        assertSameOutcome(PrefilteredMatch.solveRows(Backend.CPU, g.ref(), g.sus(), g.w(), n, Margins.EXACT, 0.05, false),
                o, "not a copy");
    }
}
