package lady.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import lady.permutation.Permutation;

/** Reading a tensor's values in parts ({@link IndexedTensor#streamValues(int, java.util.function.IntFunction)}). */
class IndexedTensorTest {
    /** Per part, the values it received, in order. */
    private static List<List<Float>> parts(IndexedTensor t, int parts) throws java.io.IOException {
        List<List<Float>> got = new ArrayList<>();
        for (int p = 0; p < parts; p++) {
            got.add(new ArrayList<>());
        }
        t.streamValues(parts, part -> (v, n) -> {
            synchronized (got) {
                for (int i = 0; i < n; i++) {
                    got.get(part).add(v[i]);
                }
            }
        });
        return got;
    }

    /**
     * Every part receives the values of its range of the tensor as it reads (Parallel.forParts' split), in order:
     * read at once from the base, or gathered in order through a permutation's index map and dispatched to the
     * parts (fewer values than parts, and uneven ranges, included).
     */
    @Test
    void everyPartReceivesItsRangeInOrderWhetherPermutedOrNot() throws java.io.IOException {
        for (int rows : new int[] {1, 3, 7, 50}) {
            int cols = 3;
            float[] values = new float[rows * cols];
            for (int i = 0; i < values.length; i++) {
                values[i] = i;
            }
            IndexedTensor plain = IndexedTensor.of(HostTensor.ofFloats(values, rows, cols));
            long[] p = Permutation.random(rows, 4).longIndices();
            IndexedTensor permuted = plain.permuted(0, p);
            float[] gathered = permuted.materialize().readFloats();
            for (int parts : new int[] {1, 2, 8}) {
                List<List<Float>> a = parts(plain, parts);
                List<List<Float>> b = parts(permuted, parts);
                long total = values.length;
                for (int part = 0; part < parts; part++) {
                    int from = (int) (total * part / parts);
                    int to = (int) (total * (part + 1) / parts);
                    assertEquals(to - from, a.get(part).size(), rows + " rows, part " + part + " of " + parts);
                    float[] want = java.util.Arrays.copyOfRange(values, from, to);
                    float[] wantPermuted = java.util.Arrays.copyOfRange(gathered, from, to);
                    assertArrayEquals(want, unbox(a.get(part)));
                    assertArrayEquals(wantPermuted, unbox(b.get(part)), "permuted, part " + part + " of " + parts);
                }
            }
        }
    }

    private static float[] unbox(List<Float> l) {
        float[] out = new float[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = l.get(i);
        }
        return out;
    }
}
