package lady.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

import lady.LadyException;
import lady.kernels.Backend;
import lady.kernels.Kernels;

/**
 * A dense, contiguous, row-major tensor in native host memory, without libtorch: a dtype, a shape,
 * and a byte range of a {@link HostMemory} block (a mapped checkpoint file, a buffer allocated here,
 * or memory borrowed from a libtorch tensor). This is what a {@code lady.checkpoint.StateDict}
 * holds: readers produce it zero-copy over the mapped file where the bytes allow, the permutation and
 * resync kernels work on its address, writers stream its bytes. {@code lady.torch.TorchTensors}
 * converts to and from libtorch for the commands that run a network.
 *
 * <p>Values are little-endian (checkpoints are; big-endian machines are refused by the readers). A
 * tensor over a mapped file may be written in place: the mapping is copy-on-write, the file never
 * changes. Several tensors may share one block (one mapping per file), never overlapping bytes.
 */
public final class HostTensor {
    /** Largest byte window one {@link ByteBuffer} covers (bulk operations go window by window). */
    static final int WINDOW = 1 << 30;
    /** {@link #axisSlice} copies runs (the bytes after its axis) of at least this many bytes one by one. */
    static final int SLICE_RUN_MIN_BYTES = 256;
    /** Bytes of outer rows {@link #axisSlice} transposes at a time when its runs are shorter. */
    static final long SLICE_BLOCK_BYTES = 1 << 20;
    /** Values converted per slice from half precision (arrays of this size are reused within a conversion). */
    private static final int CONVERT_SLICE = 1 << 14;
    /**
     * Reads of at least this many bfloat16 values go to the native conversion (lady.h kernel 6); shorter ones stay
     * in the Java loop, which is faster than the JNI call's fixed cost (about 40 ns) below it: 26 ns for 64 values,
     * 49 for 128, 98 for 256 (bench/RESULTS.md, ConvertBench).
     */
    static final int NATIVE_CONVERT_MIN_BF16 = 128;
    /** As {@link #NATIVE_CONVERT_MIN_BF16} for float16, whose Java loop is slower (44 ns for 32 values, 80 for 64). */
    static final int NATIVE_CONVERT_MIN_F16 = 32;
    /** Values per native conversion call into a Java array: the array is pinned (the GC waits) for at most this many. */
    static final int NATIVE_CONVERT_PIN = 1 << 20;

    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final HostMemory memory;
    private final long offset;

    private HostTensor(DType dtype, long[] shape, long numel, HostMemory memory, long offset) {
        this.dtype = dtype;
        this.shape = shape;
        this.numel = numel;
        this.memory = memory;
        this.offset = offset;
    }

    /** Element count of {@code shape}; a clear error for negative or overflowing shapes. */
    public static long numel(long[] shape) {
        long n = 1;
        try {
            for (long s : shape) {
                if (s < 0) {
                    throw LadyException.invalidInput("negative size in shape " + lady.util.Text.shape(shape));
                }
                n = Math.multiplyExact(n, s);
            }
        } catch (ArithmeticException e) {
            throw LadyException.invalidInput("shape " + lady.util.Text.shape(shape) + " has too many elements");
        }
        return n;
    }

    /** A new zeroed tensor. */
    public static HostTensor allocate(DType dtype, long... shape) {
        long[] s = shape.clone();
        long n = numel(s);
        long bytes;
        try {
            bytes = Math.multiplyExact(n, (long) dtype.elementSize());
        } catch (ArithmeticException e) {
            throw LadyException.invalidInput("shape " + lady.util.Text.shape(shape) + " has too many elements");
        }
        return new HostTensor(dtype, s, n, HostMemory.allocate(bytes), 0);
    }

    /** A tensor over {@code memory}'s bytes from {@code offset} (no copy); checked to lie inside the block. */
    public static HostTensor view(HostMemory memory, long offset, DType dtype, long... shape) {
        long[] s = shape.clone();
        long n = numel(s);
        long bytes = n * dtype.elementSize();
        if (offset < 0 || bytes > memory.length() - offset) {
            throw new LadyException(LadyException.Kind.INTERNAL, "a tensor of " + bytes + " bytes at " + offset
                    + " lies outside a block of " + memory.length() + " bytes");
        }
        return new HostTensor(dtype, s, n, memory, offset);
    }

    /** A float32 tensor holding a copy of {@code data}. */
    public static HostTensor ofFloats(float[] data, long... shape) {
        if (numel(shape) != data.length) {
            throw LadyException.invalidInput("a tensor of shape " + lady.util.Text.shape(shape) + " needs " + numel(shape)
                    + " values, got " + data.length);
        }
        HostTensor t = allocate(DType.FLOAT32, shape);
        t.writeFloats(data);
        return t;
    }

    public DType dtype() {
        return dtype;
    }

    /** The shape (a copy). */
    public long[] shape() {
        return shape.clone();
    }

    /** Size of axis {@code axis}. */
    public long size(int axis) {
        return shape[axis];
    }

    /** Number of axes. */
    public int dim() {
        return shape.length;
    }

    public long numel() {
        return numel;
    }

    /** Bytes of the data: numel times the element size. */
    public long byteSize() {
        return numel * dtype.elementSize();
    }

    /** Address of the first byte (valid while this tensor is reachable). */
    public long address() {
        return memory.address() + offset;
    }

    /** The block the bytes live in. */
    public HostMemory memory() {
        return memory;
    }

    /** Byte offset of the data inside {@link #memory()}. */
    public long offset() {
        return offset;
    }

    /** Whether the bytes are those of a mapped file, unchanged or changed in place (copy-on-write). */
    public boolean mapped() {
        return memory.kind() == HostMemory.Kind.MAPPED;
    }

    /** The same bytes seen with another shape of the same element count (no copy). */
    public HostTensor reshape(long... newShape) {
        long[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1 && infer < 0) {
                infer = i;
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            s[infer] = known == 0 ? 0 : numel / known;
        }
        if (numel(s) != numel) {
            throw LadyException.invalidInput("cannot view a tensor of shape " + lady.util.Text.shape(shape) + " as "
                    + lady.util.Text.shape(newShape));
        }
        return new HostTensor(dtype, s, numel, memory, offset);
    }

    /** A little-endian buffer over {@code length} bytes from byte {@code from} of the data (a view). */
    public ByteBuffer bytes(long from, int length) {
        if (from < 0 || length < 0 || from > byteSize() - length) {
            throw new LadyException(LadyException.Kind.INTERNAL, "bytes [" + from + ", +" + length
                    + ") outside a tensor of " + byteSize() + " bytes");
        }
        return memory.buffer(offset + from, length);
    }

    /** The float32 data as a buffer (a view; tensors of at most 2 GiB). */
    public FloatBuffer floats() {
        requireDType(DType.FLOAT32);
        if (byteSize() > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("a tensor of " + numel + " values is too large for this operation");
        }
        return bytes(0, (int) byteSize()).asFloatBuffer();
    }

    /** The values converted to float32, in a Java array (tensors of at most 2^31 - 9 values). */
    public float[] readFloats() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput("a tensor of " + numel + " values does not fit a Java array");
        }
        float[] out = new float[(int) numel];
        convertInto(FloatBuffer.wrap(out), 0, numel);
        java.lang.ref.Reference.reachabilityFence(this); // the memory stays mapped until the last value is read
        return out;
    }

    /**
     * Elements [first, first + count) converted to float32 into {@code out} from {@code at} (any dtype, as
     * {@link #readFloats()}): a range read in place, without a copy of the tensor. Many small reads: use one
     * {@link #valueReader()} per thread instead.
     */
    public void readFloats(long first, float[] out, int at, int count) {
        valueReader().read(first, out, at, count);
    }

    /** The whole data as one buffer, made once and shared by the {@link ValueReader}s (absolute reads only); null
     * for an empty tensor or one over 2 GiB. */
    private volatile ByteBuffer whole;

    private ByteBuffer wholeBuffer() {
        ByteBuffer w = whole;
        if (w == null && byteSize() > 0 && byteSize() <= Integer.MAX_VALUE - 8) {
            w = bytes(0, (int) byteSize());
            whole = w;
        }
        return w;
    }

    /** A reader of this tensor's values in ranges, converted to float32 ({@link ValueReader}); one per thread. */
    public ValueReader valueReader() {
        return new ValueReader();
    }

    /**
     * Reads ranges of the tensor's values converted to float32, in place: float32 copied; bfloat16 and float16
     * converted by the native kernel (lady.h kernel 6, vectorized) from {@link #NATIVE_CONVERT_MIN_BF16} /
     * {@link #NATIVE_CONVERT_MIN_F16} values, shorter ranges through a reused array by a bulk move and the scalar
     * loop ({@link #bfloat16ToFloat}, {@link #float16ToFloat}: the same bits); other dtypes as
     * {@link #readFloats()}. A tensor of at most 2 GiB is
     * viewed through one buffer made once (a native buffer costs about a microsecond to make: per row of a
     * 128k-row embedding that was most of the read), shared by the tensor's readers; larger ones a window per
     * read. Not thread-safe (one per thread).
     */
    public final class ValueReader {
        private final ByteBuffer whole;
        private final java.nio.ShortBuffer wholeShorts;
        private final FloatBuffer wholeFloats;
        private short[] halves;

        private ValueReader() {
            whole = wholeBuffer();
            wholeShorts = whole == null ? null : whole.asShortBuffer();
            wholeFloats = whole == null ? null : whole.asFloatBuffer();
        }

        /** Elements [first, first + count) into {@code out} from {@code at}. */
        public void read(long first, float[] out, int at, int count) {
            if (first < 0 || count < 0 || first > numel - count || at < 0 || at > out.length - count) {
                throw new LadyException(LadyException.Kind.INTERNAL, "elements [" + first + ", +" + count
                        + ") of a tensor of " + numel + " into " + out.length + " from " + at);
            }
            if (count == 0) {
                return;
            }
            if (count >= nativeConvertMin()) { // by address: no window to make, whatever the tensor's size
                halvesToFloats(dtype == DType.BFLOAT16, address() + 2 * first, out, at, count);
                java.lang.ref.Reference.reachabilityFence(HostTensor.this);
                return;
            }
            int es = dtype.elementSize();
            ByteBuffer window = whole != null ? null : bytes(first * es, count * es);
            int from = whole != null ? (int) first : 0;
            switch (dtype) {
                case FLOAT32 -> (whole != null ? wholeFloats : window.asFloatBuffer()).get(from, out, at, count);
                case BFLOAT16, FLOAT16 -> {
                    short[] h = halves(count);
                    (whole != null ? wholeShorts : window.asShortBuffer()).get(from, h, 0, count);
                    halvesToFloats(dtype == DType.BFLOAT16, h, count, out, at);
                }
                default -> convertInto(FloatBuffer.wrap(out, at, count), first, count);
            }
            java.lang.ref.Reference.reachabilityFence(HostTensor.this);
        }

        private short[] halves(int count) {
            if (halves == null || halves.length < count) {
                halves = new short[count];
            }
            return halves;
        }
    }

    /** Writes {@code values} into this float32 tensor (same element count). */
    public void writeFloats(float[] values) {
        requireDType(DType.FLOAT32);
        if (values.length != numel) {
            throw new LadyException(LadyException.Kind.INTERNAL, "writing " + values.length + " values into a tensor of "
                    + numel);
        }
        if (numel > 0) {
            floats().put(values);
        }
        java.lang.ref.Reference.reachabilityFence(this);
    }

    /**
     * Stores {@code values[at, at + count)} as elements [first, first + count) of this float32, bfloat16 or float16
     * tensor: half precision rounded to the nearest (ties to even), and {@code values} rounded in place first, so
     * that it holds the values the tensor now has.
     */
    public void writeFloats(long first, float[] values, int at, int count) {
        if (first < 0 || count < 0 || first > numel - count || at < 0 || at > values.length - count) {
            throw new LadyException(LadyException.Kind.INTERNAL, "writing values [" + first + ", +" + count
                    + ") into a tensor of " + numel);
        }
        switch (dtype) {
            case FLOAT32 -> {
                for (int done = 0; done < count; done += WRITE_CHUNK) { // windows a buffer can address
                    int n = Math.min(WRITE_CHUNK, count - done);
                    bytes(4 * (first + done), 4 * n).asFloatBuffer().put(values, at + done, n);
                }
            }
            case BFLOAT16, FLOAT16 -> {
                boolean bf16 = dtype == DType.BFLOAT16;
                short[] halves = new short[Math.min(count, WRITE_CHUNK)];
                for (int done = 0; done < count; done += WRITE_CHUNK) {
                    int n = Math.min(WRITE_CHUNK, count - done);
                    for (int i = 0; i < n; i++) {
                        int k = at + done + i;
                        short h = bf16 ? floatToBfloat16(values[k]) : floatToFloat16(values[k]);
                        halves[i] = h;
                        values[k] = bf16 ? bfloat16ToFloat(h) : float16ToFloat(h);
                    }
                    bytes(2 * (first + done), 2 * n).asShortBuffer().put(halves, 0, n);
                }
            }
            default -> throw new LadyException(LadyException.Kind.INTERNAL, "float values written into a " + dtype
                    + " tensor");
        }
        java.lang.ref.Reference.reachabilityFence(this);
    }

    /** Values per window of {@link #writeFloats(long, float[], int, int)} (half precision: converted per window). */
    private static final int WRITE_CHUNK = 1 << 20;

    /** This tensor as float32: itself when it is float32, else a converted copy (float16, bfloat16, float64, integers). */
    public HostTensor toFloat32() {
        if (dtype == DType.FLOAT32) {
            return this;
        }
        HostTensor out = allocate(DType.FLOAT32, shape);
        if (dtype == DType.BFLOAT16 || dtype == DType.FLOAT16) { // native memory to native memory, one call
            if (dtype == DType.BFLOAT16) {
                Kernels.bf16ToFloat(Backend.CPU, address(), out.address(), numel);
            } else {
                Kernels.f16ToFloat(Backend.CPU, address(), out.address(), numel);
            }
            java.lang.ref.Reference.reachabilityFence(this);
            java.lang.ref.Reference.reachabilityFence(out);
            return out;
        }
        long perWindow = WINDOW / 4;
        for (long done = 0; done < numel; done += perWindow) {
            long count = Math.min(perWindow, numel - done);
            FloatBuffer dst = out.bytes(done * 4, (int) (count * 4)).asFloatBuffer();
            convertInto(dst, done, count);
        }
        java.lang.ref.Reference.reachabilityFence(this);
        return out;
    }

    /** Converts elements [first, first + count) to float32 into {@code dst} (from its position). */
    private void convertInto(FloatBuffer dst, long first, long count) {
        int es = dtype.elementSize();
        long perWindow = WINDOW / es;
        for (long done = 0; done < count; done += perWindow) {
            int n = (int) Math.min(perWindow, count - done);
            ByteBuffer src = bytes((first + done) * es, n * es);
            switch (dtype) {
                case FLOAT32 -> dst.put(src.asFloatBuffer());
                case BFLOAT16, FLOAT16 -> {
                    if (dst.hasArray() && n >= nativeConvertMin()) { // straight into the array, natively
                        int to = dst.arrayOffset() + dst.position();
                        halvesToFloats(dtype == DType.BFLOAT16, address() + (first + done) * es, dst.array(), to, n);
                        dst.position(dst.position() + n);
                        break;
                    }
                    // in slices through arrays: bulk moves and a loop
                    java.nio.ShortBuffer halves = src.asShortBuffer();
                    short[] h = new short[Math.min(n, CONVERT_SLICE)];
                    float[] f = new float[h.length];
                    for (int at = 0; at < n; at += h.length) {
                        int m = Math.min(h.length, n - at);
                        halves.get(at, h, 0, m);
                        halvesToFloats(dtype == DType.BFLOAT16, h, m, f, 0);
                        dst.put(f, 0, m);
                    }
                }
                case FLOAT64 -> {
                    for (int i = 0; i < n; i++) {
                        dst.put((float) src.getDouble(8 * i));
                    }
                }
                case INT64 -> {
                    for (int i = 0; i < n; i++) {
                        dst.put((float) src.getLong(8 * i));
                    }
                }
                case INT32 -> {
                    for (int i = 0; i < n; i++) {
                        dst.put((float) src.getInt(4 * i));
                    }
                }
                case INT16 -> {
                    for (int i = 0; i < n; i++) {
                        dst.put((float) src.getShort(2 * i));
                    }
                }
                case INT8 -> {
                    for (int i = 0; i < n; i++) {
                        dst.put((float) src.get(i));
                    }
                }
                case UINT8, BOOL -> {
                    for (int i = 0; i < n; i++) {
                        dst.put((float) (src.get(i) & 0xFF));
                    }
                }
            }
        }
    }

    /** Fewest values of this tensor's dtype read through the native conversion (no dtype but the half ones: never). */
    private int nativeConvertMin() {
        return switch (dtype) {
            case BFLOAT16 -> NATIVE_CONVERT_MIN_BF16;
            case FLOAT16 -> NATIVE_CONVERT_MIN_F16;
            default -> Integer.MAX_VALUE;
        };
    }

    /** The Java conversion of {@code count} half precision values of {@code h} ({@link #bfloat16ToFloat} or
     * {@link #float16ToFloat}) into {@code out} from {@code at}: reads shorter than the native kernel's threshold. */
    private static void halvesToFloats(boolean bf16, short[] h, int count, float[] out, int at) {
        if (bf16) {
            for (int i = 0; i < count; i++) {
                out[at + i] = bfloat16ToFloat(h[i]);
            }
        } else {
            for (int i = 0; i < count; i++) {
                out[at + i] = float16ToFloat(h[i]);
            }
        }
    }

    /**
     * {@code count} half precision values at {@code src} into {@code out} from {@code at} with the native kernel
     * (lady.h kernel 6: AVX-512 or AVX2, exact, the same bits as {@link #bfloat16ToFloat} and
     * {@link #float16ToFloat}). Straight into the array, pinned for the call ({@link Kernels#bf16ToFloat(long,
     * float[], int, int)}), at most {@link #NATIVE_CONVERT_PIN} values per call. Converting into a reused native
     * scratch buffer, then one bulk {@code FloatBuffer.get} into the array (a second pass over the floats), was as
     * fast up to 256 values and slower on rows (4,096 values: 0.93 against 0.37 us; 14,336: 3.0 against 2.1 us;
     * bench/RESULTS.md, ConvertBench), so the array is written directly.
     */
    private static void halvesToFloats(boolean bf16, long src, float[] out, int at, int count) {
        for (int done = 0; done < count; done += NATIVE_CONVERT_PIN) {
            int n = Math.min(NATIVE_CONVERT_PIN, count - done);
            if (bf16) {
                Kernels.bf16ToFloat(src + 2L * done, out, at + done, n);
            } else {
                Kernels.f16ToFloat(src + 2L * done, out, at + done, n);
            }
        }
    }

    /**
     * This float32 tensor as a copy in another floating dtype: float64 exactly, float16 and bfloat16 rounded to
     * the nearest (ties to even, overflow to infinity), the inverse of {@link #toFloat32()} up to that rounding.
     */
    public HostTensor converted(DType target) {
        requireDType(DType.FLOAT32);
        if (target == DType.FLOAT32) {
            return copy();
        }
        if (!target.floating()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "float32 values are converted to floating dtypes only, not "
                    + target);
        }
        float[] v = readFloats();
        HostTensor out = allocate(target, shape);
        ByteBuffer dst = out.bytes(0, Math.toIntExact(out.byteSize()));
        for (int i = 0; i < v.length; i++) {
            switch (target) {
                case FLOAT64 -> dst.putDouble(8 * i, v[i]);
                case BFLOAT16 -> dst.putShort(2 * i, floatToBfloat16(v[i]));
                default -> dst.putShort(2 * i, floatToFloat16(v[i]));
            }
        }
        java.lang.ref.Reference.reachabilityFence(out);
        return out;
    }

    /** float32 to bfloat16 bits, rounded to the nearest (ties to even); NaN stays NaN. */
    public static short floatToBfloat16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((b >>> 16) | 0x40);
        }
        return (short) ((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16);
    }

    /** float32 to IEEE half-precision bits, rounded to the nearest (ties to even); subnormals, infinities and NaN kept. */
    public static short floatToFloat16(float f) {
        int b = Float.floatToRawIntBits(f);
        int sign = (b >>> 16) & 0x8000;
        int exp = (b >>> 23) & 0xFF;
        int mant = b & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            int m = mant | 0x800000; // the implicit bit, shifted down to a subnormal half
            int shift = 14 - e;
            int half = m >>> shift;
            int rest = m & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rest > mid || (rest == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int h = (e << 10) | (mant >>> 13);
        int rest = mant & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) {
            h++; // a carry into the exponent is right, up to infinity
        }
        return (short) (sign | h);
    }

    /** bfloat16 bits to float32 (exact: the upper half of a float32). */
    public static float bfloat16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** IEEE half-precision bits to float32 (exact, subnormals, infinities and NaN included). */
    public static float float16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal (or zero): mant * 2^-24, exact in float32
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** The exponent bits of a float16 and of a bfloat16 (all set: infinity or NaN). */
    private static final int HALF_EXPONENT = 0x7C00;
    private static final int BFLOAT_EXPONENT = 0x7F80;

    /**
     * Moves every finite floating-point value by one unit in the last place of its own dtype (float32, float16, bfloat16),
     * up or down as {@code coin} says, in place; zeros, subnormal steps to zero and infinities stay, other dtypes are left
     * as they are. Float rounding makes changes of this size anyway: the outputs of a model so moved show its own float
     * noise (lady.onnx.OrtRunner#floatNoise, lady.model.PermutationCheck).
     */
    public void nudge(java.util.SplittableRandom coin) {
        boolean half = dtype == DType.FLOAT16 || dtype == DType.BFLOAT16;
        if (dtype != DType.FLOAT32 && !half) {
            return;
        }
        int exponent = dtype == DType.FLOAT16 ? HALF_EXPONENT : BFLOAT_EXPONENT;
        for (long done = 0; done < byteSize(); done += WINDOW) { // window by window: any size
            ByteBuffer window = HostMemory.at(address() + done, (int) Math.min(WINDOW, byteSize() - done));
            if (!half) {
                FloatBuffer f = window.asFloatBuffer();
                for (int i = 0; i < f.limit(); i++) {
                    float v = f.get(i);
                    if (Float.isFinite(v)) {
                        f.put(i, coin.nextBoolean() ? Math.nextUp(v) : Math.nextDown(v));
                    }
                }
                continue;
            }
            java.nio.ShortBuffer h = window.asShortBuffer();
            for (int i = 0; i < h.limit(); i++) {
                int bits = h.get(i) & 0xFFFF;
                int magnitude = bits & 0x7FFF;
                if (magnitude > 1 && (magnitude | exponent) != magnitude && ((magnitude + 1) & exponent) != exponent) {
                    h.put(i, (short) (coin.nextBoolean() ? bits + 1 : bits - 1)); // the magnitude one step up or down
                }
            }
        }
        java.lang.ref.Reference.reachabilityFence(this);
    }

    /** A contiguous copy in fresh memory. */
    public HostTensor copy() {
        HostTensor out = allocate(dtype, shape);
        copyBytes(out.address(), address(), byteSize());
        java.lang.ref.Reference.reachabilityFence(this);
        return out;
    }

    /** Copies {@code bytes} bytes from {@code src} to {@code dst} (non-overlapping native memory), window by window. */
    public static void copyBytes(long dst, long src, long bytes) {
        for (long done = 0; done < bytes; done += WINDOW) {
            int n = (int) Math.min(WINDOW, bytes - done);
            HostMemory.at(dst + done, n).put(HostMemory.at(src + done, n));
        }
    }

    /** Copies {@code other}'s bytes into this tensor (same dtype and element count). */
    public void copyFrom(HostTensor other) {
        if (other.dtype != dtype || other.numel != numel) {
            throw new LadyException(LadyException.Kind.INTERNAL, "copying a " + other.dtype + " tensor of "
                    + other.numel + " elements into a " + dtype + " tensor of " + numel);
        }
        copyBytes(address(), other.address(), byteSize());
        java.lang.ref.Reference.reachabilityFence(other);
        java.lang.ref.Reference.reachabilityFence(this);
    }

    /** Whether {@code other} has the same dtype, shape and bytes (bit-identical values). */
    public boolean sameContent(HostTensor other) {
        if (other.dtype != dtype || !Arrays.equals(other.shape, shape)) {
            return false;
        }
        long n = byteSize();
        try {
            for (long done = 0; done < n; done += WINDOW) {
                int len = (int) Math.min(WINDOW, n - done);
                if (bytes(done, len).mismatch(other.bytes(done, len)) >= 0) {
                    return false;
                }
            }
            return true;
        } finally {
            java.lang.ref.Reference.reachabilityFence(this);
            java.lang.ref.Reference.reachabilityFence(other);
        }
    }

    /**
     * A new tensor gathered along {@code axis} in blocks of {@code block} indices: new block j is old
     * block {@code index[j]} (indices may repeat: the paper's argmax with duplicates).
     */
    public HostTensor gather(int axis, long block, long[] index) {
        if (axis < 0 || axis >= shape.length || shape[axis] != index.length * block) {
            throw LadyException.invalidInput("cannot gather " + index.length + " blocks of " + block + " along axis "
                    + axis + " of a tensor of shape " + lady.util.Text.shape(shape));
        }
        return gather(axis, 0, block, index);
    }

    /**
     * A new tensor equal to this one except along {@code axis} in the range [offset, offset + index.length *
     * block): there, block j is old block {@code index[j]} of the range (indices may repeat).
     */
    public HostTensor gather(int axis, long offset, long block, long[] index) {
        long n = index.length;
        if (axis < 0 || axis >= shape.length || offset < 0 || block < 1 || offset + n * block > shape[axis]) {
            throw LadyException.invalidInput("cannot gather " + n + " blocks of " + block + " from index " + offset
                    + " along axis " + axis + " of a tensor of shape " + lady.util.Text.shape(shape));
        }
        for (long i : index) {
            if (i < 0 || i >= n) {
                throw LadyException.invalidInput("gather index " + i + " outside 0.." + (n - 1));
            }
        }
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= shape[i];
        }
        long inner = dtype.elementSize();
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        long rowBytes = block * inner;
        long stride = shape[axis] * inner; // bytes of one outer slice
        long first = offset * inner;
        HostTensor out = copy();
        if (byteSize() <= WINDOW) { // one buffer each way: no per-block buffer objects
            ByteBuffer src = bytes(0, (int) byteSize());
            ByteBuffer dst = out.bytes(0, (int) byteSize());
            for (long o = 0; o < outer; o++) {
                for (int j = 0; j < n; j++) {
                    dst.put((int) (o * stride + first + j * rowBytes), src, (int) (o * stride + first + index[j] * rowBytes),
                            (int) rowBytes);
                }
            }
        } else {
            for (long o = 0; o < outer; o++) {
                for (int j = 0; j < n; j++) {
                    copyBytes(out.address() + o * stride + first + j * rowBytes,
                            address() + o * stride + first + index[j] * rowBytes, rowBytes);
                }
            }
        }
        java.lang.ref.Reference.reachabilityFence(this);
        return out;
    }

    /**
     * A new tensor of the rows (axis-0 indices) {@code index}, in that order: row j is old row {@code index[j]}
     * (any count; indices may repeat).
     */
    public HostTensor selectRows(long[] index) {
        if (shape.length == 0) {
            throw LadyException.invalidInput("cannot select rows of a scalar");
        }
        long[] outShape = shape.clone();
        outShape[0] = index.length;
        for (long i : index) {
            if (i < 0 || i >= shape[0]) {
                throw LadyException.invalidInput("row " + i + " outside 0.." + (shape[0] - 1));
            }
        }
        HostTensor out = allocate(dtype, outShape);
        long rowBytes = shape[0] == 0 ? 0 : byteSize() / shape[0];
        for (int j = 0; j < index.length; j++) {
            copyBytes(out.address() + j * rowBytes, address() + index[j] * rowBytes, rowBytes);
        }
        java.lang.ref.Reference.reachabilityFence(this);
        return out;
    }

    /**
     * Indices [offset, offset + length) of {@code axis}, that axis first and the others in their order
     * (libtorch's {@code narrow(axis, offset, length).movedim(axis, 0)}): a view for axis 0, else a copy.
     */
    public HostTensor axisSlice(int axis, long from, long length) {
        if (axis < 0 || axis >= shape.length || from < 0 || length < 0 || from + length > shape[axis]) {
            throw LadyException.invalidInput("indices [" + from + ", " + (from + length) + ") of axis " + axis
                    + " lie outside a tensor of shape " + lady.util.Text.shape(shape));
        }
        long inner = dtype.elementSize();
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        long[] outShape = new long[shape.length];
        outShape[0] = length;
        for (int i = 0, k = 1; i < shape.length; i++) {
            if (i != axis) {
                outShape[k++] = shape[i];
            }
        }
        if (axis == 0) {
            return new HostTensor(dtype, outShape, numel(outShape), memory, offset + from * inner);
        }
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= shape[i];
        }
        long stride = shape[axis] * inner;
        HostTensor out = allocate(dtype, outShape);
        if (inner >= SLICE_RUN_MIN_BYTES) { // runs long enough to copy one by one
            for (long a = 0; a < length; a++) { // out[a, o, :] = this[o, from + a, :]
                for (long o = 0; o < outer; o++) {
                    copyBytes(out.address() + (a * outer + o) * inner, address() + o * stride + (from + a) * inner, inner);
                }
            }
        } else if (length > 0 && outer > 0) {
            transposeRuns(out, outer, stride, from * inner, length, (int) inner);
        }
        java.lang.ref.Reference.reachabilityFence(this);
        return out;
    }

    /**
     * {@link #axisSlice}'s copy when its runs (the bytes after the axis) are short: {@code out[a, o, :] =
     * this[o, from + a, :]} for a < length, o < outer, runs of {@code inner} bytes; a block of outer rows at a time,
     * each row's runs read in bulk, transposed in a Java array (ints when runs are whole ints) and written in bulk.
     */
    private void transposeRuns(HostTensor out, long outer, long stride, long fromBytes, long length, int inner) {
        boolean ints = inner % Integer.BYTES == 0;
        int unit = ints ? Integer.BYTES : 1;
        int k = inner / unit; // units per run
        int rowUnits = Math.toIntExact(length * k); // units read from one outer row
        int block = (int) Math.max(1, Math.min(outer, SLICE_BLOCK_BYTES / ((long) rowUnits * unit)));
        int[] inI = ints ? new int[block * rowUnits] : null;
        int[] outI = ints ? new int[block * k] : null;
        byte[] inB = ints ? null : new byte[block * rowUnits];
        byte[] outB = ints ? null : new byte[block * k];
        for (long o0 = 0; o0 < outer; o0 += block) {
            int rows = (int) Math.min(block, outer - o0);
            for (int r = 0; r < rows; r++) {
                ByteBuffer src = bytes((o0 + r) * stride + fromBytes, rowUnits * unit);
                if (ints) {
                    src.asIntBuffer().get(inI, r * rowUnits, rowUnits);
                } else {
                    src.get(inB, r * rowUnits, rowUnits);
                }
            }
            for (long a = 0; a < length; a++) { // out's rows o0 .. o0 + rows of slot a: one contiguous run
                int at = (int) a * k;
                for (int r = 0; r < rows; r++) {
                    int i = r * rowUnits + at;
                    if (ints) {
                        for (int j = 0; j < k; j++) {
                            outI[r * k + j] = inI[i + j];
                        }
                    } else {
                        for (int j = 0; j < k; j++) {
                            outB[r * k + j] = inB[i + j];
                        }
                    }
                }
                ByteBuffer dst = out.bytes((a * outer + o0) * inner, rows * inner);
                if (ints) {
                    dst.asIntBuffer().put(outI, 0, rows * k);
                } else {
                    dst.put(outB, 0, rows * k);
                }
            }
        }
    }

    /**
     * A contiguous copy of the strided view {@code (size, stride)} (in elements) starting at byte
     * {@code byteOffset} of {@code memory}: PyTorch's non-contiguous tensors in zip checkpoints.
     * The caller checked that every element lies inside the block.
     */
    public static HostTensor gatherStrided(HostMemory memory, long byteOffset, DType dtype, long[] size, long[] stride) {
        HostTensor out = allocate(dtype, size);
        int es = dtype.elementSize();
        long n = out.numel;
        if (n == 0) {
            return out;
        }
        long last = 0; // largest element offset reached (strides are non-negative in checkpoints)
        for (int a = 0; a < size.length; a++) {
            last += (size[a] - 1) * stride[a];
        }
        long extent = (last + 1) * es;
        if (extent > WINDOW || out.byteSize() > WINDOW) {
            throw LadyException.invalidInput("a non-contiguous tensor of " + n + " elements spanning " + extent
                    + " bytes is too large to read (save it contiguous: tensor.contiguous())");
        }
        ByteBuffer src = memory.buffer(byteOffset, (int) extent);
        ByteBuffer dst = out.bytes(0, (int) out.byteSize());
        long[] idx = new long[size.length];
        for (long k = 0; k < n; k++) {
            long at = 0;
            for (int a = 0; a < size.length; a++) {
                at += idx[a] * stride[a];
            }
            dst.put((int) (k * es), src, (int) (at * es), es);
            for (int a = size.length - 1; a >= 0; a--) {
                if (++idx[a] < size[a]) {
                    break;
                }
                idx[a] = 0;
            }
        }
        java.lang.ref.Reference.reachabilityFence(memory);
        return out;
    }

    private void requireDType(DType want) {
        if (dtype != want) {
            throw LadyException.invalidInput("a " + dtype.name().toLowerCase(java.util.Locale.ROOT) + " tensor where "
                    + want.name().toLowerCase(java.util.Locale.ROOT) + " is needed");
        }
    }

    /** The native byte order is little-endian (checkpoints are little-endian). */
    public static boolean littleEndianHost() {
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    }

    @Override
    public String toString() {
        return dtype.name().toLowerCase(java.util.Locale.ROOT) + lady.util.Text.shape(shape);
    }
}
