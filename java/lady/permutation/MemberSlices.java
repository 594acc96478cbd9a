package lady.permutation;

import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

/**
 * The per-neuron slices of a group member: the one place that turns a member's (axis, offset, block)
 * into rows. Neuron j of a group of {@code n} owns, along the member's axis, the indices
 * {@code [offset + j*block, offset + (j+1)*block)}; its slice is every entry of the tensor at those
 * indices (all other axes), flattened in the tensor's order. For a conv weight's rows that is the filter;
 * for a consumer's columns (axis 1), the column block; for attention heads, head_dim rows of one q/k/v
 * segment.
 */
public final class MemberSlices {
    private MemberSlices() {}

    /** The slices of member {@code m} of a group of {@code n} neurons in {@code t}: a contiguous float32 [n, k]
     * tensor (the tensor itself, seen as [n, k], when the member is all of a float32 tensor's axis 0). */
    public static HostTensor rows(HostTensor t, Member m, long n) {
        long[] shape = t.shape();
        long span = n * m.block();
        if (m.axis() == 0 && m.offset() == 0 && shape.length > 0 && shape[0] == span) {
            return t.toFloat32().reshape(n, -1);
        }
        return t.axisSlice(m.axis(), m.offset(), span).toFloat32().reshape(n, -1);
    }

    /**
     * As {@link #rows(HostTensor, Member, long)} for a tensor that may be permuted lazily: only the member's
     * rows are gathered from its base (axis 0), or the tensor for the time of the call (other axes); the
     * state dict keeps its index maps.
     */
    public static HostTensor rows(IndexedTensor t, Member m, long n) {
        if (t.identity()) {
            return rows(t.base(), m, n);
        }
        long span = n * m.block();
        if (m.axis() == 0) {
            return t.rows(m.offset(), m.offset() + span).toFloat32().reshape(n, -1);
        }
        if (m.axis() == 1 && t.shape().length == 2 && t.valueMap() == null && t.dtype().floating()) {
            long[] range = baseColumns(t, m.offset(), span);
            if (range[1] - range[0] < t.shape()[1] / FEW_COLUMNS) {
                return columns(t, m.offset(), span, range).reshape(n, -1);
            }
        }
        return t.materialize().axisSlice(m.axis(), m.offset(), span).toFloat32().reshape(n, -1);
    }

    /** Columns read one row at a time ({@link #columns}) when they come from less than this fraction of the width. */
    private static final long FEW_COLUMNS = 4;

    /** The range [lo, hi] of base columns that columns [from, from + span) of {@code t} read. */
    private static long[] baseColumns(IndexedTensor t, long from, long span) {
        long[] p1 = t.columnMap();
        long lo = Long.MAX_VALUE;
        long hi = -1;
        for (long c = from; c < from + span; c++) {
            long b = p1 == null ? c : p1[(int) c];
            lo = Math.min(lo, b);
            hi = Math.max(hi, b);
        }
        return new long[] {lo, hi};
    }

    /**
     * Columns [from, from + span) of a lazily permuted matrix, axis 1 first ([span, rows] float32), read from its base
     * through both index maps: base columns {@code range} (lo, hi) of each row (a nested group's few columns of a
     * projection: never a gathered copy of the whole matrix).
     */
    private static HostTensor columns(IndexedTensor t, long from, long span, long[] range) {
        int rows = Math.toIntExact(t.shape()[0]);
        long width = t.shape()[1];
        long[] p0 = t.rowMap();
        long[] p1 = t.columnMap();
        long lo = range[0];
        long hi = range[1];
        int cols = Math.toIntExact(span);
        float[] run = new float[Math.toIntExact(hi - lo + 1)];
        float[] out = new float[Math.multiplyExact(cols, rows)];
        HostTensor.ValueReader reader = t.base().valueReader();
        for (int r = 0; r < rows; r++) {
            long base = p0 == null ? r : p0[r];
            reader.read(base * width + lo, run, 0, run.length);
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = run[(int) ((p1 == null ? from + c : p1[(int) (from + c)]) - lo)];
            }
        }
        return HostTensor.ofFloats(out, span, rows);
    }

    /**
     * {@code t} with member {@code m}'s neuron slices gathered by {@code match} (new neuron j = old neuron
     * match[j]), everything outside the member's range untouched: a new tensor. Unlike a permutation,
     * {@code match} may repeat neurons (the paper's argmax with duplicates).
     */
    public static HostTensor gather(HostTensor t, Member m, long[] match) {
        return t.gather(m.axis(), m.offset(), m.block(), match);
    }

    /**
     * Where member {@code m}'s neuron slices lie in a tensor of {@code shape} seen as [outer, axisLength, inner]
     * (the axes before the member's axis, its axis, the axes after): neuron j of a group of n owns, for each outer
     * index o, the run of {@link #run()} consecutive elements starting at {@link #start(long, long)}.
     *
     * @param outer      product of the sizes before the axis
     * @param axisLength the axis's size
     * @param inner      product of the sizes after the axis
     * @param offset     the member's offset on the axis
     * @param block      the member's block
     */
    public record Layout(long outer, long axisLength, long inner, long offset, long block) {
        /** Elements of one run: block x inner. */
        public long run() {
            return block * inner;
        }

        /** Element index of neuron j's run under outer index o. */
        public long start(long o, long j) {
            return (o * axisLength + offset + j * block) * inner;
        }
    }

    /** The layout of member {@code m} of a group of {@code n} neurons in a tensor of {@code shape}, checked. */
    public static Layout layout(long[] shape, Member m, long n) {
        int axis = m.axis();
        if (axis >= shape.length || m.offset() + n * m.block() > shape[axis]) {
            throw lady.LadyException.invalidInput("tensor " + lady.util.Text.quote(m.tensor()) + " of shape "
                    + lady.util.Text.shape(shape) + " has no range [" + m.offset() + ", " + (m.offset() + n * m.block())
                    + ") on axis " + axis + " for its group of " + n + " neurons");
        }
        long outer = 1;
        for (int a = 0; a < axis; a++) {
            outer *= shape[a];
        }
        long inner = 1;
        for (int a = axis + 1; a < shape.length; a++) {
            inner *= shape[a];
        }
        return new Layout(outer, shape[axis], inner, m.offset(), m.block());
    }
}
