package lady.structure;

import java.nio.FloatBuffer;
import java.util.function.IntFunction;

import lady.LadyException;
import lady.permutation.Member;
import lady.tensor.DType;
import lady.tensor.HostTensor;

/**
 * The neuron slices of one member of a group, over a tensor's values: along {@code axis}, neuron {@code j}
 * owns the indices {@code [offset + j*block, offset + (j+1)*block)}; its slice is every entry at those
 * indices (all other axes), in row-major order: {@code outer x block x inner} values, outer being the
 * product of the axes before {@code axis} and inner of those after. A producer's row (axis 0) is one
 * contiguous run; a consumer's column block (axis 1) is strided.
 */
final class Slices {
    final float[] data;
    final long[] shape;
    final int axis;
    final long offset;
    final long block;
    final int n;
    private final long outer;
    private final long inner;
    private final long length;

    Slices(float[] data, long[] shape, Member m, int n) {
        this(data, shape, m.axis(), m.offset(), m.block(), n, m.tensor());
    }

    Slices(float[] data, long[] shape, int axis, long offset, long block, int n, String name) {
        checkRange(shape, axis, offset, block, n, name);
        this.data = data;
        this.shape = shape.clone();
        this.axis = axis;
        this.offset = offset;
        this.block = block;
        this.n = n;
        long o = 1;
        for (int d = 0; d < axis; d++) {
            o *= shape[d];
        }
        long in = 1;
        for (int d = axis + 1; d < shape.length; d++) {
            in *= shape[d];
        }
        outer = o;
        inner = in;
        length = shape[axis];
    }

    /**
     * Refuses a tensor of {@code shape} that has no range for {@code n} neurons of {@code block} on {@code axis} from
     * {@code offset}, or too many values for one array.
     */
    static void checkRange(long[] shape, int axis, long offset, long block, int n, String name) {
        if (axis >= shape.length || offset + n * block > shape[axis]) {
            throw LadyException.invalidInput(String.format("tensor '%s' of shape %s has no range [%d, %d) on axis %d", name,
                    java.util.Arrays.toString(shape), offset, offset + n * block, axis));
        }
        if (HostTensor.numel(shape) > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("tensor '" + name + "' is too large for a structural edit");
        }
    }

    /** Every neuron's slice, neuron after neuron, when {@link #readingAll()} made it (strided slices), else null. */
    private float[] byNeuron;

    /**
     * Runs (a neuron's values in one row) shorter than this many floats (a 64-byte cache line) are what
     * {@link #readingAll()} copies: longer runs (VGG16's classifier.0 columns, 49 values a row) are read well in place,
     * and a neuron-major copy of them only adds memory (400 MB per edit there, 2.5 GB more resident and 40 % more time
     * for nso).
     */
    private static final int SHORT_RUN = 16;

    /** Neurons and rows per tile of {@link #readingAll()}'s transpose. */
    private static final int TILE = 64;

    /**
     * Prepares for reading every neuron's slice ({@link #rebuild} does): strided slices of short runs (a Linear
     * consumer's columns, the values of one neuron spread over every row, one per row) are copied once, tile by tile,
     * into one neuron-major array, and {@link #get(int, double[])} then reads contiguous values (a column read one
     * value per row, 16k columns of an LLM's down projection, was most of the structural edits' time). The same
     * values.
     */
    void readingAll() {
        int run = (int) (block * inner);
        if (outer == 1 || run >= SHORT_RUN || byNeuron != null) {
            return;
        }
        int len = sliceLength();
        long stride = length * inner;
        float[] out = new float[Math.toIntExact((long) n * len)];
        for (long o0 = 0; o0 < outer; o0 += TILE) {
            long o1 = Math.min(outer, o0 + TILE);
            for (int j0 = 0; j0 < n; j0 += TILE) {
                int j1 = Math.min(n, j0 + TILE);
                for (long o = o0; o < o1; o++) {
                    int from = Math.toIntExact(o * stride + offset * inner);
                    int to = Math.toIntExact(o * run);
                    for (int j = j0; j < j1; j++) {
                        int a = from + j * run;
                        int b = j * len + to;
                        for (int r = 0; r < run; r++) {
                            out[b + r] = data[a + r];
                        }
                    }
                }
            }
        }
        byNeuron = out;
    }

    /** Values per neuron. */
    int sliceLength() {
        return Math.toIntExact(outer * block * inner);
    }

    /** Neuron j's slice, into {@code out} (length {@link #sliceLength()}). */
    void get(int j, double[] out) {
        if (byNeuron != null) {
            int len = sliceLength();
            int from = j * len;
            for (int i = 0; i < len; i++) {
                out[i] = byNeuron[from + i];
            }
            return;
        }
        int run = (int) (block * inner);
        int stride = (int) (length * inner);
        int from = (int) ((offset + j * block) * inner);
        int to = 0;
        for (long o = 0; o < outer; o++, from += stride, to += run) {
            for (int r = 0; r < run; r++) {
                out[to + r] = data[from + r];
            }
        }
    }

    /** The squared norm of every neuron's slice, in one pass over the values. */
    double[] squaredNorms() {
        return squaredNorms((first, out, count) -> System.arraycopy(data, (int) first, out, 0, count), shape, axis,
                offset, block, n);
    }

    /** Reads values [first, first + count) of a tensor, converted to float32, into {@code out} from 0. */
    interface Values {
        void read(long first, float[] out, int count);
    }

    /** Values read per call of {@link #squaredNorms(Values, long[], int, long, long, int)}: whole neurons' slices of a
     * row, about this many values (at least one slice). */
    private static final int READ_VALUES = 1 << 16;

    /**
     * {@link #squaredNorms()} over values read in ranges ({@code data}: a tensor's memory, read in place and
     * converted), laid out as {@code shape}: per outer index and neuron, the squares of its run summed in double
     * in order, then added to the neuron's total (the same sums whatever the source).
     */
    static double[] squaredNorms(Values data, long[] shape, int axis, long offset, long block, int n) {
        long outer = 1;
        for (int d = 0; d < axis; d++) {
            outer *= shape[d];
        }
        long inner = 1;
        for (int d = axis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        long length = shape[axis];
        double[] out = new double[n];
        int run = Math.toIntExact(block * inner);
        int per = Math.max(1, Math.min(n, READ_VALUES / Math.max(run, 1))); // neurons per read
        float[] buf = new float[Math.toIntExact((long) per * run)];
        for (long o = 0; o < outer; o++) {
            long base = (o * length + offset) * inner;
            for (int j0 = 0; j0 < n; j0 += per) {
                int count = Math.min(per, n - j0);
                data.read(base + (long) j0 * run, buf, count * run);
                int j = 0;
                for (; j + 4 <= count; j += 4) { // four neurons side by side: independent chains, each in its order
                    int f0 = j * run;
                    double a0 = 0;
                    double a1 = 0;
                    double a2 = 0;
                    double a3 = 0;
                    for (int r = 0; r < run; r++) {
                        double v0 = buf[f0 + r];
                        double v1 = buf[f0 + run + r];
                        double v2 = buf[f0 + 2 * run + r];
                        double v3 = buf[f0 + 3 * run + r];
                        a0 += v0 * v0;
                        a1 += v1 * v1;
                        a2 += v2 * v2;
                        a3 += v3 * v3;
                    }
                    out[j0 + j] += a0;
                    out[j0 + j + 1] += a1;
                    out[j0 + j + 2] += a2;
                    out[j0 + j + 3] += a3;
                }
                for (; j < count; j++) {
                    int from = j * run;
                    double acc = 0;
                    for (int r = 0; r < run; r++) {
                        double v = buf[from + r];
                        acc += v * v;
                    }
                    out[j0 + j] += acc;
                }
            }
        }
        return out;
    }

    /**
     * {sum of squares, dot with {@code w[at...]}} of neuron j's slice times {@code scale}, without copying it (the
     * slice read in {@link #get(int, double[])}'s order).
     */
    double[] squaresAndDot(int j, double scale, double[] w, int at) {
        int run = (int) (block * inner);
        int stride = (int) (length * inner);
        int from = (int) ((offset + j * block) * inner);
        double ss = 0;
        double dot = 0;
        int k = at;
        for (long o = 0; o < outer; o++, from += stride) {
            for (int r = 0; r < run; r++) {
                double v = scale * data[from + r];
                ss += v * v;
                dot += v * w[k++];
            }
        }
        return new double[] {ss, dot};
    }

    /** Neuron j's slice as a new array. */
    double[] get(int j) {
        double[] out = new double[sliceLength()];
        get(j, out);
        return out;
    }

    /**
     * The tensor with this range replaced by {@code count} new slices ({@code slice.apply(j)}, each of
     * {@link #sliceLength()} values, computed once and rounded to float32); everything outside the range kept. Written
     * straight into a new float32 tensor in native memory (no Java copy of it in between: for a 400 MB weight that was
     * one more array to allocate, zero and fault in per edit).
     */
    HostTensor rebuild(int count, IntFunction<double[]> slice) {
        return rebuild(count, slice, false);
    }

    /** {@link #rebuild(int, IntFunction)}; {@code windows}: one buffer window per run even below 2 GiB (tests). */
    HostTensor rebuild(int count, IntFunction<double[]> slice, boolean windows) {
        long newLength = length - n * block + count * block;
        long[] newShape = shape.clone();
        newShape[axis] = newLength;
        HostTensor out = HostTensor.allocate(DType.FLOAT32, newShape);
        Runs runs = new Runs(out, windows);
        long head = offset * inner;
        long tailFrom = (offset + n * block) * inner;
        long tail = (length - offset - n * block) * inner;
        for (long o = 0; o < outer; o++) {
            runs.put(o * newLength * inner, data, Math.toIntExact(o * length * inner), Math.toIntExact(head));
            runs.put(o * newLength * inner + (offset + count * block) * inner, data,
                    Math.toIntExact(o * length * inner + tailFrom), Math.toIntExact(tail));
        }
        int run = Math.toIntExact(block * inner);
        int len = sliceLength();
        // new slices a batch of neurons at a time: per row, the batch's runs lie side by side in the output (one put
        // per row and batch, not one per row and neuron: a column is one value per row)
        int batch = outer == 1 ? 1 : Math.max(1, Math.min(count, REBUILD_BATCH_VALUES / Math.max(len, 1)));
        float[] f = new float[batch * len];
        float[] row = new float[batch * run];
        for (int j0 = 0; j0 < count; j0 += batch) {
            int b = Math.min(batch, count - j0);
            for (int k = 0; k < b; k++) {
                double[] v = slice.apply(j0 + k);
                int at = k * len;
                for (int i = 0; i < len; i++) {
                    f[at + i] = (float) v[i];
                }
            }
            for (long o = 0; o < outer; o++) {
                int from = Math.toIntExact(o * run);
                float[] src = f;
                if (b > 1) {
                    for (int k = 0; k < b; k++) {
                        System.arraycopy(f, k * len + from, row, k * run, run);
                    }
                    src = row;
                    from = 0;
                }
                runs.put((o * newLength + offset + (long) j0 * block) * inner, src, from, b * run);
            }
        }
        return out;
    }

    /**
     * Values of the new slices {@link #rebuild} holds at once: 512 KB of float32, under half a G1 region (a larger
     * buffer per rebuilt tensor is a humongous allocation: with 4 MB ones nso on VGG16 took 40 % longer and 2.5 GB
     * more memory).
     */
    private static final int REBUILD_BATCH_VALUES = 1 << 17;

    /** Runs of floats put into a float32 tensor: through one buffer when it is at most 2 GiB, else one window a run. */
    private static final class Runs {
        private final HostTensor t;
        private final FloatBuffer all;

        Runs(HostTensor t, boolean windows) {
            this.t = t;
            this.all = !windows && t.byteSize() <= Integer.MAX_VALUE - 8 ? t.floats() : null;
        }

        /** values[from, from + count) to the tensor's elements [at, at + count). */
        void put(long at, float[] values, int from, int count) {
            if (count == 0) {
                return;
            }
            if (all != null) {
                all.put((int) at, values, from, count);
            } else {
                t.bytes(4 * at, 4 * count).asFloatBuffer().put(values, from, count);
            }
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }
}
