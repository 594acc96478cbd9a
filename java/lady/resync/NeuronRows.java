package lady.resync;

import java.nio.ByteOrder;
import java.util.stream.IntStream;

import lady.LadyException;
import lady.permutation.Member;
import lady.permutation.MemberSlices;
import lady.tensor.DType;
import lady.tensor.HostMemory;
import lady.tensor.HostTensor;
import lady.tensor.IndexedTensor;
import lady.util.Parallel;

/**
 * The per-neuron vectors of a group member read where they lie: in the checkpoint's mapped bytes (float32,
 * bfloat16 or float16, converted on the fly) through the tensor's lazy index maps
 * ({@link IndexedTensor}), without a float32 copy of the member. What the prefilter reads a group of
 * thousands of neurons from (a Llama MLP's gate rows, the stream's embedding columns).
 *
 * <p>Neuron j of a member on axis 0 owns the rows [offset + j*block, +block), every column: its vector is
 * those rows one after the other ({@link Reader#neuron}, contiguous reads). On axis 1 it owns the
 * columns [offset + j*block, +block) of every row o: its vector is, for o = 0, 1, ..., the segment
 * of {@link #segment()} values of row o at {@link #segmentStart}; such members are read row by row
 * ({@link Reader#outerRow}), every neuron's segment at once. Members on later axes (and tensors of other
 * types) are gathered into a float32 n x d copy first ({@link MemberSlices#rows(IndexedTensor, Member, long)}).
 * The vector's order is the same for every tensor of the member's shape and maps, so two models' vectors
 * compare position by position: on axis 0 as {@link MemberSlices#rows} lays them out, on axis 1 row by row
 * (a permutation of MemberSlices' order when the block exceeds 1, which no dot product or norm sees).
 */
final class NeuronRows {
    final int n;
    /** Values per neuron. */
    final int d;
    /** Whether a neuron's values are whole rows (axis 0, or a float32 copy). */
    final boolean byRows;
    private final HostTensor base;
    private final long[] rowMap;
    private final long[] colMap;
    private final long rows;
    private final int columns;
    private final int inner;
    private final long offset;
    private final int block;

    private NeuronRows(int n, int d, boolean byRows, HostTensor base, long[] rowMap, long[] colMap, long rows, int columns,
            int inner, long offset, int block) {
        this.n = n;
        this.d = d;
        this.byRows = byRows;
        this.base = base;
        this.rowMap = rowMap;
        this.colMap = colMap;
        this.rows = rows;
        this.columns = columns;
        this.inner = inner;
        this.offset = offset;
        this.block = block;
    }

    /** The vectors of member {@code m} (of a group of {@code n}) of tensor {@code t}. */
    static NeuronRows of(IndexedTensor t, Member m, long n) {
        DType dt = t.dtype();
        long[] shape = t.shape();
        boolean readable = dt == DType.FLOAT32 || dt == DType.BFLOAT16 || dt == DType.FLOAT16;
        if (!readable || m.axis() > 1 || shape.length == 0) {
            return dense(MemberSlices.rows(t, m, n), n);
        }
        long r = shape[0];
        long c = shape.length > 1 ? shape[1] : 1;
        long in = 1;
        for (int a = 2; a < shape.length; a++) {
            in *= shape[a];
        }
        long rowValues = c * in;
        long span = n * m.block();
        long dd = m.axis() == 0 ? m.block() * rowValues : r * m.block() * in;
        if (rowValues > Integer.MAX_VALUE - 8 || dd > Integer.MAX_VALUE - 8 || m.offset() + span > shape[m.axis()]) {
            return dense(MemberSlices.rows(t, m, n), n);
        }
        return new NeuronRows(Math.toIntExact(n), (int) dd, m.axis() == 0, t.base(), t.rowMap(), t.columnMap(), r,
                (int) c, (int) in, m.offset(), Math.toIntExact(m.block()));
    }

    /** Vectors already gathered: a contiguous float32 n x d tensor. */
    static NeuronRows dense(HostTensor rowsF32, long n) {
        long d = rowsF32.numel() / Math.max(n, 1);
        if (d > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("neurons of " + d + " values each are too long for the prefilter");
        }
        return new NeuronRows(Math.toIntExact(n), (int) d, true, rowsF32, null, null, n, (int) d, 1, 0, 1);
    }

    /** Rows of the tensor (axis-1 members: one segment per row and neuron). */
    long outer() {
        return byRows ? 1 : rows;
    }

    /** Values of one neuron in one row (axis-1 members): block times the inner size. */
    int segment() {
        return byRows ? d : block * inner;
    }

    /** Where neuron j's segment starts in a row read by {@link Reader#outerRow}. */
    int segmentStart(int j) {
        return (int) ((offset + (long) j * block) * inner);
    }

    /** Values of one row of the tensor. */
    int rowValues() {
        return columns * inner;
    }

    /** Every neuron's vector as a contiguous float32 n x d tensor (fresh memory; the caller closes it). */
    HostTensor materialize() {
        int[] all = new int[n];
        for (int j = 0; j < n; j++) {
            all[j] = j;
        }
        return materialize(all);
    }

    /**
     * The vectors of {@code neurons} (any order), in that order, as a contiguous float32 tensor (fresh memory), read on
     * the resync's threads ({@link PrefilteredMatch#parallelChunks}: neurons on axis 0; rows of an axis-1 member in
     * {@link Parallel#forParts}): copies only, the same values whatever the thread count.
     */
    HostTensor materialize(int[] neurons) {
        return materialize(neurons, null);
    }

    /**
     * As {@link #materialize(int[])}, into the front of {@code into} when it is given (a view of it: the caller keeps
     * it, reuses it and closes it; every value of the view is written), else into fresh memory.
     */
    HostTensor materialize(int[] neurons, HostMemory into) {
        HostTensor out = into == null ? HostTensor.allocate(DType.FLOAT32, neurons.length, d)
                : HostTensor.view(into, 0, DType.FLOAT32, neurons.length, d);
        if (byRows) {
            PrefilteredMatch.parallelChunks(neurons.length, (from, to) -> {
                java.nio.FloatBuffer f = out.floats();
                Reader r = reader();
                float[] v = PrefilteredMatch.scratch(PrefilteredMatch.VECTOR_SLOT, d); // per-thread, first d written
                for (int k = from; k < to; k++) {
                    r.neuron(neurons[k], v);
                    f.put(k * d, v, 0, d);
                }
            });
        } else {
            int parts = (int) Math.max(1, Math.min(rows, Parallel.threads()));
            Parallel.forParts(rows, parts, (part, from, to) -> materializeRows(neurons, from, to, out));
        }
        java.lang.ref.Reference.reachabilityFence(out);
        return out;
    }

    /**
     * Rows [from, to) of an axis-1 member into {@link #materialize(int[])}'s {@code out}: row by row, each neuron's
     * segment to its place (a transpose), staged for a chunk of rows so that each neuron's values of the chunk go out
     * in one bulk put (they are contiguous in its vector); a few neurons (the verdict's sample) take their values from
     * the stored row through the column map.
     */
    private void materializeRows(int[] neurons, long from, long to, HostTensor out) {
        java.nio.FloatBuffer f = out.floats();
        boolean few = neurons.length < n / SPARSE_FRACTION;
        Reader r = reader();
        int seg = segment();
        long span = to - from;
        int chunk = (int) Math.max(1, Math.min(span, STAGE_VALUES / Math.max(1L, (long) neurons.length * seg)));
        float[] stage = PrefilteredMatch.scratch(PrefilteredMatch.STAGE_SLOT, // every value put out is written first
                Math.multiplyExact(neurons.length, chunk * seg));
        float[] v = new float[seg];
        int[] positions = few ? r.storedPositions(neurons) : null; // the chosen values' places in a stored row
        int[] stored = null; // the same, ascending: the row is read front to back
        int[] places = null; // where each of them goes in the stage (row t of the chunk: plus t seg)
        if (positions != null) {
            int[] order = IntStream.range(0, positions.length).boxed()
                    .sorted(java.util.Comparator.comparingInt(q -> positions[q])).mapToInt(Integer::intValue).toArray();
            stored = new int[order.length];
            places = new int[order.length];
            for (int x = 0; x < order.length; x++) {
                int q = order[x];
                stored[x] = positions[q];
                places[x] = (q / seg) * chunk * seg + q % seg; // value q: neuron q / seg, place q % seg
            }
        }
        for (long o0 = from; o0 < to; o0 += chunk) {
            int count = (int) Math.min(chunk, to - o0);
            for (int t = 0; t < count; t++) {
                long o = o0 + t;
                if (stored != null) { // only the chosen values of the stored row are read and converted
                    r.storedValues(o, stored, stage, places, t * seg);
                    continue;
                }
                float[] row = few ? r.storedRow(o) : r.outerRow(o);
                for (int k = 0; k < neurons.length; k++) {
                    int at = (k * chunk + t) * seg;
                    if (few) {
                        r.segmentOf(row, neurons[k], v);
                        System.arraycopy(v, 0, stage, at, seg);
                    } else {
                        System.arraycopy(row, segmentStart(neurons[k]), stage, at, seg);
                    }
                }
            }
            for (int k = 0; k < neurons.length; k++) {
                f.put((int) (k * (long) d + o0 * seg), stage, k * chunk * seg, count * seg);
            }
        }
    }

    /**
     * The vectors in place, as a float32 n x d view of the stored tensor (no copy; valid while the tensor is), when they
     * are stored so: float32, a member on axis 0, no index maps; else null.
     */
    HostTensor contiguousFloat32() {
        if (!byRows || rowMap != null || colMap != null || base.dtype() != DType.FLOAT32) {
            return null;
        }
        return HostTensor.view(base.memory(), base.offset() + 4L * offset * rowValues(), DType.FLOAT32, n, d);
    }

    /** Whether the vectors are stored as bfloat16 (a checkpoint's bytes): {@link #materializeBf16} is then exact. */
    boolean storedAsBf16() {
        return base.dtype() == DType.BFLOAT16;
    }

    /**
     * The vectors of {@code neurons} (any order) as a contiguous bfloat16 tensor (fresh memory), for
     * {@link #storedAsBf16()} rows: the stored 16-bit values themselves (members on axis 0: row copies, no float
     * conversion; on axis 1 through {@link #materialize(int[])}, exact since every value is a bfloat16).
     */
    HostTensor materializeBf16(int[] neurons) {
        if (!storedAsBf16()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "bfloat16 rows of a " + base.dtype() + " tensor");
        }
        HostTensor out = HostTensor.allocate(DType.BFLOAT16, neurons.length, d);
        if (!byRows) {
            HostTensor f = materialize(neurons);
            // back to the stored bits (exact: every value is a bfloat16), a neuron's vector at a time on the threads
            PrefilteredMatch.parallelChunks(neurons.length, (from, to) -> {
                java.nio.FloatBuffer fb = f.floats();
                java.nio.ShortBuffer sb = out.bytes(0, (int) out.byteSize()).asShortBuffer();
                float[] v = new float[d];
                short[] h = new short[d];
                for (int k = from; k < to; k++) {
                    fb.get((int) ((long) k * d), v, 0, d);
                    for (int t = 0; t < d; t++) {
                        h[t] = HostTensor.floatToBfloat16(v[t]);
                    }
                    sb.put((int) ((long) k * d), h, 0, d);
                }
            });
            java.lang.ref.Reference.reachabilityFence(f);
            f.memory().close();
            return out;
        }
        long rowBytes = 2L * rowValues();
        short[] plain = null;
        short[] mapped = null;
        for (int k = 0; k < neurons.length; k++) {
            for (int b = 0; b < block; b++) {
                long r = offset + (long) neurons[k] * block + b;
                long br = rowMap == null ? r : rowMap[(int) r];
                long dst = out.address() + ((long) k * d + (long) b * rowValues()) * 2;
                long src = base.address() + br * rowBytes;
                if (colMap == null) {
                    HostTensor.copyBytes(dst, src, rowBytes);
                } else { // the row's columns through the suspect's column map
                    if (plain == null) {
                        plain = new short[rowValues()];
                        mapped = new short[rowValues()];
                    }
                    base.bytes(br * rowBytes, (int) rowBytes).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(0, plain);
                    for (int c = 0; c < columns; c++) {
                        System.arraycopy(plain, (int) colMap[c] * inner, mapped, c * inner, inner);
                    }
                    out.bytes(dst - out.address(), (int) rowBytes).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().put(0,
                            mapped);
                }
            }
        }
        java.lang.ref.Reference.reachabilityFence(base);
        java.lang.ref.Reference.reachabilityFence(out);
        return out;
    }

    /**
     * For a member on axis 1 (an embedding's columns): {@code dots[i][j] += <a[i], neuron j's vector>} for the few
     * vectors {@code a[i]} (d values each) and {@code norm2[j] +=} neuron j's squared norm, in double, reading the
     * stored rows once, front to back, in {@link #ROW_PARTS} parts of rows added in part order: the similarities of a
     * few reference rows against every suspect neuron without gathering the member into an n x d copy (an 8B-width
     * embedding's 4096 columns of 128256 values: 2 GB of float32 and most of the time).
     */
    void dotsWith(float[][] a, double[][] dots, double[] norm2) {
        if (byRows) {
            throw new LadyException(LadyException.Kind.INTERNAL, "dotsWith reads members on axis 1");
        }
        int k = a.length;
        int seg = segment();
        int parts = (int) Math.max(1, Math.min(ROW_PARTS, rows));
        double[][][] partDots = new double[parts][][];
        double[][] partNorms = new double[parts][];
        Parallel.forParts(rows, parts, (part, from, to) -> {
            Reader r = reader();
            double[][] dk = new double[k][n];
            double[] nk = new double[n];
            float[] x = new float[n];
            for (long o = from; o < to; o++) {
                float[] row = r.outerRow(o);
                for (int sg = 0; sg < seg; sg++) {
                    int t = (int) (o * seg + sg); // the place of these values in every neuron's vector
                    for (int j = 0; j < n; j++) {
                        x[j] = row[segmentStart(j) + sg];
                    }
                    for (int j = 0; j < n; j++) {
                        nk[j] += (double) x[j] * x[j];
                    }
                    for (int i = 0; i < k; i++) {
                        double ai = a[i][t];
                        if (ai == 0) {
                            continue;
                        }
                        double[] di = dk[i];
                        for (int j = 0; j < n; j++) {
                            di[j] += ai * x[j];
                        }
                    }
                }
            }
            partDots[part] = dk;
            partNorms[part] = nk;
        });
        for (int part = 0; part < parts; part++) {
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < n; j++) {
                    dots[i][j] += partDots[part][i][j];
                }
            }
            for (int j = 0; j < n; j++) {
                norm2[j] += partNorms[part][j];
            }
        }
    }

    /** Parts of the row-by-row passes over an axis-1 member ({@link #diagonalCosine}): fixed, so the sums do not
     * depend on the number of threads. */
    private static final int ROW_PARTS = 16;

    /**
     * acc[j] += the squared L2 norm of neuron j's vector (squares in float, sums in double, as
     * {@link Similarity#accumulateSquaredNorms}; members on axis 1 in {@link #ROW_PARTS} parts of rows, added in
     * part order), read where it lies: no float32 copy of the member.
     */
    void accumulateSquaredNorms(double[] acc) {
        accumulate(acc, true);
    }

    /**
     * acc[j] += the sum of neuron j's values (in double; members on axis 1 in {@link #ROW_PARTS} parts of rows, added
     * in part order), read where they lie: no float32 copy of the member (the basic canonical ranking's scores).
     */
    void accumulateSums(double[] acc) {
        accumulate(acc, false);
    }

    /** {@link #accumulateSquaredNorms} ({@code squares}) or {@link #accumulateSums}. */
    private void accumulate(double[] acc, boolean squares) {
        if (byRows) {
            Parallel.forParts(n, chunks(n), (c, from, end) -> {
                Reader r = reader();
                int to = (int) end;
                int j = (int) from;
                float[][] v = new float[to - j >= INTERLEAVED ? INTERLEAVED : 1][]; // fewer neurons: one at a time
                for (int k = 0; k < v.length; k++) { // per-thread scratch (an attention group's neuron is megabytes),
                    v[k] = PrefilteredMatch.scratch(PrefilteredMatch.VECTOR_SLOT + k, d); // first d values written first
                }
                for (; j + INTERLEAVED <= to; j += INTERLEAVED) {
                    for (int k = 0; k < INTERLEAVED; k++) {
                        r.neuron(j + k, v[k]);
                    }
                    // four neurons' sums side by side: each in its own order (the same sums as one at a time),
                    // four independent chains of additions instead of one
                    float[] v0 = v[0];
                    float[] v1 = v[1];
                    float[] v2 = v[2];
                    float[] v3 = v[3];
                    double s0 = 0;
                    double s1 = 0;
                    double s2 = 0;
                    double s3 = 0;
                    if (squares) {
                        for (int t = 0; t < d; t++) {
                            float x0 = v0[t];
                            float x1 = v1[t];
                            float x2 = v2[t];
                            float x3 = v3[t];
                            s0 += x0 * x0;
                            s1 += x1 * x1;
                            s2 += x2 * x2;
                            s3 += x3 * x3;
                        }
                    } else {
                        for (int t = 0; t < d; t++) {
                            s0 += v0[t];
                            s1 += v1[t];
                            s2 += v2[t];
                            s3 += v3[t];
                        }
                    }
                    acc[j] += s0;
                    acc[j + 1] += s1;
                    acc[j + 2] += s2;
                    acc[j + 3] += s3;
                }
                for (; j < to; j++) {
                    r.neuron(j, v[0]);
                    double sum = 0;
                    for (int t = 0; t < d; t++) {
                        float x = v[0][t];
                        sum += squares ? x * x : x;
                    }
                    acc[j] += sum;
                }
            });
            return;
        }
        int parts = (int) Math.max(1, Math.min(ROW_PARTS, rows)); // row by row, partial sums added in part order
        double[][] partial = new double[parts][];
        int seg = segment();
        Parallel.forParts(rows, parts, (p, from, to) -> {
            Reader r = reader();
            double[] sums = new double[n];
            int at0 = segmentStart(0);
            for (long o = from; o < to; o++) {
                float[] row = r.outerRow(o);
                if (seg == 1) { // one value per neuron and row (an embedding's column): the same sums, a plain loop
                    for (int j = 0, x = at0; j < n; j++, x += block * inner) {
                        float v = row[x];
                        sums[j] += squares ? v * v : v;
                    }
                    continue;
                }
                for (int j = 0; j < n; j++) {
                    int at = segmentStart(j);
                    double sum = sums[j];
                    for (int t = at; t < at + seg; t++) {
                        float x = row[t];
                        sum += squares ? x * x : x;
                    }
                    sums[j] = sum;
                }
            }
            partial[p] = sums;
        });
        for (double[] sums : partial) {
            for (int j = 0; j < n; j++) {
                acc[j] += sums[j];
            }
        }
    }

    /**
     * cos(a_j, b_j) for every neuron j of two row sets of the same member and shape (the matched pairs of an
     * aligned group), products and sums in double, with the kernels' normalization floor, read where they lie
     * (a mapped file, the suspect through its lazy index maps): no float32 copy of either.
     */
    static double[] diagonalCosine(NeuronRows a, NeuronRows b) {
        if (a.n != b.n || a.d != b.d || a.byRows != b.byRows) {
            throw new LadyException(LadyException.Kind.INTERNAL, "row sets of different layouts");
        }
        int n = a.n;
        double[][] sums; // {a.b, a.a, b.b} per neuron
        if (a.byRows) {
            double[][] all = new double[3][n];
            Parallel.forParts(n, chunks(n), (c, from, to) -> {
                Reader ra = a.reader();
                Reader rb = b.reader();
                int d = a.d;
                float[] x = PrefilteredMatch.scratch(PrefilteredMatch.VECTOR_SLOT, d); // per-thread, first d written
                float[] y = PrefilteredMatch.scratch(PrefilteredMatch.VECTOR_SLOT + 1, d);
                for (int j = (int) from; j < to; j++) {
                    ra.neuron(j, x);
                    rb.neuron(j, y);
                    double ab = 0;
                    double aa = 0;
                    double bb = 0;
                    for (int t = 0; t < d; t++) {
                        double u = x[t];
                        double v = y[t];
                        ab += u * v;
                        aa += u * u;
                        bb += v * v;
                    }
                    all[0][j] = ab;
                    all[1][j] = aa;
                    all[2][j] = bb;
                }
            });
            sums = all;
        } else { // row by row in ROW_PARTS parts of rows, each with its partial sums, added in part order
            int parts = (int) Math.max(1, Math.min(ROW_PARTS, a.rows));
            double[][][] partial = new double[parts][][];
            int seg = a.segment();
            Parallel.forParts(a.rows, parts, (p, from, to) -> {
                Reader ra = a.reader();
                Reader rb = b.reader();
                double[][] s = new double[3][n];
                int at0 = a.segmentStart(0);
                for (long o = from; o < to; o++) {
                    float[] x = ra.outerRow(o);
                    float[] y = rb.outerRow(o);
                    if (seg == 1) { // one value per neuron and row: the same sums (0 + one product), a plain loop
                        double[] s0 = s[0];
                        double[] s1 = s[1];
                        double[] s2 = s[2];
                        for (int j = 0, t = at0; j < n; j++, t++) {
                            double u = x[t];
                            double v = y[t];
                            s0[j] += u * v;
                            s1[j] += u * u;
                            s2[j] += v * v;
                        }
                        continue;
                    }
                    for (int j = 0; j < n; j++) {
                        int at = a.segmentStart(j);
                        double ab = 0;
                        double aa = 0;
                        double bb = 0;
                        for (int t = at; t < at + seg; t++) {
                            double u = x[t];
                            double v = y[t];
                            ab += u * v;
                            aa += u * u;
                            bb += v * v;
                        }
                        s[0][j] += ab;
                        s[1][j] += aa;
                        s[2][j] += bb;
                    }
                }
                partial[p] = s;
            });
            sums = new double[3][n];
            for (double[][] s : partial) {
                for (int k = 0; k < 3; k++) {
                    for (int j = 0; j < n; j++) {
                        sums[k][j] += s[k][j];
                    }
                }
            }
        }
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            out[j] = sums[0][j] / (Math.max(Math.sqrt(sums[1][j]), PrefilteredMatch.NORM_EPS)
                    * Math.max(Math.sqrt(sums[2][j]), PrefilteredMatch.NORM_EPS));
        }
        return out;
    }

    /** Neurons whose sums {@link #accumulateSquaredNorms} computes side by side (each still in its own order). */
    static final int INTERLEAVED = 4;

    /** Chunks of neurons of the parallel passes over members on axis 0. */
    private static int chunks(int n) {
        return Math.max(1, Math.min(n, 64));
    }

    /** Below one neuron in this many, {@link #materialize(int[])} picks an axis-1 member's chosen values from each
     * stored row instead of ordering whole rows through the column map. */
    private static final int SPARSE_FRACTION = 4;
    /** {@link Reader#storedValues} copies a bfloat16 row whole when it wants at least one of this many of its values. */
    private static final int BULK_FRACTION = 32;
    /** Values staged by {@link #materialize(int[])} for axis-1 members before their bulk puts (4 MB). */
    private static final long STAGE_VALUES = 1L << 20;

    /** A view of the stored values for {@link Reader#storedValues}: bfloat16 or float32, at most 2 GiB; else null. */
    private java.nio.Buffer storedBuffer() {
        long bytes = base.byteSize();
        if (bytes == 0 || bytes > Integer.MAX_VALUE - 8) {
            return null;
        }
        return switch (base.dtype()) {
            case BFLOAT16 -> base.bytes(0, (int) bytes).asShortBuffer();
            case FLOAT32 -> base.bytes(0, (int) bytes).asFloatBuffer();
            default -> null;
        };
    }

    /** A reader with its own buffers: one per thread. */
    Reader reader() {
        return new Reader();
    }

    /** Reads converted values; not thread-safe (one per thread). */
    final class Reader {
        private final float[] row = new float[rowValues()];
        private final HostTensor.ValueReader values = base.valueReader();
        private float[] plain;
        /** A stored bfloat16 row ({@link #storedValues}), made on first use. */
        private short[] shorts;
        /** The stored values as one buffer (bfloat16 or float32 tensors of at most 2 GiB), made on first use
         * ({@link #storedView}). */
        private java.nio.Buffer stored;

        /** Neuron j's d values into {@code out} (members on axis 0). */
        void neuron(int j, float[] out) {
            for (int b = 0; b < block; b++) {
                logicalRow(offset + (long) j * block + b, out, b * rowValues());
            }
        }

        /**
         * Row o of the tensor, converted (members on axis 1), laid out as the logical row; only the member's values
         * ({@link #spanRow}) are written. The returned buffer is reused by the next call.
         */
        float[] outerRow(long o) {
            spanRow(o, row, 0);
            return row;
        }

        /** Rows [o0, o0 + count) of the tensor, converted, one after the other into {@code tile} (axis-1 members; as
         * {@link #outerRow}, only the member's values of each row). */
        void tile(long o0, int count, float[] tile) {
            for (int t = 0; t < count; t++) {
                spanRow(o0 + t, tile, t * rowValues());
            }
        }

        /**
         * The member's values of logical row r (its neurons' columns [offset, offset + n block), times the inner size)
         * at their places of {@link #logicalRow}'s layout in {@code out} from {@code at}; the row's other values are
         * not written. A member that is a slice of the columns (a value head's columns of an output projection:
         * 128 of 4096) is read without converting the rest of the row: through the column map, value by value from
         * the stored bfloat16 or float32 values (converted as {@link HostTensor.ValueReader} converts them).
         */
        private void spanRow(long r, float[] out, int at) {
            int count = rowValues();
            int from = (int) (offset * inner);
            int len = (int) ((long) n * block * inner);
            if (from == 0 && len == count) {
                logicalRow(r, out, at);
                return;
            }
            long br = rowMap == null ? r : rowMap[(int) r];
            if (colMap == null) {
                values.read(br * count + from, out, at + from, len);
                return;
            }
            java.nio.Buffer view = storedView();
            if (view == null) {
                logicalRow(r, out, at);
                return;
            }
            int first = (int) (br * count);
            int c1 = (int) (offset + (long) n * block);
            if (view instanceof java.nio.ShortBuffer h) {
                for (int c = (int) offset; c < c1; c++) {
                    int src = first + (int) colMap[c] * inner;
                    int dst = at + c * inner;
                    for (int i = 0; i < inner; i++) {
                        out[dst + i] = HostTensor.bfloat16ToFloat(h.get(src + i));
                    }
                }
            } else {
                java.nio.FloatBuffer f = (java.nio.FloatBuffer) view;
                for (int c = (int) offset; c < c1; c++) {
                    f.get(first + (int) colMap[c] * inner, out, at + c * inner, inner);
                }
            }
            java.lang.ref.Reference.reachabilityFence(base);
        }

        /** {@link #stored}, made on first use. */
        private java.nio.Buffer storedView() {
            if (stored == null) {
                stored = storedBuffer();
            }
            return stored;
        }

        /** Neuron j's values in the rows of a {@link #tile} of {@code count} rows: count segments into {@code out}. */
        void neuronInTile(float[] tile, int count, int j, float[] out) {
            int seg = segment();
            int at = segmentStart(j);
            int rv = rowValues();
            if (seg == 1) { // one value per row (an embedding's column): a strided read
                for (int t = 0, x = at; t < count; t++, x += rv) {
                    out[t] = tile[x];
                }
                return;
            }
            for (int t = 0; t < count; t++) {
                System.arraycopy(tile, t * rv + at, out, t * seg, seg);
            }
        }

        /**
         * Row o of the tensor as stored (members on axis 1): converted, its columns in the stored order (the
         * column index map not applied); the buffer is reused by the next call.
         */
        float[] storedRow(long o) {
            int count = rowValues();
            if (plain == null) {
                plain = new float[count];
            }
            values.read((rowMap == null ? o : rowMap[(int) o]) * count, plain, 0, count);
            return plain;
        }

        /**
         * For {@link #storedValues}: where each value of the segments of {@code neurons} (in that order, each in
         * {@link #segmentOf}'s order) lies in a stored row, through the column map; null when the stored values
         * cannot be read one by one (a dtype other than float32 and bfloat16, a tensor over 2 GiB).
         */
        int[] storedPositions(int[] neurons) {
            if (storedView() == null) {
                return null;
            }
            int seg = segment();
            int[] out = new int[Math.multiplyExact(neurons.length, seg)];
            for (int k = 0; k < neurons.length; k++) {
                for (int b = 0; b < block; b++) {
                    long c = offset + (long) neurons[k] * block + b;
                    long pc = colMap == null ? c : colMap[(int) c];
                    for (int i = 0; i < inner; i++) {
                        out[k * seg + b * inner + i] = (int) (pc * inner + i);
                    }
                }
            }
            return out;
        }

        /**
         * The values of stored row o (the row map applied) at {@code positions} ({@link #storedPositions}, ascending
         * or not), converted as {@link HostTensor.ValueReader} converts them (bfloat16: the upper half of a float32),
         * value q into {@code out[places[q] + shift]}: a few neurons' values without converting the whole row (a
         * bfloat16 row of which at least one value in {@link #BULK_FRACTION} is wanted is copied to an array first).
         */
        void storedValues(long o, int[] positions, float[] out, int[] places, int shift) {
            int count = rowValues();
            int first = (int) ((rowMap == null ? o : rowMap[(int) o]) * count);
            if (stored instanceof java.nio.ShortBuffer h) {
                if ((long) positions.length * BULK_FRACTION >= count) {
                    if (shorts == null) {
                        shorts = new short[count];
                    }
                    h.get(first, shorts, 0, count);
                    for (int q = 0; q < positions.length; q++) {
                        out[places[q] + shift] = HostTensor.bfloat16ToFloat(shorts[positions[q]]);
                    }
                } else {
                    for (int q = 0; q < positions.length; q++) {
                        out[places[q] + shift] = HostTensor.bfloat16ToFloat(h.get(first + positions[q]));
                    }
                }
            } else {
                java.nio.FloatBuffer f = (java.nio.FloatBuffer) stored;
                for (int q = 0; q < positions.length; q++) {
                    out[places[q] + shift] = f.get(first + positions[q]);
                }
            }
            java.lang.ref.Reference.reachabilityFence(base);
        }

        /** Neuron j's segment of a {@link #storedRow} into {@code out}: its values only, through the column map. */
        void segmentOf(float[] stored, int j, float[] out) {
            for (int b = 0; b < block; b++) {
                long c = offset + (long) j * block + b;
                long pc = colMap == null ? c : colMap[(int) c];
                System.arraycopy(stored, (int) (pc * inner), out, b * inner, inner);
            }
        }

        private void logicalRow(long r, float[] out, int at) {
            long br = rowMap == null ? r : rowMap[(int) r];
            int count = rowValues();
            if (colMap == null) {
                values.read(br * count, out, at, count);
                return;
            }
            storedRow(r);
            if (inner == 1) {
                for (int c = 0; c < columns; c++) {
                    out[at + c] = plain[(int) colMap[c]];
                }
            } else {
                for (int c = 0; c < columns; c++) {
                    System.arraycopy(plain, (int) colMap[c] * inner, out, at + c * inner, inner);
                }
            }
        }
    }
}
