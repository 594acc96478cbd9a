package lady.resync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.checkpoint.StateDict;
import lady.kernels.Backend;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.permutation.Permutation;
import lady.permutation.Role;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * What a group's rows give without being gathered into float32 copies (a 7B model's stream reads every layer's
 * columns): the matched pairs' cosines of a later pass's certificate, the verdict's sample of rows and the
 * integrity check's norms, read where the rows lie through lazy index maps, equal the gathered rows' figures.
 */
class RowPairTest {
    /** A [12, 10, 3] tensor of random values in {@code dt}. */
    private static HostTensor random(DType dt, long seed) {
        return random(dt, seed, 12, 10, 3);
    }

    private static HostTensor random(DType dt, long seed, long... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        HostTensor t = HostTensor.allocate(dt, shape);
        java.nio.ByteBuffer b = t.bytes(0, (int) t.byteSize());
        for (int i = 0; i < t.numel(); i++) {
            float v = (float) rnd.nextGaussian();
            if (dt == DType.FLOAT32) {
                b.putFloat(4 * i, v);
            } else if (dt == DType.FLOAT16) {
                b.putShort(2 * i, HostTensor.floatToFloat16(v));
            } else {
                b.putShort(2 * i, (short) (Float.floatToIntBits(v) >>> 16));
            }
        }
        return t;
    }

    @Test
    void pairsSamplesAndNormsReadWhereTheRowsLieEqualTheGatheredRows() {
        for (DType dt : List.of(DType.BFLOAT16, DType.FLOAT32, DType.FLOAT16)) {
            StateDict ref = new StateDict();
            ref.put("w", random(dt, 1));
            StateDict sus = new StateDict();
            sus.put("w", random(dt, 1)); // the same values, then moved on both axes
            sus.permuteLazily("w", 0, Permutation.random(12, 3).longIndices());
            sus.permuteLazily("w", 1, Permutation.random(10, 4).longIndices());
            for (Member m : List.of(new Member("w", 0, 2, 2, Role.PRODUCER_WEIGHT),
                    new Member("w", 1, 3, 1, Role.CONSUMER_WEIGHT), new Member("w", 1, 0, 2, Role.CONSUMER_WEIGHT))) {
                int n = m.axis() == 0 ? 5 : m.block() == 2 ? 5 : 7;
                String what = dt + " " + m;
                HostTensor a = MemberSlices.rows(ref.indexed("w"), m, n);
                HostTensor b = MemberSlices.rows(sus.indexed("w"), m, n);

                RowPair lazy = RowPair.of(ref.indexed("w"), sus.indexed("w"), m, n);
                double[] want = Similarity.diagonalCosine(a, b, n);
                double[] got = lazy.diagonalCosine();
                for (int i = 0; i < n; i++) {
                    assertEquals(want[i], got[i], 1e-12, what + " pair " + i);
                }
                long[] refRows = {n - 1, 0, 2};
                long[] susRows = {1, n - 1, 0}; // any order, as the verdict's matched columns
                float[] wantBlock = new float[9];
                HostTensor[] gathered = RowPair.of(a, b).subset(refRows, susRows);
                Similarity.accumulateCosine(Backend.CPU, gathered[0], gathered[1], wantBlock);
                float[] gotBlock = new float[9];
                HostTensor[] read = lazy.subset(refRows, susRows);
                Similarity.accumulateCosine(Backend.CPU, read[0], read[1], gotBlock);
                assertArrayEquals(wantBlock, gotBlock, 1e-6f, what + " sample");
                if (m.axis() == 0 || m.block() == 1) {
                    assertFalse(lazy.gathered(), what + ": no float32 copy of the member");
                }

                double[] wantNorms = new double[n];
                Similarity.accumulateSquaredNorms(b, wantNorms);
                double[] gotNorms = new double[n];
                NeuronRows.of(sus.indexed("w"), m, n).accumulateSquaredNorms(gotNorms);
                for (int i = 0; i < n; i++) {
                    assertEquals(wantNorms[i], gotNorms[i], 1e-12 * wantNorms[i], what + " norm " + i);
                }
            }
        }
    }

    /** A few neurons of an axis-1 member (the verdict's sample of a wide group) are read value by value: the same
     * vectors as when every neuron's rows are converted. */
    @Test
    void fewNeuronsOfAColumnMemberAreTheirVectors() {
        for (DType dt : List.of(DType.BFLOAT16, DType.FLOAT32, DType.FLOAT16)) {
            StateDict sd = new StateDict();
            sd.put("w", random(dt, 5, 6, 40, 3));
            sd.permuteLazily("w", 0, Permutation.random(6, 6).longIndices());
            sd.permuteLazily("w", 1, Permutation.random(40, 7).longIndices());
            // the last member is a slice of the columns (a value head's columns of an output projection): its rows are
            // read without the rest of each row
            for (Member m : List.of(new Member("w", 1, 0, 1, Role.CONSUMER_WEIGHT), new Member("w", 1, 0, 2,
                    Role.CONSUMER_WEIGHT), new Member("w", 1, 8, 2, Role.CONSUMER_WEIGHT))) {
                int n = m.offset() == 0 ? (int) (40 / m.block()) : 10;
                NeuronRows rows = NeuronRows.of(sd.indexed("w"), m, n);
                float[] all = rows.materialize().readFloats();
                // every neuron's vector as the layout says: row by row, its block of columns (times the inner size)
                float[] logical = sd.indexed("w").materialize().readFloats();
                int seg = (int) m.block() * 3;
                int at = (int) m.offset() * 3;
                for (int j = 0; j < n; j++) {
                    for (int o = 0; o < 6; o++) {
                        int from = o * 120 + at + j * seg;
                        assertArrayEquals(java.util.Arrays.copyOfRange(logical, from, from + seg),
                                java.util.Arrays.copyOfRange(all, j * rows.d + o * seg, j * rows.d + (o + 1) * seg),
                                dt + " " + m + " neuron " + j + " row " + o);
                    }
                }
                int[] few = {n - 1, 3, 0};
                float[] got = rows.materialize(few).readFloats();
                for (int k = 0; k < few.length; k++) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(all, few[k] * rows.d, (few[k] + 1) * rows.d),
                            java.util.Arrays.copyOfRange(got, k * rows.d, (k + 1) * rows.d), dt + " " + m + " neuron " + few[k]);
                }
            }
        }
    }

    /**
     * The verdict's sampled rows read into buffers kept from one pair to the next (their old contents NaN) equal the
     * gathered rows bit for bit: on axis 0, and on axis 1 for a few neurons (stored values one by one, or the stored
     * row copied whole first) and for many.
     */
    @Test
    void sampledRowsReadIntoReusedBuffersEqualTheGatheredRows() {
        for (DType dt : List.of(DType.BFLOAT16, DType.FLOAT32)) {
            StateDict ref = new StateDict();
            ref.put("w", random(dt, 5, 6, 40));
            StateDict sus = new StateDict();
            sus.put("w", random(dt, 6, 6, 40));
            sus.permuteLazily("w", 0, Permutation.random(6, 7).longIndices());
            sus.permuteLazily("w", 1, Permutation.random(40, 8).longIndices());
            lady.tensor.HostMemory[] buffers = new lady.tensor.HostMemory[2];
            try {
                for (Member m : List.of(new Member("w", 1, 0, 1, Role.CONSUMER_WEIGHT),
                        new Member("w", 0, 0, 1, Role.PRODUCER_WEIGHT))) {
                    int n = m.axis() == 0 ? 6 : 40;
                    HostTensor a = MemberSlices.rows(ref.indexed("w"), m, n);
                    HostTensor b = MemberSlices.rows(sus.indexed("w"), m, n);
                    RowPair lazy = RowPair.of(ref.indexed("w"), sus.indexed("w"), m, n);
                    for (long[] rows : List.of(new long[] {n - 1}, new long[] {n - 2, 1, 3},
                            java.util.stream.LongStream.range(0, n / 2).map(r -> n - 1 - 2 * r).toArray())) {
                        for (lady.tensor.HostMemory buf : buffers) { // what an earlier pair left: not read
                            if (buf != null) {
                                java.nio.FloatBuffer f = buf.buffer(0, (int) buf.length())
                                        .order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
                                for (int t = 0; t < f.limit(); t++) {
                                    f.put(t, Float.NaN);
                                }
                            }
                        }
                        long[] cols = new long[rows.length]; // the suspect's rows in another order
                        for (int r = 0; r < rows.length; r++) {
                            cols[r] = rows[rows.length - 1 - r];
                        }
                        HostTensor[] want = RowPair.of(a, b).subset(rows, cols);
                        HostTensor[] got = lazy.subset(rows, cols, buffers);
                        String what = dt + " " + m + " " + rows.length + " rows";
                        for (int side = 0; side < 2; side++) {
                            assertArrayEquals(floats(want[side]), floats(got[side]), what + " side " + side);
                        }
                        assertEquals(buffers[0], got[0].memory(), what + ": the reference's rows are in the buffer");
                        assertEquals(buffers[1], got[1].memory(), what + ": the suspect's rows are in the buffer");
                    }
                }
            } finally {
                Combination.closeAll(buffers);
            }
        }
    }

    /** A float32 tensor's values. */
    private static float[] floats(HostTensor t) {
        float[] out = new float[(int) t.numel()];
        t.floats().get(0, out);
        return out;
    }
}
