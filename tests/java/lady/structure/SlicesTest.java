package lady.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import lady.tensor.HostTensor;

/** {@link Slices#rebuild}: the tensor with a member's range replaced, checked against a plain construction. */
class SlicesTest {
    /**
     * A [4, 2 + 3*5 + 1, 2] tensor whose axis 1 holds 5 neurons of block 3 at offset 2: rebuilt into 7 neurons (each
     * new neuron j the values 1000 j + i), through one buffer and through one window per run.
     */
    @Test
    void rebuildKeepsWhatIsOutsideTheRangeAndPutsEveryNewSlice() {
        long[] shape = {4, 18, 2};
        float[] data = new float[4 * 18 * 2];
        SplittableRandom rng = new SplittableRandom(3);
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) rng.nextGaussian();
        }
        Slices s = new Slices(data, shape, 1, 2, 3, 5, "t");
        int count = 7;
        int len = s.sliceLength(); // 4 outer x 3 x 2 inner
        float[] want = new float[4 * (18 - 15 + 21) * 2];
        int newLength = 18 - 15 + 21;
        for (int o = 0; o < 4; o++) {
            for (int a = 0; a < newLength; a++) {
                for (int in = 0; in < 2; in++) {
                    float v;
                    if (a < 2) {
                        v = data[(o * 18 + a) * 2 + in];
                    } else if (a < 2 + count * 3) {
                        int j = (a - 2) / 3;
                        int r = o * 6 + ((a - 2) % 3) * 2 + in; // the slice's order: outer, block, inner
                        v = 1000f * j + r;
                    } else {
                        v = data[(o * 18 + a - 21 + 15) * 2 + in];
                    }
                    want[(o * newLength + a) * 2 + in] = v;
                }
            }
        }
        for (boolean windows : new boolean[] {false, true}) {
            HostTensor t = s.rebuild(count, j -> {
                double[] v = new double[len];
                for (int i = 0; i < len; i++) {
                    v[i] = 1000.0 * j + i;
                }
                return v;
            }, windows);
            assertArrayEquals(new long[] {4, newLength, 2}, t.shape());
            assertArrayEquals(want, t.readFloats(), "windows " + windows);
        }
    }

    /** Strided slices read through the neuron-major copy ({@link Slices#readingAll}) are the ones read in place. */
    @Test
    void readingAllGivesTheSameSlices() {
        long[] shape = {70, 200, 3}; // more rows and neurons than one tile, a block of 2 at offset 5
        float[] data = new float[70 * 200 * 3];
        SplittableRandom rng = new SplittableRandom(4);
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) rng.nextGaussian();
        }
        Slices s = new Slices(data, shape, 1, 5, 2, 90, "t");
        double[][] before = new double[90][];
        for (int j = 0; j < 90; j++) {
            before[j] = s.get(j);
        }
        s.readingAll();
        for (int j = 0; j < 90; j++) {
            assertArrayEquals(before[j], s.get(j), "neuron " + j);
        }
    }
}
