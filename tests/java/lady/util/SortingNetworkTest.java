package lady.util;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** The column sort by sorting network against Arrays.sort, column by column. */
class SortingNetworkTest {

    /**
     * Every length from 1 to past the network's limit, several column counts and offsets, values with ties, both
     * zeros and a wide range: each column ends as Arrays.sort leaves it, and the values outside the block stay.
     */
    @Test
    void sortsEveryColumnAsArraysSort() {
        SplittableRandom r = new SplittableRandom(11);
        int[] lengths = new int[SortingNetwork.MAX_LENGTH + 8];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = i + 1;
        }
        for (int len : lengths) {
            for (int across : new int[] {1, 3, 17}) {
                int first = 5;
                float[] v = new float[first + len * across + 4];
                for (int i = 0; i < v.length; i++) {
                    int kind = r.nextInt(6);
                    v[i] = kind == 0 ? 0.0f : kind == 1 ? -0.0f : kind == 2 ? (float) r.nextInt(4)
                            : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-20, 20)));
                }
                float[] want = v.clone();
                for (int c = 0; c < across; c++) {
                    float[] col = new float[len];
                    for (int s = 0; s < len; s++) {
                        col[s] = want[first + s * across + c];
                    }
                    Arrays.sort(col);
                    for (int s = 0; s < len; s++) {
                        want[first + s * across + c] = col[s];
                    }
                }
                SortingNetwork.sortColumns(v, first, len, across);
                int[] wantBits = new int[v.length];
                int[] gotBits = new int[v.length];
                for (int i = 0; i < v.length; i++) {
                    wantBits[i] = Float.floatToRawIntBits(want[i]);
                    gotBits[i] = Float.floatToRawIntBits(v[i]);
                }
                assertArrayEquals(wantBits, gotBits, "length " + len + ", " + across + " columns");
            }
        }
    }

    /** The network's size: Batcher's comparator count for powers of two (n/4 log n (log n - 1) + n - 1). */
    @Test
    void networkHasBatchersSize() {
        for (int k = 1; k <= 8; k++) {
            int n = 1 << k;
            assertEquals(n / 4 * k * (k - 1) + n - 1, SortingNetwork.comparators(n).length / 2, "n = " + n);
        }
    }
}
