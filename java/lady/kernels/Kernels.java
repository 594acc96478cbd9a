package lady.kernels;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import lady.LadyException;
import lady.kernels.bridge.LadyNative;

/**
 * The one choke point for native kernel calls: validates arguments in Java (so messages can name
 * tensors), calls the chosen backend, and turns a native status into a {@link LadyException}.
 */
public final class Kernels {
    private Kernels() {}

    private static volatile boolean loaded;

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

    // ---- resync kernels: the main entry points; the full set (address forms, normalize, top-k,
    // sort) is in ResyncKernels.

    /** The n x m cosine similarity of the rows of a (n x d) and b (m x d), row-major. */
    public static float[] cosineSimilarity(Backend backend, float[] a, float[] b, int n, int m, int d, boolean centered) {
        return ResyncKernels.cosineSimilarity(backend, a, b, n, m, d, centered);
    }

    /** Zero-copy form over host addresses (e.g. contiguous float32 tensors' data_ptr().address()). */
    public static void cosineSimilarity(Backend backend, long a, long b, long n, long m, long d, boolean centered, long out) {
        ResyncKernels.cosineSimilarity(backend, a, b, n, m, d, centered, out);
    }

    /** Per-row argmax with best and second-best values of a row-major n x m matrix. */
    public static ArgmaxTop2 argmaxTop2(Backend backend, float[] s, int n, int m) {
        return ResyncKernels.argmaxTop2(backend, s, n, m);
    }

    /** Exact maximum-weight assignment of a square n x n matrix: row i -> column result[i]. */
    public static int[] assign(Backend backend, float[] matrix, int n) {
        return ResyncKernels.assign(backend, matrix, n);
    }

    /** Zero-copy form: perm (int32[n]) at a host address. */
    public static void assign(Backend backend, long matrix, long n, long perm) {
        ResyncKernels.assign(backend, matrix, n, perm);
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
