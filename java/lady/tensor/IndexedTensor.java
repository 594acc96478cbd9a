package lady.tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;

import lady.LadyException;
import lady.kernels.Backend;
import lady.kernels.Kernels;

/**
 * A tensor read through index maps on its first two axes: element {@code [i, j, rest]} is
 * {@code base[rows[i], cols[j], rest]} (a null map is the identity), optionally with an elementwise change of
 * its values ({@link ValueMap}: a quantization) applied on the way. This is how a
 * {@code lady.checkpoint.StateDict} keeps a permuted or requantized tensor without copying it: the permutation
 * stays an index map over the base (usually the mapped checkpoint file, never written), the value change a
 * function, and the bytes are gathered from the base only where they are read or written ({@link #gatherRows},
 * {@link #stream}: the native gather kernel, lady.h kernel 5). Immutable.
 */
public final class IndexedTensor {
    private final HostTensor base;
    private final long[] rows;
    private final long[] cols;
    private final ValueMap values;

    private IndexedTensor(HostTensor base, long[] rows, long[] cols, ValueMap values) {
        this.base = base;
        this.rows = rows;
        this.cols = cols;
        this.values = values;
    }

    /** {@code base} itself, without maps. */
    public static IndexedTensor of(HostTensor base) {
        return new IndexedTensor(base, null, null, null);
    }

    /**
     * An elementwise change of a tensor's values, applied where its bytes are gathered: the values arrive as
     * float32 (read exactly from float32, bfloat16 or float16) and are stored back in the tensor's dtype,
     * rounded to the nearest (ties to even). It must not depend on an element's position (index maps and
     * value maps commute), and is called from several threads at once, on distinct arrays.
     */
    @FunctionalInterface
    public interface ValueMap {
        /** Changes {@code v[0, n)} in place. */
        void apply(float[] v, int n);
    }

    /** The value change applied on the way ({@link ValueMap}), or null for none. */
    public ValueMap valueMap() {
        return values;
    }

    /**
     * This tensor with {@code m} applied to its values after the value change already set, if any. Only for
     * float32, bfloat16 and float16 tensors.
     */
    public IndexedTensor withValues(ValueMap m) {
        DType d = base.dtype();
        if (d != DType.FLOAT32 && d != DType.BFLOAT16 && d != DType.FLOAT16) {
            throw new LadyException(LadyException.Kind.INTERNAL, "a value change of a " + d + " tensor");
        }
        ValueMap before = values;
        ValueMap composed = before == null ? m : (v, n) -> {
            before.apply(v, n);
            m.apply(v, n);
        };
        return new IndexedTensor(base, rows, cols, composed);
    }

    /** Values converted per call of a {@link ValueMap}. */
    private static final int VALUE_CHUNK = 1 << 16;

    /**
     * Applies the value change (if any) to {@code t}, in place, a chunk at a time, the chunks shared out among the
     * threads ({@link lady.util.Parallel#forParts}: a value's change does not depend on its position, so the bytes
     * are the same whatever the thread count; converting bfloat16 to float32 and back on one thread held the write
     * of a quantized 7B model at a third of the disk's rate).
     */
    private void applyValues(HostTensor t) {
        if (values == null) {
            return;
        }
        long n = t.numel();
        long chunks = (n + VALUE_CHUNK - 1) / VALUE_CHUNK;
        int parts = (int) Math.max(1, Math.min(chunks, lady.util.Parallel.threads()));
        lady.util.Parallel.forParts(chunks, parts, (part, c0, c1) -> {
            float[] v = new float[(int) Math.min(n, VALUE_CHUNK)];
            HostTensor.ValueReader reader = t.valueReader();
            for (long c = c0; c < c1; c++) {
                long first = c * VALUE_CHUNK;
                int count = (int) Math.min(VALUE_CHUNK, n - first);
                reader.read(first, v, 0, count);
                values.apply(v, count);
                t.writeFloats(first, v, 0, count);
            }
        });
    }

    /**
     * Streams the tensor's values in order as float32 chunks, the value change applied: statistics of a tensor
     * too large for a Java array. Permuted rows are gathered into a buffer of at most {@link #SCRATCH_BYTES} first.
     */
    public void streamValues(FloatChunkSink sink) throws java.io.IOException {
        float[] v = new float[(int) Math.min(numel(), VALUE_CHUNK)];
        if (rows == null && cols == null) {
            streamBase(0, numel(), v, sink);
            return;
        }
        try (HostMemory scratch = HostMemory.allocate(Math.max(1, Math.min(byteSize(), SCRATCH_BYTES)))) {
            forEachGathered(scratch, (memory, bytes) -> { // values already changed by the gather
                long n = bytes / dtype().elementSize();
                HostTensor.ValueReader reader = HostTensor.view(memory, 0, dtype(), n).valueReader();
                for (long first = 0; first < n; first += VALUE_CHUNK) {
                    int count = (int) Math.min(VALUE_CHUNK, n - first);
                    reader.read(first, v, 0, count);
                    sink.accept(v, count);
                }
            });
        }
    }

    /**
     * As {@link #streamValues}, in {@code parts} consecutive parts of the values read at once on the resync's threads
     * ({@link lady.util.Parallel}), each into its own sink ({@code sinkOfPart.apply(part)}): statistics that do not
     * depend on the order of the values (a range, a largest change) or sums that add the parts in order, at the
     * threads' reading rate. A permuted tensor is gathered in order on this thread, each value still going to the
     * sink of its part, so every part receives the same values in the same order either way.
     */
    public void streamValues(int parts, java.util.function.IntFunction<FloatChunkSink> sinkOfPart)
            throws java.io.IOException {
        if (parts <= 1) {
            streamValues(sinkOfPart.apply(0));
            return;
        }
        long total = numel();
        if (rows != null || cols != null) { // gathered in order; each value still goes to the sink of its part
            FloatChunkSink[] sinks = new FloatChunkSink[parts];
            long[] at = {0};
            int[] current = {0}; // the part holding at[0]: part p ends at total (p + 1) / parts (Parallel.forParts)
            float[] piece = new float[(int) Math.min(Math.max(total, 1), VALUE_CHUNK)];
            streamValues((v, n) -> {
                int done = 0;
                while (done < n) {
                    long pos = at[0];
                    while (total * (current[0] + 1) / parts <= pos) {
                        current[0]++;
                    }
                    int part = current[0];
                    long end = total * (part + 1) / parts;
                    int count = (int) Math.min(n - done, end - pos);
                    if (sinks[part] == null) {
                        sinks[part] = sinkOfPart.apply(part);
                    }
                    if (done == 0 && count == n) {
                        sinks[part].accept(v, n);
                    } else {
                        System.arraycopy(v, done, piece, 0, count);
                        sinks[part].accept(piece, count);
                    }
                    done += count;
                    at[0] = pos + count;
                }
            });
            return;
        }
        java.io.IOException[] failed = new java.io.IOException[parts];
        lady.util.Parallel.forParts(numel(), parts, (part, from, to) -> {
            try {
                streamBase(from, to, new float[(int) Math.min(Math.max(to - from, 1), VALUE_CHUNK)],
                        sinkOfPart.apply(part));
            } catch (java.io.IOException e) {
                failed[part] = e;
            }
        });
        for (java.io.IOException e : failed) {
            if (e != null) {
                throw e;
            }
        }
    }

    /** Values [from, to) of the base (no index map), read into {@code v} a chunk at a time, changed, to {@code sink}. */
    private void streamBase(long from, long to, float[] v, FloatChunkSink sink) throws java.io.IOException {
        HostTensor.ValueReader reader = base.valueReader();
        for (long first = from; first < to; first += VALUE_CHUNK) {
            int count = (int) Math.min(VALUE_CHUNK, to - first);
            reader.read(first, v, 0, count);
            if (values != null) {
                values.apply(v, count);
            }
            sink.accept(v, count);
        }
        java.lang.ref.Reference.reachabilityFence(base);
    }

    /** Bytes of the buffer that permuted tensors are gathered into on their way to a file or a statistic. */
    public static final long SCRATCH_BYTES = 32L << 20;

    /** Receives consecutive float32 chunks of a tensor's values ({@link #streamValues}). */
    @FunctionalInterface
    public interface FloatChunkSink {
        /** {@code v[0, n)}: the next values (the array is reused: consume them before returning). */
        void accept(float[] v, int n) throws java.io.IOException;
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
        return rows == null && cols == null && values == null;
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
        return axis == 0 ? new IndexedTensor(base, composed, cols, values) : new IndexedTensor(base, rows, composed, values);
    }

    private static boolean isIdentity(long[] m) {
        for (int i = 0; i < m.length; i++) {
            if (m[i] != i) {
                return false;
            }
        }
        return true;
    }

    /** Writes rows [from, to) of this tensor, gathered (and its values changed), to native memory at {@code dst}. */
    public void gatherRows(long dst, long from, long to) {
        Kernels.gatherRows(Backend.CPU, base.address(), dst, rowCount(), n1(), unitBytes(), rows, cols, from, to);
        java.lang.ref.Reference.reachabilityFence(base);
        if (values != null) {
            long bytes = (to - from) * rowBytes();
            applyValues(HostTensor.view(HostMemory.borrow(dst, bytes, this), 0, dtype(), bytes / dtype().elementSize()));
        }
    }

    /** Rows [from, to) in fresh memory, shape {@code [to - from, rest...]} (a view of the base when no map applies). */
    public HostTensor rows(long from, long to) {
        long[] shape = base.dim() == 0 ? new long[] {} : base.shape();
        if (base.dim() > 0) {
            shape[0] = to - from;
        }
        if (identity() || (cols == null && values == null && isIdentityRange(rows, from, to))) {
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
     * chunk before returning), their values changed there. Chunks are at most {@code scratch}'s length or 1 GiB.
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
        forEachGathered(scratch, (memory, bytes) -> sink.accept(memory.buffer(0, (int) bytes)));
    }

    /** Receives whole rows gathered at the start of {@code memory} ({@link #forEachGathered}). */
    @FunctionalInterface
    private interface GatheredSink {
        void accept(HostMemory memory, long bytes) throws java.io.IOException;
    }

    /**
     * Gathers the tensor a chunk of whole rows at a time into {@code scratch} (a buffer of its own for a row
     * larger than it; at most 1 GiB per chunk), values changed, and hands each chunk to {@code sink}.
     */
    private void forEachGathered(HostMemory scratch, GatheredSink sink) throws java.io.IOException {
        long rowBytes = rowBytes();
        if (rowBytes > HostTensor.WINDOW) {
            throw LadyException.invalidInput("a permuted tensor of shape " + Arrays.toString(shape()) + " has rows of "
                    + rowBytes + " bytes, more than Lady writes at once (" + HostTensor.WINDOW + ")");
        }
        if (rowBytes > scratch.length()) { // one row larger than the shared buffer: a buffer of its own
            try (HostMemory own = HostMemory.allocate(rowBytes)) {
                forEachGathered(own, sink);
            }
            return;
        }
        long perChunk = Math.max(1, Math.min(scratch.length(), HostTensor.WINDOW) / Math.max(rowBytes, 1));
        long n = rowCount();
        for (long r = 0; r < n; r += perChunk) {
            long to = Math.min(n, r + perChunk);
            gatherRows(scratch.address(), r, to);
            sink.accept(scratch, (to - r) * rowBytes);
        }
        java.lang.ref.Reference.reachabilityFence(scratch);
    }

    @Override
    public String toString() {
        return base + (rows == null && cols == null ? "" : " (index maps:" + (rows != null ? " rows" : "")
                + (cols != null ? " columns" : "") + ")") + (values == null ? "" : " (values changed)");
    }
}
