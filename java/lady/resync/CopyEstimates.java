package lady.resync;

import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import lady.kernels.Backend;
import lady.kernels.Kernels;
import lady.tensor.HostMemory;
import lady.util.Ints;

/**
 * The prefilter's estimate product ({@link PrefilteredMatch}) at about half the cost when the suspect's sketch rows
 * are, bit for bit, the reference's in another order (a pure permutation attack: the sketch of suspect neuron j is
 * then computed from the same values in the same order as that of its reference neuron; checked here, never assumed).
 *
 * <p>With {@code y_a} the suspect's sketch rows and {@code pi(a)} the reference row whose sketch has the same bits,
 * reference row i's estimates {@code E[i, j] = K(x_i, y_j)} (K the native float32 cosine kernel, {@link Backend#CPU})
 * are row {@code pi^-1(i)} of {@code H = K(y, y)}: the suspect's own Gram matrix, symmetric bit for bit (the kernel's
 * symmetry and independence of positions that {@link CopyMargins} rests on, checked by CopyMarginsTest and the native
 * similarity_symmetry_test). H is computed in bands of {@link #bandRows} suspect rows against the columns from the
 * band's first one on (the upper triangle and the band's own square): each band's values go, in suspect-column order,
 * to the band's rows (their columns from the band on) and, read down the columns, to every later row (their columns of
 * the band). Every row thus receives its columns in ascending order, band after band, in whole blocks of
 * {@link PrefilteredMatch#SCAN_BLOCK}, and is scanned exactly as the full-row path scans it
 * ({@link PrefilteredMatch.Scan}: the same products, maxima, heap operations and best column, in the same order): the
 * per-row results, hence the match, bounds and margins, are bit for bit the full-row path's. No N x N matrix is held:
 * one band of at most {@link PrefilteredMatch#ESTIMATE_BLOCK_BYTES}, as that path's block. The rows' scan state is kept
 * in suspect order during the product and moved to the reference rows in place at the end.
 *
 * <p>Measured on the 2-layer Llama-3-8B-width pair (an MLP group, N = 14336, K = 3 x 256; bench/RESULTS.md): the
 * group's estimate step about 1.0-1.1 s instead of 1.4-1.6 s (the kernel's share 0.6-0.8 s instead of 1.2-1.3 s; the
 * scans read as many values as before, half of them down the band's columns).
 *
 * <p>Not used (the full-row path instead) when the backend is not the CPU, a sketch value is not finite, the sketch
 * rows are not a bit-for-bit permutation of each other, or a band of whole scan blocks and micro-tiles would not fit
 * the block's bytes.
 */
final class CopyEstimates {
    private CopyEstimates() {}

    /** Suspect columns per piece of a band read down its columns (a piece of one scan block: 32 x this many floats). */
    static final int COLUMN_PIECE = 512;
    /** Bands per group at most (more, thinner bands come closer to half the full product, but each call of the kernel
     * packs its columns once per thread: 8 leaves that packing a few percent of the work). */
    static final int TARGET_BANDS = 8;

    /** Groups whose estimates took the symmetric product (tests check that it was taken). */
    static final AtomicInteger TAKEN = new AtomicInteger();

    /**
     * For every suspect row a, a reference row pi[a] whose sketch row has the same bits ({@code x} and {@code y}: n
     * rows of dk floats each), a bijection; null when there is none, or when a value is not finite.
     */
    static int[] sources(float[] x, float[] y, int n, int dk) {
        long[] hx = new long[n];
        long[] hy = new long[n];
        AtomicBoolean finite = new AtomicBoolean(true);
        PrefilteredMatch.parallelChunks(n, (from, to) -> {
            for (int i = from; i < to && finite.get(); i++) {
                hx[i] = hash(x, i * dk, dk, finite);
                hy[i] = hash(y, i * dk, dk, finite);
            }
        });
        if (!finite.get()) {
            return null;
        }
        Map<Long, ArrayDeque<Integer>> byHash = new HashMap<>(2 * n);
        for (int i = 0; i < n; i++) {
            byHash.computeIfAbsent(hx[i], h -> new ArrayDeque<>()).add(i);
        }
        int[] pi = new int[n];
        for (int a = 0; a < n; a++) {
            ArrayDeque<Integer> same = byHash.get(hy[a]);
            if (same == null || same.isEmpty()) {
                return null;
            }
            pi[a] = same.poll(); // equal rows (ties) have equal hashes: any of them will do
        }
        AtomicBoolean equal = new AtomicBoolean(true);
        PrefilteredMatch.parallelChunks(n, (from, to) -> {
            for (int a = from; a < to && equal.get(); a++) {
                if (!Arrays.equals(y, a * dk, a * dk + dk, x, pi[a] * dk, pi[a] * dk + dk)) {
                    equal.set(false); // a hash collision between different rows: not worth resolving
                }
            }
        });
        return equal.get() ? pi : null;
    }

    /** A 64-bit hash of the raw bits of v[at, at + d); clears {@code finite} on an infinite or NaN value. */
    private static long hash(float[] v, int at, int d, AtomicBoolean finite) {
        long h0 = 0x243f_6a88_85a3_08d3L;
        long h1 = 0x1319_8a2e_0370_7344L;
        int t = 0;
        boolean ok = true;
        for (; t + 1 < d; t += 2) { // two independent chains: the multiplies overlap
            int b0 = Float.floatToRawIntBits(v[at + t]);
            int b1 = Float.floatToRawIntBits(v[at + t + 1]);
            ok &= (b0 & 0x7f80_0000) != 0x7f80_0000 & (b1 & 0x7f80_0000) != 0x7f80_0000;
            h0 = (h0 ^ b0) * 0x9e37_79b9_7f4a_7c15L;
            h1 = (h1 ^ b1) * 0xc2b2_ae3d_27d4_eb4fL;
        }
        if (t < d) {
            int b0 = Float.floatToRawIntBits(v[at + t]);
            ok &= (b0 & 0x7f80_0000) != 0x7f80_0000;
            h0 = (h0 ^ b0) * 0x9e37_79b9_7f4a_7c15L;
        }
        if (!ok) {
            finite.set(false);
        }
        long h = h0 ^ Long.rotateLeft(h1, 31);
        return h ^ (h >>> 29);
    }

    /**
     * Rows of one band: about n / {@link #TARGET_BANDS}, a multiple of the scan block and of the kernel's micro-tile
     * heights ({@link CopyMargins#TILE_ROWS}), whose n columns of floats fit {@link PrefilteredMatch#ESTIMATE_BLOCK_BYTES}
     * (the full-row path's block); 0 when no such band fits.
     */
    static int bandRows(int n) {
        int unit = (int) Ints.lcm(PrefilteredMatch.SCAN_BLOCK, CopyMargins.TILE_ROWS);
        int target = Math.max(unit, (n / TARGET_BANDS + unit - 1) / unit * unit);
        long fit = PrefilteredMatch.ESTIMATE_BLOCK_BYTES / 4 / Math.max(n, 1) / unit * unit;
        return (int) Math.min(target, fit);
    }

    /**
     * The estimate scans of every reference row ({@code scan}) from the symmetric product of the suspect's sketch rows
     * {@code my} (n rows of dk floats, native), with {@code pi} from {@link #sources}, in bands of {@code band} rows
     * ({@link #bandRows}); {@code out} holds at least min(band, n) x n floats. False (nothing done) when the backend is
     * not the CPU or {@code band} is 0. {@code scan} must be fresh (no column scanned).
     */
    static boolean scan(Backend backend, HostMemory my, HostMemory out, int n, int dk, int band, int[] pi,
            PrefilteredMatch.Scan scan) {
        if (backend != Backend.CPU || band <= 0) {
            return false;
        }
        TAKEN.incrementAndGet();
        // the scans in suspect-row order (H's rows; a band read down its columns then updates consecutive rows' state,
        // not rows scattered by the permutation: a cache miss per block), moved to the reference rows at the end
        FloatBuffer cos = out.buffer(0, 4 * Math.min(band, n) * n).asFloatBuffer();
        for (int a0 = 0; a0 < n; a0 += band) {
            int rows = Math.min(band, n - a0);
            int m = n - a0;
            long at = my.address() + 4L * a0 * dk;
            Kernels.cosineSimilarity(backend, at, at, rows, m, dk, false, out.address());
            int first = a0;
            // the band's own rows: their columns from a0 on, in order
            PrefilteredMatch.parallelChunks(rows, (ra, rb) -> {
                float[] row = new float[m];
                for (int r = ra; r < rb; r++) {
                    cos.get(r * m, row, 0, m);
                    scan.contiguous(first + r, row, 0, first, n);
                }
            });
            if (m == rows) {
                continue; // the last band: no later rows
            }
            // every later row b: its columns [a0, a0 + rows) are column b of the band, read down in pieces
            PrefilteredMatch.parallelChunks(m - rows, (ca, cb) -> {
                int width = Math.min(COLUMN_PIECE, cb - ca);
                float[] tile = new float[PrefilteredMatch.SCAN_BLOCK * width];
                float[] max = new float[width];
                for (int c0 = ca; c0 < cb; c0 += width) {
                    int len = Math.min(width, cb - c0);
                    for (int t0 = 0; t0 < rows; t0 += PrefilteredMatch.SCAN_BLOCK) { // rows: whole scan blocks
                        for (int t = 0; t < PrefilteredMatch.SCAN_BLOCK; t++) {
                            cos.get((t0 + t) * m + rows + c0, tile, t * len, len);
                        }
                        scan.down(tile, len, first + t0, max, first + rows + c0);
                    }
                }
            });
        }
        java.lang.ref.Reference.reachabilityFence(out);
        java.lang.ref.Reference.reachabilityFence(my);
        scan.permuteRows(pi);
        return true;
    }
}
