package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import lady.tensor.DType;
import lady.tensor.HostTensor;
import lady.torch.Torch;

/**
 * {@link PrefilteredMatch#exactMargins} on the bfloat16 kernel: the margins equal the float32 path's
 * ({@link PrefilteredMatch#floatMargins}) for float32 rows (the screen, then the exact refinement) on random and
 * near-tied data, for rows stored as bfloat16, and for a mix; {@link NeuronRows#materializeBf16} reads the stored
 * values through lazy index maps.
 */
class Bf16MarginsTest {

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** Two producers (weights 0.7 and 0.3), rows of 400 and 96 values; {@code cluster} reference rows near-identical. */
    private record Pair(float[][] ref, float[][] sus, long[] match, int n, int[] d) {}

    private static Pair pair(long seed, int n, int cluster, double spread) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] d = {400, 96};
        long[] p = Permutation.random(n, seed).longIndices(); // suspect row j = reference row p[j]
        long[] match = new long[n];
        for (int j = 0; j < n; j++) {
            match[(int) p[j]] = j;
        }
        float[][] ref = new float[2][];
        float[][] sus = new float[2][];
        for (int q = 0; q < 2; q++) {
            float[] z = new float[d[q]];
            for (int t = 0; t < d[q]; t++) {
                z[t] = (float) rnd.nextGaussian();
            }
            ref[q] = new float[n * d[q]];
            for (int i = 0; i < n; i++) {
                for (int t = 0; t < d[q]; t++) {
                    double g = rnd.nextGaussian();
                    // rows of the cluster: z plus a little noise, near-tied with each other far below the screen's bound
                    ref[q][i * d[q] + t] = (float) (i < cluster ? z[t] + spread * g : g);
                }
            }
            sus[q] = new float[n * d[q]];
            for (int j = 0; j < n; j++) {
                for (int t = 0; t < d[q]; t++) {
                    sus[q][j * d[q] + t] = ref[q][(int) p[j] * d[q] + t] + (float) (1e-3 * rnd.nextGaussian());
                }
            }
        }
        return new Pair(ref, sus, match, n, d);
    }

    private static List<NeuronRows> rows(float[][] x, int n, int[] d, boolean[] bf16) {
        NeuronRows a = NeuronRows.dense(tensor(x[0], n, d[0], bf16[0]), n);
        NeuronRows b = NeuronRows.dense(tensor(x[1], n, d[1], bf16[1]), n);
        return List.of(a, b);
    }

    private static HostTensor tensor(float[] x, int n, int d, boolean bf16) {
        HostTensor f = HostTensor.ofFloats(x, n, d);
        return bf16 ? f.converted(DType.BFLOAT16) : f;
    }

    private static final double[] WEIGHTS = {0.7, 0.3};

    /** exactMargins vs floatMargins on every row; returns the margins. */
    private static double[] assertSameMargins(Pair c, boolean[] bf16, String what) {
        List<NeuronRows> refs = rows(c.ref, c.n, c.d, bf16);
        List<NeuronRows> suss = rows(c.sus, c.n, c.d, bf16);
        int[] all = java.util.stream.IntStream.range(0, c.n).toArray();
        double[] want = new double[c.n];
        double[] got = new double[c.n];
        PrefilteredMatch.floatMargins(Backend.CPU, refs, suss, WEIGHTS, c.n, c.match, all, want);
        PrefilteredMatch.exactMargins(Backend.CPU, refs, suss, WEIGHTS, c.n, c.match, all, got, true);
        for (int i = 0; i < c.n; i++) {
            assertEquals(want[i], got[i], PrefilteredMatchTest.MARGIN_TOLERANCE, what + ": margin of row " + i);
        }
        return got;
    }

    /** The margins of the weighted bfloat16 similarity alone (no refinement), as a screen-only version would give. */
    private static double[] screenOnly(Pair c) {
        double[] s = new double[c.n * c.n];
        for (int q = 0; q < 2; q++) {
            short[] a = new short[c.ref[q].length];
            short[] b = new short[c.sus[q].length];
            for (int t = 0; t < a.length; t++) {
                a[t] = HostTensor.floatToBfloat16(c.ref[q][t]);
                b[t] = HostTensor.floatToBfloat16(c.sus[q][t]);
            }
            float[] cos = Kernels.cosineSimilarityBf16(Backend.CPU, a, b, c.n, c.n, c.d[q],
                    Kernels.inverseNormsBf16(a, c.n, c.d[q]), Kernels.inverseNormsBf16(b, c.n, c.d[q]));
            for (int t = 0; t < cos.length; t++) {
                s[t] += WEIGHTS[q] * cos[t];
            }
        }
        double[] m = new double[c.n];
        for (int i = 0; i < c.n; i++) {
            double other = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c.n; j++) {
                if (j != c.match[i]) {
                    other = Math.max(other, s[i * c.n + j]);
                }
            }
            m[i] = s[i * c.n + (int) c.match[i]] - other;
        }
        return m;
    }

    @Test
    void screenedFloatMarginsEqualTheFloatPathOnRandomAndNearTiedRows() {
        boolean[] f32 = {false, false};
        for (long seed = 1; seed <= 3; seed++) {
            assertSameMargins(pair(seed, 70, 0, 0), f32, "random, seed " + seed);
        }
        // 12 near-identical rows: their second bests tie far within the screen's bound, the refinement decides
        Pair tied = pair(7, 90, 12, 0.01);
        double[] exact = assertSameMargins(tied, f32, "near-tied");
        double[] screen = screenOnly(tied);
        int off = 0;
        for (int i = 0; i < tied.n; i++) {
            off += Math.abs(screen[i] - exact[i]) > PrefilteredMatchTest.MARGIN_TOLERANCE ? 1 : 0;
        }
        assertTrue(off > 0, "the near-tied case must be one the screen alone gets wrong");
        // 280 near-identical rows of 300: more columns within reach than are refined, rows computed in full
        assertSameMargins(pair(8, 300, 280, 0.01), f32, "too many ties");
    }

    @Test
    void storedBf16AndMixedRowSetsEqualTheFloatPath() {
        Pair c = pair(9, 80, 10, 0.01);
        assertSameMargins(c, new boolean[] {true, true}, "stored as bfloat16");
        assertSameMargins(c, new boolean[] {true, false}, "bfloat16 and float32 row sets");
        // the default: stored bfloat16 row sets on the bfloat16 kernel, float32 ones on the float32 kernel
        for (boolean[] kinds : new boolean[][] {{true, true}, {true, false}}) {
            List<NeuronRows> refs = rows(c.ref, c.n, c.d, kinds);
            List<NeuronRows> suss = rows(c.sus, c.n, c.d, kinds);
            int[] all = java.util.stream.IntStream.range(0, c.n).toArray();
            double[] want = new double[c.n];
            double[] got = new double[c.n];
            PrefilteredMatch.floatMargins(Backend.CPU, refs, suss, WEIGHTS, c.n, c.match, all, want);
            PrefilteredMatch.exactMargins(Backend.CPU, refs, suss, WEIGHTS, c.n, c.match, all, got);
            assertArrayEquals(want, got, PrefilteredMatchTest.MARGIN_TOLERANCE, "default path, " + kinds[1]);
        }
    }

    /** A value that is not finite: no screen, the float32 kernel (NaN margins as the float path's). */
    @Test
    void nonFiniteRowsFallBackToTheFloatKernel() {
        Pair c = pair(10, 40, 0, 0);
        c.sus[0][5] = Float.POSITIVE_INFINITY;
        List<NeuronRows> refs = rows(c.ref, c.n, c.d, new boolean[2]);
        List<NeuronRows> suss = rows(c.sus, c.n, c.d, new boolean[2]);
        int[] all = java.util.stream.IntStream.range(0, c.n).toArray();
        double[] want = new double[c.n];
        double[] got = new double[c.n];
        PrefilteredMatch.floatMargins(Backend.CPU, refs, suss, WEIGHTS, c.n, c.match, all, want);
        PrefilteredMatch.exactMargins(Backend.CPU, refs, suss, WEIGHTS, c.n, c.match, all, got, true);
        assertArrayEquals(want, got, PrefilteredMatchTest.MARGIN_TOLERANCE);
    }

    @Test
    void materializeBf16ReadsStoredValuesThroughLazyMaps() {
        SplittableRandom rnd = new SplittableRandom(3);
        HostTensor t = HostTensor.allocate(DType.BFLOAT16, 12, 10, 3);
        java.nio.ByteBuffer b = t.bytes(0, (int) t.byteSize());
        for (int i = 0; i < t.numel(); i++) {
            b.putShort(2 * i, HostTensor.floatToBfloat16((float) rnd.nextGaussian()));
        }
        StateDict sd = new StateDict();
        sd.put("w", t);
        sd.permuteLazily("w", 0, Permutation.random(12, 1).longIndices());
        sd.permuteLazily("w", 1, Permutation.random(10, 2).longIndices());
        for (Member m : List.of(new Member("w", 0, 2, 2, Role.PRODUCER_WEIGHT), new Member("w", 1, 3, 1, Role.CONSUMER_WEIGHT))) {
            int n = 5;
            NeuronRows rows = NeuronRows.of(sd.indexed("w"), m, n);
            assertTrue(rows.storedAsBf16());
            int[] pick = {4, 0, 2};
            float[] want = rows.materialize(pick).readFloats();
            HostTensor got = rows.materializeBf16(pick);
            assertEquals(DType.BFLOAT16, got.dtype());
            assertArrayEquals(want, got.readFloats(), m.toString());
        }
    }
}
