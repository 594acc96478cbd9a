package lady.kernels;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;

import lady.LadyException;
import lady.kernels.bridge.LadyNative;

/**
 * The one gateway to the native library (native/include/lady.h): permutation, gathering, host memory, and
 * the resync kernels (cosine similarity, argmax with the second best, top-k, the canonical sort, exact
 * assignment), each with a reference, CPU and CUDA backend. Validates arguments in Java (so messages can
 * name tensors), calls the chosen backend, and turns a native status into a {@link LadyException}.
 */
public final class Kernels {
    private Kernels() {}

    private static volatile boolean loaded;

    /** The environment variable that caps the CPU kernels' vector paths ({@link #maxCpuIsa()}). */
    public static final String MAX_CPU_ISA = "LADY_MAX_CPU_ISA";

    /**
     * The cap on the CPU kernels' vector paths from {@link #MAX_CPU_ISA} (read once by the native library, as oneDNN
     * reads ONEDNN_MAX_CPU_ISA; lady.h): 0 none, 1 AVX2 at most, 2 the portable paths only. It lets an AVX-512
     * machine run, and test, the paths of an AVX2-only one ({@code .ci/run} does).
     */
    public static int maxCpuIsa() {
        ensureLoaded();
        return LadyNative.lady_max_cpu_isa();
    }

    /** Loads the native library (once); a failure becomes a clear exception, not a crash. */
    public static void ensureLoaded() {
        if (loaded) {
            return;
        }
        synchronized (Kernels.class) {
            if (loaded) {
                return;
            }
            try {
                org.bytedeco.javacpp.Loader.load(LadyNative.class);
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                throw new LadyException(LadyException.Kind.INTERNAL,
                        "cannot load Lady's native library (was the project built with mvn package?): " + e.getMessage(),
                        e);
            }
            if (LadyNative.lady_max_cpu_isa() < 0) {
                throw new LadyException(LadyException.Kind.USAGE, "the environment variable " + MAX_CPU_ISA + "="
                        + lady.util.Text.escape(String.valueOf(System.getenv(MAX_CPU_ISA)))
                        + " is not one of AVX512, AVX2, SCALAR (unset it to let the kernels use the best the CPU has)");
            }
            loaded = true;
        }
    }

    /**
     * Applies {@code perm} (new neuron j is old neuron perm[j]) in place to every target, in one
     * native call. Nothing is written when any argument is invalid.
     */
    public static void permute(Backend backend, long[] perm, List<PermuteTarget> targets) {
        validatePermutation(perm);
        for (PermuteTarget t : targets) {
            if (t.n() != perm.length) {
                throw LadyException.invalidInput(String.format(
                        "tensor '%s' has %d neurons along the permuted axis but the permutation has size %d", t.name(),
                        t.n(), perm.length));
            }
        }
        ensureLoaded();
        int count = targets.size();
        long[] addresses = new long[count];
        long[] outer = new long[count];
        long[] rowBytes = new long[count];
        for (int i = 0; i < count; i++) {
            PermuteTarget t = targets.get(i);
            addresses[i] = t.address();
            outer[i] = t.outer();
            rowBytes[i] = t.rowBytes();
        }
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_permute_ref(count, addresses, outer, rowBytes, perm, perm.length);
            case CPU -> LadyNative.lady_permute_cpu(count, addresses, outer, rowBytes, perm, perm.length);
            case CUDA -> LadyNative.lady_permute_cuda(count, addresses, outer, rowBytes, perm, perm.length);
        };
        check(status, "permute");
        // keep every owner reachable until the native call has returned
        java.lang.ref.Reference.reachabilityFence(targets);
    }

    /**
     * Whole-network permutation in ONE native call: every tensor gets its own optional axis-0 and
     * axis-1 permutation (a tensor can be the producer of one group and the consumer of the next).
     * Permutations shared by several tensors (same array instance) are passed once. Every
     * permutation is validated first; nothing is written when any argument is invalid.
     */
    public static void permuteTensors(Backend backend, List<TensorPermutation> targets) {
        java.util.IdentityHashMap<long[], Long> offsets = new java.util.IdentityHashMap<>();
        long poolLength = 0;
        for (TensorPermutation t : targets) {
            long[][] axes = {t.p0(), t.p1()};
            for (int axis = 0; axis < 2; axis++) {
                long[] p = axes[axis];
                if (p == null || offsets.containsKey(p)) {
                    continue;
                }
                try {
                    validatePermutation(p);
                } catch (LadyException e) {
                    throw LadyException.invalidInput("tensor '" + t.name() + "' axis " + axis + ": " + e.getMessage());
                }
                offsets.put(p, poolLength);
                poolLength += p.length;
            }
        }
        // in place, tensor by tensor: two targets sharing memory would be permuted twice
        List<TensorPermutation> byAddress = new ArrayList<>(targets);
        byAddress.removeIf(t -> t.bytes() == 0);
        byAddress.sort(java.util.Comparator.comparingLong(TensorPermutation::address));
        for (int i = 1; i < byAddress.size(); i++) {
            TensorPermutation a = byAddress.get(i - 1), b = byAddress.get(i);
            if (Long.compareUnsigned(b.address(), a.address() + a.bytes()) < 0) {
                throw LadyException.invalidInput(String.format(
                        "tensors '%s' and '%s' share memory; permuting them in place would permute it twice", a.name(),
                        b.name()));
            }
        }
        long[] pool = new long[Math.toIntExact(poolLength)];
        offsets.forEach((p, off) -> System.arraycopy(p, 0, pool, Math.toIntExact(off), p.length));
        int count = targets.size();
        long[] addresses = new long[count];
        long[] dims = new long[4 * count];
        long[] permOffsets = new long[2 * count];
        for (int i = 0; i < count; i++) {
            TensorPermutation t = targets.get(i);
            addresses[i] = t.address();
            dims[4 * i] = t.rows();
            dims[4 * i + 1] = t.n1();
            dims[4 * i + 2] = t.block();
            dims[4 * i + 3] = t.innerBytes();
            permOffsets[2 * i] = t.p0() == null ? -1 : offsets.get(t.p0());
            permOffsets[2 * i + 1] = t.p1() == null ? -1 : offsets.get(t.p1());
        }
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_permute_tensors_ref(count, addresses, dims, permOffsets, pool, pool.length);
            case CPU -> LadyNative.lady_permute_tensors_cpu(count, addresses, dims, permOffsets, pool, pool.length);
            case CUDA -> LadyNative.lady_permute_tensors_cuda(count, addresses, dims, permOffsets, pool, pool.length);
        };
        check(status, "permute_tensors");
        java.lang.ref.Reference.reachabilityFence(targets);
    }

    /** Throws a clear error unless {@code perm} holds each of 0..n-1 exactly once. */
    public static void validatePermutation(long[] perm) {
        if (perm == null) {
            throw LadyException.invalidInput("permutation is missing (null)");
        }
        int n = perm.length;
        int[] firstSeen = new int[n];
        java.util.Arrays.fill(firstSeen, -1);
        for (int j = 0; j < n; j++) {
            long v = perm[j];
            if (v < 0 || v >= n) {
                throw LadyException.invalidInput(String.format(
                        "not a permutation of size %d: index %d at position %d is outside 0..%d", n, v, j, n - 1));
            }
            if (firstSeen[(int) v] >= 0) {
                throw LadyException.invalidInput(String.format(
                        "not a permutation of size %d: index %d appears twice (positions %d and %d)", n, v,
                        firstSeen[(int) v], j));
            }
            firstSeen[(int) v] = j;
        }
    }

    /** Facts about the native library: version, CPU features, CUDA. */
    public static NativeInfo info() {
        ensureLoaded();
        boolean cudaCompiled = LadyNative.lady_cuda_compiled() == 1;
        int[] count = new int[1];
        int status = LadyNative.lady_cuda_device_count(count);
        List<String> names = new ArrayList<>();
        String why = status == LadyNative.LADY_OK ? "" : LadyNative.lady_last_error();
        for (int i = 0; status == LadyNative.LADY_OK && i < count[0]; i++) {
            byte[] buf = new byte[256];
            if (LadyNative.lady_cuda_device_name(i, buf, buf.length) == LadyNative.LADY_OK) {
                int len = 0;
                while (len < buf.length && buf[len] != 0) {
                    len++;
                }
                names.add(new String(buf, 0, len, StandardCharsets.UTF_8));
            }
        }
        String archs = LadyNative.lady_cuda_architectures();
        return new NativeInfo(LadyNative.lady_native_version(), LadyNative.lady_cpu_features(),
                LadyNative.lady_get_num_threads(), cudaCompiled,
                archs.isEmpty() ? List.of() : List.of(archs.split(",")), status == LadyNative.LADY_OK ? count[0] : 0,
                names, why);
    }

    /** Where the native library is loaded from (a URL), or "unknown". */
    public static String libraryLocation() {
        try {
            java.net.URL url = LadyNative.class.getResource(
                    "/lady/kernels/bridge/" + org.bytedeco.javacpp.Loader.getPlatform() + "/liblady_native.so");
            return url == null ? "unknown" : url.toString();
        } catch (RuntimeException e) {
            return "unknown";
        }
    }

    /** Number of usable GPUs (0 when the library was built without CUDA or no GPU is present). */
    public static int gpuCount() {
        return info().gpuCount();
    }

    /** Threads used by the CPU kernels; {@code n <= 0} restores the default (all cores). */
    public static void setThreads(int n) {
        ensureLoaded();
        LadyNative.lady_set_num_threads(n);
    }

    /** Threads the CPU kernels use now. */
    public static int threads() {
        ensureLoaded();
        return LadyNative.lady_get_num_threads();
    }

    // ---- resync kernels (lady.h kernels 2-4): similarity, ranking, assignment. Two forms of each: over raw
    // host addresses (zero copy; the caller keeps the memory alive) and over Java arrays (copied to native
    // memory and back). Arguments are validated here first, with messages naming the problem.

    // ---- similarity ------------------------------------------------------------------------------

    /** out[n x m] = cosine similarity of the rows of a[n x d] and b[m x d] (centered: Pearson). */
    public static void cosineSimilarity(Backend backend, long a, long b, long n, long m, long d, boolean centered,
            long out) {
        requireSize("rows of a", n);
        requireSize("rows of b", m);
        requireSize("row dimension", d);
        requireAddress("matrix a", a, n * d);
        requireAddress("matrix b", b, m * d);
        requireAddress("output", out, n * m);
        ensureLoaded();
        int c = centered ? 1 : 0;
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_cosine_similarity_ref(a, b, n, m, d, c, out);
            case CPU -> LadyNative.lady_cosine_similarity_cpu(a, b, n, m, d, c, out);
            case CUDA -> LadyNative.lady_cosine_similarity_cuda(a, b, n, m, d, c, out);
        };
        check(status, "cosine similarity");
    }

    /** The n x m cosine similarity of the rows of a (n x d) and b (m x d), row-major. */
    public static float[] cosineSimilarity(Backend backend, float[] a, float[] b, int n, int m, int d,
            boolean centered) {
        requireMatrix("matrix a", a, n, d);
        requireMatrix("matrix b", b, m, d);
        long outLength = requireElements("similarity", n, m);
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b);
                FloatPointer po = new FloatPointer(Math.max(1, outLength))) {
            cosineSimilarity(backend, pa.address(), pb.address(), n, m, d, centered, po.address());
            float[] out = new float[(int) outLength];
            po.get(out);
            return out;
        }
    }

    /**
     * out[n x m] (float32) = {@code <a_i, b_j> invA[i] invB[j]} for bfloat16 rows a[n x d] and b[m x d] (raw 16-bit
     * values, row-major) with float32 accumulation (lady.h): the cosine similarity when invA and invB (n and m
     * doubles) are the rows' inverse norms, which the caller computes in double from the same values
     * ({@link #inverseNormsBf16}). Products of bfloat16 values are exact in float32, so this is the float32
     * kernel's result on the widened rows up to summation order ({@link Tolerances#F32_MAX_REL_ERR}), at half
     * the memory traffic and, on CPUs with AVX512-BF16, about twice the arithmetic rate.
     */
    public static void cosineSimilarityBf16(Backend backend, long a, long b, long n, long m, long d, long invA,
            long invB, long out) {
        requireSize("rows of a", n);
        requireSize("rows of b", m);
        requireSize("row dimension", d);
        requireAddress("matrix a", a, n * d);
        requireAddress("matrix b", b, m * d);
        requireAddress("inverse norms of a", invA, n);
        requireAddress("inverse norms of b", invB, m);
        requireAddress("output", out, n * m);
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_cosine_similarity_bf16_ref(a, b, n, m, d, invA, invB, out);
            case CPU -> LadyNative.lady_cosine_similarity_bf16_cpu(a, b, n, m, d, invA, invB, out);
            case CUDA -> LadyNative.lady_cosine_similarity_bf16_cuda(a, b, n, m, d, invA, invB, out);
        };
        check(status, "bfloat16 cosine similarity");
    }

    /** As {@link #cosineSimilarityBf16(Backend, long, long, long, long, long, long, long, long)}, the inverse norms
     * given as Java arrays (n and m values). */
    public static void cosineSimilarityBf16(Backend backend, long a, long b, long n, long m, long d, double[] invA,
            double[] invB, long out) {
        requireSize("rows of a", n);
        requireSize("rows of b", m);
        if (invA == null || invA.length != n || invB == null || invB.length != m) {
            throw LadyException.invalidInput("bfloat16 cosine similarity: " + (invA == null ? "no" : invA.length)
                    + " and " + (invB == null ? "no" : invB.length) + " inverse norms for " + n + " and " + m + " rows");
        }
        try (DoublePointer na = new DoublePointer(invA); DoublePointer nb = new DoublePointer(invB)) {
            cosineSimilarityBf16(backend, a, b, n, m, d, na.address(), nb.address(), out);
        }
    }

    /** Array form of {@link #cosineSimilarityBf16(Backend, long, long, long, long, long, long, long, long)}. */
    public static float[] cosineSimilarityBf16(Backend backend, short[] a, short[] b, int n, int m, int d, double[] invA,
            double[] invB) {
        requireShape("matrix a", a == null ? -1 : a.length, n, d);
        requireShape("matrix b", b == null ? -1 : b.length, m, d);
        requireShape("inverse norms of a", invA == null ? -1 : invA.length, n, 1);
        requireShape("inverse norms of b", invB == null ? -1 : invB.length, m, 1);
        long outLength = requireElements("similarity", n, m);
        try (ShortPointer pa = new ShortPointer(a); ShortPointer pb = new ShortPointer(b);
                DoublePointer na = new DoublePointer(invA); DoublePointer nb = new DoublePointer(invB);
                FloatPointer po = new FloatPointer(Math.max(1, outLength))) {
            cosineSimilarityBf16(backend, pa.address(), pb.address(), n, m, d, na.address(), nb.address(),
                    po.address());
            float[] out = new float[(int) outLength];
            po.get(out);
            return out;
        }
    }

    /** 1 / max(||row||, 1e-12) of each row of bfloat16 x[rows x d], squares and sums in double. */
    public static double[] inverseNormsBf16(short[] x, int rows, int d) {
        requireShape("matrix", x == null ? -1 : x.length, rows, d);
        double[] out = new double[rows];
        for (int i = 0; i < rows; i++) {
            double ss = 0;
            for (int t = 0; t < d; t++) {
                double v = Float.intBitsToFloat((x[i * d + t] & 0xFFFF) << 16);
                ss += v * v;
            }
            out[i] = 1.0 / Math.max(Math.sqrt(ss), NORM_FLOOR);
        }
        return out;
    }

    /**
     * The most float32 additions any one product passes through in {@link #cosineSimilarityBf16} on the CPU, for rows
     * of d values (lady.h: depth blocks of 256 to 512 products, each block's sum added to the running sum):
     * 512 + ceil(d / 256). Error bounds on the kernel's result rest on it.
     */
    public static long bf16SumAdditions(long d) {
        return 512 + (d + 255) / 256;
    }

    /** Row norm floor of every cosine kernel (torch.nn.functional.normalize's eps). */
    public static final double NORM_FLOOR = 1e-12;

    /** Which bfloat16 product {@link Backend#CPU} runs now: "avx512bf16", or the float32 kernel it widens to. */
    public static String bf16KernelName() {
        ensureLoaded();
        return LadyNative.lady_bf16_kernel_name();
    }

    /** Tests: {@code true} makes the CPU bfloat16 product widen to float32 even where AVX512-BF16 exists. */
    static void forceBf16Widening(boolean on) {
        ensureLoaded();
        LadyNative.lady_set_bf16_kernel(on ? 1 : 0);
    }

    /**
     * {@code n} bfloat16 values (raw bits, any alignment) at host address {@code src} into float32 at {@code dst}
     * (lady.h kernel 6): exact, each the upper half of a float32. {@link Backend#CUDA} has no version (the values
     * are read on the host): a clear error.
     */
    public static void bf16ToFloat(Backend backend, long src, long dst, long n) {
        halfToFloat(backend, true, src, dst, n);
    }

    /**
     * {@code n} IEEE half values at {@code src} into float32 at {@code dst} (lady.h kernel 6), bit for bit what
     * {@code lady.tensor.HostTensor.float16ToFloat} gives (a signaling NaN stays signaling).
     */
    public static void f16ToFloat(Backend backend, long src, long dst, long n) {
        halfToFloat(backend, false, src, dst, n);
    }

    /**
     * {@code n} bfloat16 values at host address {@code src} into {@code out[at, at + n)} with the CPU kernel. The
     * array is pinned for the call (JNI GetPrimitiveArrayCritical: HotSpot hands over the array itself, no copy;
     * a garbage collection waits for the call, a few microseconds for a row of values).
     */
    public static void bf16ToFloat(long src, float[] out, int at, int n) {
        requireRange(src, out, at, n);
        ensureLoaded();
        check(LadyNative.lady_bf16_to_float_cpu(src, out, at, n), "bf16_to_float_cpu");
    }

    /** As {@link #bf16ToFloat(long, float[], int, int)} for IEEE half values. */
    public static void f16ToFloat(long src, float[] out, int at, int n) {
        requireRange(src, out, at, n);
        ensureLoaded();
        check(LadyNative.lady_f16_to_float_cpu(src, out, at, n), "f16_to_float_cpu");
    }

    private static void requireRange(long src, float[] out, int at, int n) {
        if (at < 0 || n < 0 || at > out.length - n) {
            throw new LadyException(LadyException.Kind.INTERNAL, "values [" + at + ", +" + n + ") outside an array of "
                    + out.length);
        }
        requireAddress("half precision source", src, n);
    }

    private static void halfToFloat(Backend backend, boolean bf16, long src, long dst, long n) {
        requireSize("value count", n);
        requireAddress("half precision source", src, n);
        requireAddress("float32 destination", dst, n);
        ensureLoaded();
        String name = (bf16 ? "bf16" : "f16") + "_to_float_" + backend.name().toLowerCase(java.util.Locale.ROOT);
        int status = switch (backend) {
            case REFERENCE -> bf16 ? LadyNative.lady_bf16_to_float_ref(src, dst, 0, n)
                    : LadyNative.lady_f16_to_float_ref(src, dst, 0, n);
            case CPU -> bf16 ? LadyNative.lady_bf16_to_float_cpu(src, dst, 0, n)
                    : LadyNative.lady_f16_to_float_cpu(src, dst, 0, n);
            case CUDA -> throw new LadyException(LadyException.Kind.NO_GPU, name
                    + ": no CUDA version (half precision values are converted where they are read, on the host)");
        };
        check(status, name);
    }

    /** Which path the CPU half precision conversion runs now: "avx512f", "avx2" or "scalar". */
    public static String convertKernelName() {
        ensureLoaded();
        return LadyNative.lady_convert_kernel_name();
    }

    /**
     * Tests and benchmarks: caps the CPU half precision conversion's path (0: best available, 1: AVX2 at most,
     * 2: scalar), so every path the CPU has is exercised on it.
     */
    public static void capConvertPath(int mode) {
        ensureLoaded();
        LadyNative.lady_set_convert_kernel(mode);
    }

    /** out = rows of in[rows x d] divided by max(L2 norm, 1e-12), after centering if asked. */
    public static void normalizeRows(Backend backend, long in, long out, long rows, long d, boolean centered) {
        requireSize("rows", rows);
        requireSize("row dimension", d);
        requireAddress("input", in, rows * d);
        requireAddress("output", out, rows * d);
        ensureLoaded();
        int c = centered ? 1 : 0;
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_normalize_rows_ref(in, out, rows, d, c);
            case CPU -> LadyNative.lady_normalize_rows_cpu(in, out, rows, d, c);
            case CUDA -> LadyNative.lady_normalize_rows_cuda(in, out, rows, d, c);
        };
        check(status, "normalize rows");
    }

    /** Array form of {@link #normalizeRows(Backend, long, long, long, long, boolean)}: a normalized copy. */
    public static float[] normalizeRows(Backend backend, float[] x, int rows, int d, boolean centered) {
        requireMatrix("input", x, rows, d);
        try (FloatPointer p = new FloatPointer(x)) {
            normalizeRows(backend, p.address(), p.address(), rows, d, centered);
            float[] out = new float[x.length];
            p.get(out);
            return out;
        }
    }

    // ---- ranking ---------------------------------------------------------------------------------

    /** Per row of s[n x m]: argmax column (int32), best and second-best values (float32). */
    public static void argmaxTop2(Backend backend, long s, long n, long m, long index, long best, long second) {
        requireSize("rows", n);
        requireSize("columns", m);
        if (n > 0 && m == 0) {
            throw LadyException.invalidInput("argmax: the " + n + " rows have no columns");
        }
        requireAddress("matrix", s, n * m);
        requireAddress("index output", index, n);
        requireAddress("best output", best, n);
        requireAddress("second output", second, n);
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_argmax_top2_ref(s, n, m, index, best, second);
            case CPU -> LadyNative.lady_argmax_top2_cpu(s, n, m, index, best, second);
            case CUDA -> LadyNative.lady_argmax_top2_cuda(s, n, m, index, best, second);
        };
        check(status, "argmax");
    }

    /** Per-row argmax with best and second-best values of a row-major n x m matrix (NaN refused). */
    public static ArgmaxTop2 argmaxTop2(Backend backend, float[] s, int n, int m) {
        try (Uploaded u = upload("matrix", s, n, m)) {
            return u.argmaxTop2(backend);
        }
    }

    /**
     * A Java matrix copied once into native memory and checked once (NaN refused), for the kernels that read it in turn
     * (a group's row maxima, then, when they collide, its assignment), instead of a copy per kernel.
     */
    public static Uploaded upload(String what, float[] s, int n, int m) {
        requireMatrix(what, s, n, m);
        boolean infinite = false;
        for (float v : s) {
            if (Float.isNaN(v)) {
                requireNoNaN(what, s, Math.max(1, m), false); // (names the place)
            }
            infinite |= Float.isInfinite(v);
        }
        return new Uploaded(what, new FloatPointer(s), n, m, infinite ? s : null);
    }

    /** A matrix in native memory ({@link #upload}); closing it frees the memory. */
    public static final class Uploaded implements AutoCloseable {
        private final String what;
        private final FloatPointer values;
        private final int n;
        private final int m;
        private final float[] infinite; // the Java matrix when it holds an infinite value (for the refusal), else null

        private Uploaded(String what, FloatPointer values, int n, int m, float[] infinite) {
            this.what = what;
            this.values = values;
            this.n = n;
            this.m = m;
            this.infinite = infinite;
        }

        /** Per row, the best column (lowest on ties), its value and the second best value ({@link Kernels#argmaxTop2}). */
        public ArgmaxTop2 argmaxTop2(Backend backend) {
            try (IntPointer pi = new IntPointer(Math.max(1, n)); FloatPointer pb = new FloatPointer(Math.max(1, n));
                    FloatPointer p2 = new FloatPointer(Math.max(1, n))) {
                Kernels.argmaxTop2(backend, values.address(), n, m, pi.address(), pb.address(), p2.address());
                int[] index = new int[n];
                float[] best = new float[n];
                float[] second = new float[n];
                pi.get(index);
                pb.get(best);
                p2.get(second);
                return new ArgmaxTop2(index, best, second);
            }
        }

        /** The exact maximum-sum assignment of the square matrix ({@link Kernels#assign}); an infinite value refused. */
        public int[] assign(Backend backend) {
            if (n != m) {
                throw LadyException.invalidInput(what + " is " + n + " x " + m + ", not square");
            }
            if (infinite != null) {
                requireNoNaN(what, infinite, Math.max(1, m), true);
            }
            try (IntPointer pp = new IntPointer(Math.max(1, n))) {
                Kernels.assign(backend, values.address(), n, pp.address());
                int[] perm = new int[n];
                pp.get(perm);
                return perm;
            }
        }

        /** Whether the matrix holds an infinite value (found by the upload's scan). */
        public boolean hasInfinite() {
            return infinite != null;
        }

        @Override
        public void close() {
            values.close();
        }
    }

    /** Per row of s[n x m], the k best columns in order: indices[n x k] (int32), values[n x k]. */
    public static void topK(Backend backend, long s, long n, long m, long k, long indices, long values) {
        requireSize("rows", n);
        requireSize("columns", m);
        if (n > 0 && (k < 1 || k > m)) {
            throw LadyException.invalidInput("top-k: k = " + k + " is outside 1.." + m + " (the number of columns)");
        }
        requireAddress("matrix", s, n * m);
        requireAddress("indices output", indices, n * k);
        requireAddress("values output", values, n * k);
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_topk_ref(s, n, m, k, indices, values);
            case CPU -> LadyNative.lady_topk_cpu(s, n, m, k, indices, values);
            case CUDA -> LadyNative.lady_topk_cuda(s, n, m, k, indices, values);
        };
        check(status, "top-k");
    }

    /** Array form of {@link #topK(Backend, long, long, long, long, long, long)}. */
    public static TopK topK(Backend backend, float[] s, int n, int m, int k) {
        requireMatrix("matrix", s, n, m);
        if (n > 0 && (k < 1 || k > m)) {
            throw LadyException.invalidInput("top-k: k = " + k + " is outside 1.." + m + " (the number of columns)");
        }
        requireNoNaN("matrix", s, m, false);
        int outLength = (int) requireElements("top-k output", n, k);
        try (FloatPointer ps = new FloatPointer(s); IntPointer pi = new IntPointer(Math.max(1, outLength));
                FloatPointer pv = new FloatPointer(Math.max(1, outLength))) {
            topK(backend, ps.address(), n, m, k, pi.address(), pv.address());
            int[] indices = new int[outLength];
            float[] values = new float[outLength];
            pi.get(indices);
            pv.get(values);
            return new TopK(n, k, indices, values);
        }
    }

    /** order[n] (int32): indices of scores[n] by score descending, ties by lower index. */
    public static void sortDescending(Backend backend, long scores, long n, long order) {
        requireSize("scores", n);
        requireAddress("scores", scores, n);
        requireAddress("order output", order, n);
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_sort_desc_ref(scores, n, order);
            case CPU -> LadyNative.lady_sort_desc_cpu(scores, n, order);
            case CUDA -> LadyNative.lady_sort_desc_cuda(scores, n, order);
        };
        check(status, "sort");
    }

    /** The canonical order (docs/method.md section 5): indices sorted by score descending, stable. */
    public static int[] sortDescending(Backend backend, float[] scores) {
        if (scores == null) {
            throw LadyException.invalidInput("sort: scores are missing (null)");
        }
        requireNoNaN("scores", scores, Math.max(1, scores.length), false);
        try (FloatPointer ps = new FloatPointer(scores); IntPointer po = new IntPointer(Math.max(1, scores.length))) {
            sortDescending(backend, ps.address(), scores.length, po.address());
            int[] order = new int[scores.length];
            po.get(order);
            return order;
        }
    }

    // ---- assignment ------------------------------------------------------------------------------

    /** perm[n] (int32): a permutation maximizing sum_i s[i, perm[i]] over the square s[n x n]. */
    public static void assign(Backend backend, long s, long n, long perm) {
        requireSize("assignment size", n);
        requireAddress("matrix", s, n * n);
        requireAddress("permutation output", perm, n);
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_assign_ref(s, n, perm);
            case CPU -> LadyNative.lady_assign_cpu(s, n, perm);
            case CUDA -> LadyNative.lady_assign_cuda(s, n, perm);
        };
        check(status, "assignment");
    }

    /**
     * The exact maximum-weight assignment of a square row-major matrix: row i goes to column
     * result[i]; always a permutation. NaN or infinite values are refused.
     */
    public static int[] assign(Backend backend, float[] matrix, int n) {
        try (Uploaded u = upload("assignment matrix", matrix, n, n)) {
            return u.assign(backend);
        }
    }

    /** sum_i s[i, perm[i]] in double. */
    public static double objective(float[] matrix, int n, int[] perm) {
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += matrix[i * n + perm[i]];
        }
        return total;
    }

    // ---- validation ------------------------------------------------------------------------------

    private static void requireSize(String what, long size) {
        if (size < 0) {
            throw LadyException.invalidInput(what + " is negative (" + size + ")");
        }
    }

    private static void requireAddress(String what, long address, long elements) {
        if (elements > 0 && address == 0) {
            throw LadyException.invalidInput(what + " has a null address");
        }
    }

    private static long requireElements(String what, long rows, long cols) {
        long count = rows * cols;
        if (count > Integer.MAX_VALUE - 8) {
            throw LadyException.invalidInput(what + " of " + rows + " x " + cols
                    + " does not fit a Java array: use the address form");
        }
        return count;
    }

    private static void requireMatrix(String what, float[] x, int rows, int cols) {
        requireShape(what, x == null ? -1 : x.length, rows, cols);
    }

    /** A Java array of {@code length} values (-1: null) holds a rows x cols matrix. */
    private static void requireShape(String what, int length, int rows, int cols) {
        if (length < 0) {
            throw LadyException.invalidInput(what + " is missing (null)");
        }
        if (rows < 0 || cols < 0) {
            throw LadyException.invalidInput(what + " has a negative size (" + rows + " x " + cols + ")");
        }
        long expected = (long) rows * cols;
        if (length != expected) {
            throw LadyException.invalidInput(what + " has " + length + " values but " + rows + " x " + cols
                    + " = " + expected + " were expected");
        }
    }

    /** A kernel's input held a NaN (or, where refused, an infinite) value; callers that know which weights it came
     * from say so. */
    public static final class NonFiniteInput extends LadyException {
        private static final long serialVersionUID = 1L;

        NonFiniteInput(String message) {
            super(Kind.INVALID_INPUT, message);
        }
    }

    private static void requireNoNaN(String what, float[] x, int cols, boolean rejectInfinite) {
        for (int g = 0; g < x.length; g++) {
            float v = x[g];
            if (Float.isNaN(v) || (rejectInfinite && Float.isInfinite(v))) {
                throw new NonFiniteInput(String.format("%s has a %s value at row %d, column %d", what,
                        Float.isNaN(v) ? "NaN" : "infinite", g / cols, g % cols));
            }
        }
    }

    /**
     * Gathers rows [{@code rowBegin}, {@code rowEnd}) of a contiguous array {@code [rows, n1, unitBytes]} at
     * {@code src} through index maps into {@code dst} (lady.h kernel 5): {@code dst[i - rowBegin, j] =
     * src[p0[i], p1[j]]}, a null map meaning the identity. Indices are validated before anything is
     * written. {@link Backend#CUDA} is not offered: this is host memory traffic (checkpoint writing).
     */
    public static void gatherRows(Backend backend, long src, long dst, long rows, long n1, long unitBytes, long[] p0,
            long[] p1, long rowBegin, long rowEnd) {
        if ((p0 != null && p0.length != rows) || (p1 != null && p1.length != n1)) {
            throw new LadyException(LadyException.Kind.INTERNAL, "gather: maps of " + (p0 == null ? "-" : p0.length)
                    + " and " + (p1 == null ? "-" : p1.length) + " indices for " + rows + " x " + n1 + " units");
        }
        ensureLoaded();
        int status = switch (backend) {
            case REFERENCE -> LadyNative.lady_gather_rows_ref(src, dst, rows, n1, unitBytes, p0, p1, rowBegin, rowEnd);
            case CPU, CUDA -> LadyNative.lady_gather_rows_cpu(src, dst, rows, n1, unitBytes, p0, p1, rowBegin, rowEnd);
        };
        check(status, "gather_rows");
    }

    /**
     * Maps the whole file at {@code path} copy-on-write (lady.h "host memory"): writes through the
     * mapping never reach the file. Returns {address, length}; release it with {@link #unmap}.
     */
    public static long[] mapFile(java.nio.file.Path path) {
        ensureLoaded();
        byte[] name = (path.toString() + "\0").getBytes(StandardCharsets.UTF_8);
        long[] address = new long[1];
        long[] length = new long[1];
        int status = LadyNative.lady_map_file(name, address, length);
        if (status != LadyNative.LADY_OK) {
            throw new LadyException(LadyException.Kind.IO, LadyNative.lady_last_error());
        }
        return new long[] {address[0], length[0]};
    }

    /** {@code bytes} of zeroed, 64-byte aligned host memory (lady.h "host memory"); release it with {@link #free}. */
    public static long alloc(long bytes) {
        ensureLoaded();
        long[] address = new long[1];
        check(LadyNative.lady_alloc(bytes, address), "alloc");
        return address[0];
    }

    /** Releases what {@link #alloc} returned. */
    public static void free(long address, long bytes) {
        ensureLoaded();
        check(LadyNative.lady_free(address, bytes), "free");
    }

    /** Releases what {@link #mapFile} returned. */
    public static void unmap(long address, long length) {
        ensureLoaded();
        check(LadyNative.lady_unmap(address, length), "unmap");
    }

    static void check(int status, String kernel) {
        if (status == LadyNative.LADY_OK) {
            return;
        }
        String message = kernel + ": " + LadyNative.lady_last_error();
        throw switch (status) {
            case LadyNative.LADY_ERR_INVALID_ARGUMENT, LadyNative.LADY_ERR_NOT_PERMUTATION ->
                    new LadyException(LadyException.Kind.INVALID_INPUT, message);
            case LadyNative.LADY_ERR_NO_CUDA -> new LadyException(LadyException.Kind.NO_GPU, message);
            case LadyNative.LADY_ERR_OUT_OF_MEMORY -> new LadyException(LadyException.Kind.KERNEL, "out of memory in " + message);
            default -> new LadyException(LadyException.Kind.KERNEL, message + " (status " + status + ")");
        };
    }
}
