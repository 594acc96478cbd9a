package lady.tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;

import lady.LadyException;
import lady.kernels.Backend;
import lady.kernels.Kernels;

/**
 * A tensor read through index maps on its first two axes: element {@code [i, j, rest]} is
 * {@code base[rows[i], cols[j], rest]} (a null map is the identity). This is how a
 * {@code lady.checkpoint.StateDict} keeps a permuted tensor without copying it: the permutation stays
 * an index map over the base (usually the mapped checkpoint file, never written), and the bytes are
 * gathered from it only where they are read or written ({@link #gatherRows}, {@link #stream}: the
 * native gather kernel, lady.h kernel 5). Immutable.
 */
public final class IndexedTensor {
    private final HostTensor base;
    private final long[] rows;
    private final long[] cols;

    private IndexedTensor(HostTensor base, long[] rows, long[] cols) {
        this.base = base;
        this.rows = rows;
        this.cols = cols;
    }

    /** {@code base} itself, without maps. */
    public static IndexedTensor of(HostTensor base) {
        return new IndexedTensor(base, null, null);
    }

    /** The tensor the maps read from. */
    public HostTensor base() {
        return base;
    }

    /** The index map of axis 0 (new index -> base index), or null for the identity. */
    public long[] rowMap() {
        return rows;
    }

    /** The index map of axis 1 (new index -> base index), or null for the identity. */
    public long[] columnMap() {
        return cols;
    }

    /** Whether no map is set: the tensor is its base. */
    public boolean identity() {
        return rows == null && cols == null;
    }

    public DType dtype() {
        return base.dtype();
    }

    public long[] shape() {
        return base.shape();
    }

    public long numel() {
        return base.numel();
    }

    public long byteSize() {
        return base.byteSize();
    }

    /** Size of axis 0 as the gather sees it (1 for a scalar). */
    public long rowCount() {
        return base.dim() == 0 ? 1 : base.size(0);
    }

    /** Units along axis 1 (1 for a tensor of fewer than 2 axes). */
    private long n1() {
        return base.dim() < 2 ? 1 : base.size(1);
    }

    /** Bytes of one axis-1 unit: the axes after 1, times the element size. */
    private long unitBytes() {
        long u = base.dtype().elementSize();
        for (int a = 2; a < base.dim(); a++) {
            u *= base.size(a);
        }
        return u;
    }

    /** Bytes of one row (everything at one axis-0 index). */
    public long rowBytes() {
        return n1() * unitBytes();
    }

    /**
     * This tensor permuted along {@code axis} (0 or 1) by the full-axis index map {@code p}: new index j is
     * old index p[j] (method.md section 2), composed with the maps already set. {@code p} is checked to be
     * a permutation.
     */
    public IndexedTensor permuted(int axis, long[] p) {
        if (axis < 0 || axis > 1 || axis >= Math.max(base.dim(), 1)) {
            throw new LadyException(LadyException.Kind.INTERNAL, "an index map on axis " + axis + " of a tensor of shape "
                    + Arrays.toString(base.shape()) + " (axes 0 and 1 only)");
        }
        long n = axis == 0 ? rowCount() : n1();
        if (p.length != n) {
            throw new LadyException(LadyException.Kind.INTERNAL, "an index map of " + p.length + " for axis " + axis
                    + " of a tensor of shape " + Arrays.toString(base.shape()));
        }
        Kernels.validatePermutation(p);
        long[] old = axis == 0 ? rows : cols;
        long[] composed = new long[p.length];
        for (int j = 0; j < p.length; j++) {
            composed[j] = old == null ? p[j] : old[(int) p[j]];
        }
        if (isIdentity(composed)) {
            composed = null;
        }
        return axis == 0 ? new IndexedTensor(base, composed, cols) : new IndexedTensor(base, rows, composed);
    }

    private static boolean isIdentity(long[] m) {
        for (int i = 0; i < m.length; i++) {
            if (m[i] != i) {
                return false;
            }
        }
        return true;
    }

    /** Writes rows [from, to) of this tensor, gathered, to native memory at {@code dst} (contiguous). */
    public void gatherRows(long dst, long from, long to) {
        Kernels.gatherRows(Backend.CPU, base.address(), dst, rowCount(), n1(), unitBytes(), rows, cols, from, to);
        java.lang.ref.Reference.reachabilityFence(base);
    }

    /** Rows [from, to) in fresh memory, shape {@code [to - from, rest...]} (a view of the base when no map applies). */
    public HostTensor rows(long from, long to) {
        long[] shape = base.dim() == 0 ? new long[] {} : base.shape();
        if (base.dim() > 0) {
            shape[0] = to - from;
        }
        if (identity() || (cols == null && isIdentityRange(rows, from, to))) {
            return base.dim() == 0 ? base : HostTensor.view(base.memory(), base.offset() + from * rowBytes(), dtype(), shape);
        }
        HostTensor out = HostTensor.allocate(dtype(), shape);
        gatherRows(out.address(), from, to);
        return out;
    }

    private static boolean isIdentityRange(long[] m, long from, long to) {
        if (m == null) {
            return true;
        }
        for (long i = from; i < to; i++) {
            if (m[(int) i] != i) {
                return false;
            }
        }
        return true;
    }

    /** The whole tensor, gathered into fresh memory (the base itself when no map applies). */
    public HostTensor materialize() {
        return identity() ? base : rows(0, rowCount());
    }

    /** Receives consecutive byte chunks of a tensor. */
    @FunctionalInterface
    public interface ChunkSink {
        void accept(ByteBuffer chunk) throws java.io.IOException;
    }

    /**
     * Streams the tensor's bytes in order to {@code sink}: the base's own bytes when no map applies (a
     * mapped file's pages), else whole rows gathered into {@code scratch} (reused: the sink must consume a
     * chunk before returning). Chunks are at most {@code scratch}'s length or 1 GiB.
     */
    public void stream(HostMemory scratch, ChunkSink sink) throws java.io.IOException {
        long total = byteSize();
        if (identity()) {
            for (long done = 0; done < total; done += HostTensor.WINDOW) {
                sink.accept(base.bytes(done, (int) Math.min(HostTensor.WINDOW, total - done)));
            }
            java.lang.ref.Reference.reachabilityFence(base);
            return;
        }
        long rowBytes = rowBytes();
        if (rowBytes > HostTensor.WINDOW) {
            throw LadyException.invalidInput("a permuted tensor of shape " + Arrays.toString(shape()) + " has rows of "
                    + rowBytes + " bytes, more than Lady writes at once (" + HostTensor.WINDOW + ")");
        }
        if (rowBytes > scratch.length()) { // one row larger than the shared buffer: a buffer of its own
            try (HostMemory own = HostMemory.allocate(rowBytes)) {
                stream(own, sink);
            }
            return;
        }
        long perChunk = Math.max(1, Math.min(scratch.length(), HostTensor.WINDOW) / Math.max(rowBytes, 1));
        long n = rowCount();
        for (long r = 0; r < n; r += perChunk) {
            long to = Math.min(n, r + perChunk);
            gatherRows(scratch.address(), r, to);
            sink.accept(scratch.buffer(0, (int) ((to - r) * rowBytes)));
        }
        java.lang.ref.Reference.reachabilityFence(scratch);
    }

    @Override
    public String toString() {
        return base + (identity() ? "" : " (index maps:" + (rows != null ? " rows" : "") + (cols != null ? " columns" : "") + ")");
    }
}
