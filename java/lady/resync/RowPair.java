package lady.resync;

import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;

/**
 * The reference's and the suspect's rows of one contribution (n x d float32 host tensors, row per neuron),
 * gathered through {@link MemberSlices} only when a dense product needs them: the prefilter reads them where
 * they lie ({@link #neuronRows}: a mapped file's bytes, the suspect through its lazy index maps), and the
 * matched pairs alone ({@link #diagonalCosine()}, a later pass's certificate) are read in the tensors' own
 * layout.
 */
final class RowPair {
    private final IndexedTensor referenceTensor;
    private final IndexedTensor suspectTensor;
    private final Member member;
    private final long n;
    private final long dimension;
    private HostTensor reference;
    private HostTensor suspect;

    private RowPair(IndexedTensor referenceTensor, IndexedTensor suspectTensor, Member member, long n, long dimension,
            HostTensor reference, HostTensor suspect) {
        this.referenceTensor = referenceTensor;
        this.suspectTensor = suspectTensor;
        this.member = member;
        this.n = n;
        this.dimension = dimension;
        this.reference = reference;
        this.suspect = suspect;
    }

    /** Whether the rows were gathered into float32 copies (a dense product asked for them). */
    boolean gathered() {
        return reference != null || suspect != null;
    }

    /** Rows already gathered (n x d float32, contiguous). */
    static RowPair of(HostTensor reference, HostTensor suspect) {
        return new RowPair(null, null, null, reference.size(0), reference.size(1), reference, suspect);
    }

    /** The rows of {@code member} in the reference's and the suspect's tensor, for a group of n neurons. */
    static RowPair of(IndexedTensor referenceTensor, IndexedTensor suspectTensor, Member member, long n) {
        MemberSlices.Layout layout = MemberSlices.layout(referenceTensor.shape(), member, n);
        return new RowPair(referenceTensor, suspectTensor, member, n, layout.outer() * layout.run(), null, null);
    }

    long dimension() {
        return dimension;
    }

    HostTensor reference() {
        if (reference == null) {
            reference = MemberSlices.rows(referenceTensor, member, n);
        }
        return reference;
    }

    HostTensor suspect() {
        if (suspect == null) {
            suspect = MemberSlices.rows(suspectTensor, member, n);
        }
        return suspect;
    }

    /**
     * The rows as the prefilter reads them, {reference, suspect}: where they lie for a member of a tensor (no
     * float32 copy), else the gathered rows.
     */
    NeuronRows[] neuronRows() {
        if (member == null || reference != null && suspect != null) {
            return new NeuronRows[] {NeuronRows.dense(reference(), n), NeuronRows.dense(suspect(), n)};
        }
        return new NeuronRows[] {NeuronRows.of(referenceTensor, member, n), NeuronRows.of(suspectTensor, member, n)};
    }

    /**
     * The reference's rows {@code refRows} and the suspect's rows {@code susRows}, as {reference, suspect} (new
     * tensors, laid out as {@link MemberSlices#rows}): from the gathered rows when a dense product gathered them,
     * else, for members on axis 0 and columns of block 1, read where they lie
     * ({@link NeuronRows#materialize(int[])}: only these neurons in float32, never the whole member).
     */
    HostTensor[] subset(long[] refRows, long[] susRows) {
        return subset(refRows, susRows, null);
    }

    /**
     * As {@link #subset(long[], long[])}; rows read where they lie go into {@code buffers[0]} and {@code [1]}
     * (grown as needed by {@link PrefilteredMatch#buffer}, kept by the caller from one pair to the next: fresh memory
     * is page-faulted on first touch, 131 MB per side for 256 columns of a 128k-row embedding) when it is given.
     * Close a returned tensor's memory only when it is not one of the buffers.
     */
    HostTensor[] subset(long[] refRows, long[] susRows, HostMemory[] buffers) {
        if (member == null || gathered() || member.axis() != 0 && member.block() != 1) {
            return new HostTensor[] {select(reference(), refRows), select(suspect(), susRows)};
        }
        NeuronRows[] rows = neuronRows(); // on axis 0 and for columns of block 1, MemberSlices' layout
        long bytes = 4L * refRows.length * rows[0].d;
        return new HostTensor[] {
                rows[0].materialize(ints(refRows), buffers == null ? null : PrefilteredMatch.buffer(buffers, 0, bytes)),
                rows[1].materialize(ints(susRows), buffers == null ? null : PrefilteredMatch.buffer(buffers, 1, bytes))};
    }

    private static int[] ints(long[] values) {
        int[] out = new int[values.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = Math.toIntExact(values[k]);
        }
        return out;
    }

    /** Rows {@code which} of contiguous float32 n x d rows, in that order (a new tensor). */
    private static HostTensor select(HostTensor rows, long[] which) {
        long d = rows.size(1);
        long rowBytes = d * Float.BYTES;
        HostTensor out = HostTensor.allocate(DType.FLOAT32, which.length, d);
        for (int k = 0; k < which.length; k++) {
            HostTensor.copyBytes(out.address() + k * rowBytes, rows.address() + which[k] * rowBytes, rowBytes);
        }
        java.lang.ref.Reference.reachabilityFence(rows);
        return out;
    }

    /**
     * Frees the memory of the rows gathered from the tensors (copies: a consumer's columns, converted
     * dtypes); rows that are views of the state dicts' tensors stay. The pair is not read again.
     */
    void release() {
        release(reference, referenceTensor);
        release(suspect, suspectTensor);
        reference = null;
        suspect = null;
    }

    /**
     * As {@link #release()} when the rows can be gathered again from the tensors (a member's rows: read again if asked);
     * rows given as such are kept.
     */
    void releaseGathered() {
        if (member != null) {
            release();
        }
    }

    private static void release(HostTensor rows, IndexedTensor source) {
        if (rows != null && (source == null || rows.memory() != source.base().memory())) {
            rows.memory().close();
        }
    }

    /** cos(reference row i, suspect row i) for every i, read where the rows lie unless they were gathered. */
    double[] diagonalCosine() {
        if (member == null || reference != null && suspect != null) {
            return Similarity.diagonalCosine(reference(), suspect(), Math.toIntExact(n));
        }
        NeuronRows[] rows = neuronRows();
        if (rows[0].byRows != rows[1].byRows) { // one side converted (a dtype read only through a copy): gather both
            return Similarity.diagonalCosine(reference(), suspect(), Math.toIntExact(n));
        }
        return NeuronRows.diagonalCosine(rows[0], rows[1]);
    }
}
