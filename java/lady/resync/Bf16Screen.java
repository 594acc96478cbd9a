package lady.resync;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

import lady.kernels.Kernels;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * Rows prepared for the bfloat16 cosine kernel ({@link Kernels#cosineSimilarityBf16}) in the exact margins of a
 * prefiltered group ({@link PrefilteredMatch#exactMargins}), and the proven error bound of the screen.
 *
 * <p><b>Stored as bfloat16</b> ({@link #stored}): the checkpoint's 16-bit values themselves, inverse norms in
 * double from the same values. Products of bfloat16 values are exact in float32, so the kernel's cosines equal
 * the float32 kernel's on the widened rows up to summation order: exact as the dense path's.
 *
 * <p><b>Float32 rows</b> ({@link #screened}; not on the default path: measured slower than the float32 kernel on
 * VGG16's classifier.0, bench/RESULTS.md): each row x (d values, norm N = max(||x||, 1e-12)) is scaled by the
 * power of two 2^-e that brings its largest |value| into [1, 2) (exact) and rounded to bfloat16: x~ (x~ 2^e
 * stands for x). The kernel is given the inverse norm 2^e / N of the ORIGINAL row, so it computes
 * c~ = fl(sum_t x~_t y~_t) 2^(e_x + e_y) / (N_x N_y), an estimate of c = &lt;x, y&gt; / (N_x N_y). With unit
 * vectors u = x / N_x, v = y / N_y, their rounded versions u~, v~ and the measured relative rounding errors
 * rho_x = ||u~ - u|| (computed in double from the actual values, whatever the rounding did; about 0.43 u for
 * u = 2^-8, at most u), the bound is, for every pair:
 * <pre>
 *   |c~ - c| &lt;= rho_x + rho_y + rho_x rho_y + g(d) (1 + rho_x)(1 + rho_y) + tiny(d)
 * </pre>
 * Proof. (1) Rounding: &lt;u~, v~&gt; - &lt;u, v&gt; = &lt;u~ - u, v&gt; + &lt;u, v~ - v&gt; + &lt;u~ - u, v~ - v&gt;,
 * so by Cauchy-Schwarz with ||u||, ||v|| &lt;= 1 its magnitude is at most rho_x + rho_y + rho_x rho_y.
 * (2) Products: a product of two bfloat16 values (8 significant bits each) has at most 16 significant bits and
 * is exact in float32; what vdpbf16ps flushes (subnormal inputs and results, below 2^-126 in the scaled units,
 * where the rows' largest values are in [1, 2)) is, after normalization (2^e_x &lt;= max|x| &lt;= N_x), below
 * 2^-126 per input value times ||v~||_1 &lt;= sqrt(d)(1 + rho) and below 2^-126 per addition: tiny(d) =
 * 2^-126 (4 d + 8) covers both (about 1e-33). (3) Summation: the kernel sums in float32 depth blocks and adds
 * the blocks' sums into the output (lady.h), so each product passes through at most
 * K = {@link Kernels#bf16SumAdditions}(d) roundings, then the scaling by the inverse norms (double, rounded once
 * to float) adds two more: the classical bound |fl(sum p_t) - sum p_t| &lt;= gamma_K sum |p_t|
 * (gamma_k = k 2^-24 / (1 - k 2^-24), Higham, Accuracy and Stability of Numerical Algorithms, 4.2), with
 * sum |u~_t v~_t| &lt;= ||u~|| ||v~|| &lt;= (1 + rho_x)(1 + rho_y), gives g(d) = gamma_(K+2). For classifier.0
 * (d = 25088, K = 610): g = 3.6e-5, next to rho_x + rho_y = 3.3e-3 for rows of real weights.
 *
 * <p>A group's similarity is S = sum_p w_p c_p over its row sets p, the screen's S~ = sum_p w_p c~_p (double),
 * so |S~ - S| &lt;= E(i, j) = sum over screened p of |w_p| times the bound above (plus {@link #SUM_SLACK} for the
 * double sum). For a reference row i matched to column m, let L = max over j != m of S~(i, j) - E(i, j):
 * the true second best S2 = max over j != m of S(i, j) is at least L, and a column j with
 * S~(i, j) + E(i, j) &lt; L has S(i, j) &lt; L &lt;= S2: it is not the second best. Computing S exactly for m and
 * every other column with S~ + E &gt;= L therefore gives the exact margin.
 */
final class Bf16Screen {
    private Bf16Screen() {}

    /** Unit roundoff of float32. */
    static final double F32_UNIT_ROUNDOFF = 0x1p-24;
    /** Room for the double sums of the weighted similarities (far above their rounding, far below any gap). */
    static final double SUM_SLACK = 1e-12;

    /**
     * Rows for the kernel: {@code bits} (rows x d bfloat16), {@code inv} what the kernel multiplies by (the inverse
     * norm, times the row's power-of-two scale), {@code norm} max(||x||, 1e-12) of the original row, {@code rho} the
     * relative rounding error ||x~ 2^e - x|| / norm of each row (null: the values are the stored ones, no error).
     */
    record Rows(HostTensor bits, double[] inv, double[] norm, double[] rho) implements AutoCloseable {
        @Override
        public void close() {
            bits.memory().close();
        }
    }

    /** The stored bfloat16 values of {@code neurons} (a {@link NeuronRows#storedAsBf16()} row set). */
    static Rows stored(NeuronRows r, int[] neurons) {
        HostTensor bits = r.materializeBf16(neurons);
        int rows = neurons.length;
        int d = r.d;
        double[] inv = new double[rows];
        double[] norm = new double[rows];
        ShortBuffer b = bits.bytes(0, (int) bits.byteSize()).asShortBuffer();
        PrefilteredMatch.parallelChunks(rows, (from, to) -> {
            short[] row = new short[d];
            for (int i = from; i < to; i++) {
                b.get(i * d, row, 0, d);
                double ss = 0;
                for (int t = 0; t < d; t++) {
                    double v = HostTensor.bfloat16ToFloat(row[t]);
                    ss += v * v;
                }
                norm[i] = Math.max(Math.sqrt(ss), PrefilteredMatch.NORM_EPS);
                inv[i] = 1 / norm[i];
            }
        });
        java.lang.ref.Reference.reachabilityFence(bits);
        return new Rows(bits, inv, norm, null);
    }

    /**
     * Float32 rows x[rows x d] rounded to bfloat16 for the screen (see the class comment), or null when a value
     * is not finite (no bound holds: the caller uses the float32 kernel).
     */
    static Rows screened(HostTensor x, int rows, int d) {
        HostTensor bits = HostTensor.allocate(DType.BFLOAT16, rows, d);
        double[] inv = new double[rows];
        double[] norm = new double[rows];
        double[] rho = new double[rows];
        boolean[] bad = new boolean[1];
        FloatBuffer in = x.floats();
        ShortBuffer out = bits.bytes(0, (int) bits.byteSize()).asShortBuffer();
        PrefilteredMatch.parallelChunks(rows, (from, to) -> {
            float[] row = new float[d];
            short[] h = new short[d];
            for (int i = from; i < to && !bad[0]; i++) {
                in.get(i * d, row, 0, d);
                double ss = 0;
                float max = 0;
                for (int t = 0; t < d; t++) {
                    float v = row[t];
                    ss += (double) v * v;
                    max = Math.max(max, Math.abs(v));
                }
                if (!Float.isFinite(max) || Double.isNaN(ss)) {
                    bad[0] = true;
                    break;
                }
                int e = max == 0 ? 0 : Math.getExponent(max); // max 2^-e in [1, 2); subnormal max: -127
                float down = Math.scalb(1f, -e); // powers of two from 2^-127 to 2^127: float values
                double up = Math.scalb(1.0, e);
                double err = 0;
                for (int t = 0; t < d; t++) {
                    int v = Float.floatToRawIntBits(row[t] * down); // finite: round to nearest even, upper half
                    short b = (short) ((v + 0x7FFF + ((v >>> 16) & 1)) >>> 16);
                    h[t] = b;
                    double diff = Float.intBitsToFloat((b & 0xFFFF) << 16) * up - row[t];
                    err += diff * diff;
                }
                out.put(i * d, h, 0, d);
                norm[i] = Math.max(Math.sqrt(ss), PrefilteredMatch.NORM_EPS);
                inv[i] = Math.scalb(1 / norm[i], e);
                rho[i] = Math.sqrt(err) / norm[i];
            }
        });
        java.lang.ref.Reference.reachabilityFence(x);
        if (bad[0]) {
            bits.memory().close();
            return null;
        }
        return new Rows(bits, inv, norm, rho);
    }

    /** g(d) of the class comment: gamma_(K + 2), K = {@link Kernels#bf16SumAdditions}(d) float32 roundings per product. */
    static double summationBound(int d) {
        double k = Kernels.bf16SumAdditions(d) + 2;
        return k * F32_UNIT_ROUNDOFF / (1 - k * F32_UNIT_ROUNDOFF);
    }

    /** tiny(d) of the class comment: what the kernel's flush of subnormals can cost, 2^-126 (4 d + 8). */
    static double flushBound(int d) {
        return 0x1p-126 * (4.0 * d + 8);
    }

    /** The bound on |c~ - c| of one pair of rows with rounding errors rhoX, rhoY (class comment). */
    static double pairBound(double rhoX, double rhoY, double g, double tiny) {
        return rhoX + rhoY + rhoX * rhoY + g * (1 + rhoX) * (1 + rhoY) + tiny;
    }
}
