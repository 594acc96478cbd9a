package lady.kernels.bridge;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding to native/include/lady.h. This package is the only one that sees JavaCPP
 * annotations; everything else calls {@code lady.kernels.Kernels}, which validates arguments and
 * turns statuses into exceptions.
 */
@Platform(include = "lady.h", link = "lady_native")
public final class LadyNative {
    static {
        Loader.load();
    }

    private LadyNative() {}

    public static final int LADY_OK = 0;
    public static final int LADY_ERR_INVALID_ARGUMENT = 1;
    public static final int LADY_ERR_NOT_PERMUTATION = 2;
    public static final int LADY_ERR_OUT_OF_MEMORY = 3;
    public static final int LADY_ERR_NO_CUDA = 4;
    public static final int LADY_ERR_CUDA = 5;
    public static final int LADY_ERR_INTERNAL = 6;

    public static native @Cast("const char*") String lady_last_error();

    public static native @Cast("const char*") String lady_native_version();

    public static native @Cast("const char*") String lady_cpu_features();

    public static native int lady_max_cpu_isa();

    public static native void lady_set_num_threads(int n);

    public static native int lady_get_num_threads();

    public static native int lady_cuda_compiled();

    public static native @Cast("const char*") String lady_cuda_architectures();

    public static native int lady_cuda_device_count(@Cast("int32_t*") int[] count);

    public static native int lady_cuda_device_name(int device, @Cast("char*") byte[] buf, int len);

    public static native int lady_permute_ref(int count, @Cast("const int64_t*") long[] addresses,
            @Cast("const int64_t*") long[] outer, @Cast("const int64_t*") long[] rowBytes,
            @Cast("const int64_t*") long[] perm, long n);

    public static native int lady_permute_cpu(int count, @Cast("const int64_t*") long[] addresses,
            @Cast("const int64_t*") long[] outer, @Cast("const int64_t*") long[] rowBytes,
            @Cast("const int64_t*") long[] perm, long n);

    public static native int lady_permute_cuda(int count, @Cast("const int64_t*") long[] addresses,
            @Cast("const int64_t*") long[] outer, @Cast("const int64_t*") long[] rowBytes,
            @Cast("const int64_t*") long[] perm, long n);

    public static native int lady_permute_tensors_ref(int count, @Cast("const int64_t*") long[] addresses,
            @Cast("const int64_t*") long[] dims, @Cast("const int64_t*") long[] permOffsets,
            @Cast("const int64_t*") long[] perms, long permsLength);

    public static native int lady_permute_tensors_cpu(int count, @Cast("const int64_t*") long[] addresses,
            @Cast("const int64_t*") long[] dims, @Cast("const int64_t*") long[] permOffsets,
            @Cast("const int64_t*") long[] perms, long permsLength);

    public static native int lady_permute_tensors_cuda(int count, @Cast("const int64_t*") long[] addresses,
            @Cast("const int64_t*") long[] dims, @Cast("const int64_t*") long[] permOffsets,
            @Cast("const int64_t*") long[] perms, long permsLength);

    // ---- resync kernels (lady.h kernels 2-4): matrices and outputs as host addresses ------------

    public static native int lady_normalize_rows_ref(long in, long out, long rows, long d, int centered);

    public static native int lady_normalize_rows_cpu(long in, long out, long rows, long d, int centered);

    public static native int lady_normalize_rows_cuda(long in, long out, long rows, long d, int centered);

    public static native int lady_cosine_similarity_ref(long a, long b, long n, long m, long d, int centered, long out);

    public static native int lady_cosine_similarity_cpu(long a, long b, long n, long m, long d, int centered, long out);

    public static native int lady_cosine_similarity_cuda(long a, long b, long n, long m, long d, int centered, long out);

    public static native int lady_cosine_similarity_bf16_ref(long a, long b, long n, long m, long d, long invA,
            long invB, long out);

    public static native int lady_cosine_similarity_bf16_cpu(long a, long b, long n, long m, long d, long invA,
            long invB, long out);

    public static native int lady_cosine_similarity_bf16_cuda(long a, long b, long n, long m, long d, long invA,
            long invB, long out);

    public static native void lady_set_bf16_kernel(int mode);

    public static native @Cast("const char*") String lady_bf16_kernel_name();

    // ---- half precision to float32 (lady.h kernel 6) ---------------------------------------------

    public static native int lady_bf16_to_float_ref(long src, long dst, long dstOffset, long n);

    public static native int lady_bf16_to_float_cpu(long src, long dst, long dstOffset, long n);

    public static native int lady_f16_to_float_ref(long src, long dst, long dstOffset, long n);

    public static native int lady_f16_to_float_cpu(long src, long dst, long dstOffset, long n);

    /**
     * Into a Java array, pinned for the call: {@code @CriticalRegion} makes the JNI code take the array with
     * GetPrimitiveArrayCritical (HotSpot gives the array itself, no copy; the garbage collector waits for the few
     * microseconds of the call) and call the kernel with no other JNI call in between.
     */
    @CriticalRegion
    public static native int lady_bf16_to_float_cpu(long src, @Cast("int64_t") float[] dst, long dstOffset, long n);

    /** As the bfloat16 one: into a Java array pinned for the call. */
    @CriticalRegion
    public static native int lady_f16_to_float_cpu(long src, @Cast("int64_t") float[] dst, long dstOffset, long n);

    public static native void lady_set_convert_kernel(int mode);

    public static native @Cast("const char*") String lady_convert_kernel_name();

    public static native int lady_argmax_top2_ref(long s, long n, long m, long index, long best, long second);

    public static native int lady_argmax_top2_cpu(long s, long n, long m, long index, long best, long second);

    public static native int lady_argmax_top2_cuda(long s, long n, long m, long index, long best, long second);

    public static native int lady_topk_ref(long s, long n, long m, long k, long indices, long values);

    public static native int lady_topk_cpu(long s, long n, long m, long k, long indices, long values);

    public static native int lady_topk_cuda(long s, long n, long m, long k, long indices, long values);

    public static native int lady_sort_desc_ref(long scores, long n, long order);

    public static native int lady_sort_desc_cpu(long scores, long n, long order);

    public static native int lady_sort_desc_cuda(long scores, long n, long order);

    public static native int lady_assign_ref(long s, long n, long perm);

    public static native int lady_assign_cpu(long s, long n, long perm);

    public static native int lady_assign_cuda(long s, long n, long perm);

    // ---- gather (lady.h kernel 5): lazily permuted tensors read into contiguous memory -----------

    public static native int lady_gather_rows_ref(long src, long dst, long rows, long n1, long unitBytes,
            @Cast("const int64_t*") long[] p0, @Cast("const int64_t*") long[] p1, long rowBegin, long rowEnd);

    public static native int lady_gather_rows_cpu(long src, long dst, long rows, long n1, long unitBytes,
            @Cast("const int64_t*") long[] p0, @Cast("const int64_t*") long[] p1, long rowBegin, long rowEnd);

    // ---- host memory (lady.h "host memory"): file mappings and anonymous buffers --------------------

    public static native int lady_map_file(@Cast("const char*") byte[] path, @Cast("int64_t*") long[] address,
            @Cast("int64_t*") long[] length);

    public static native int lady_alloc(long bytes, @Cast("int64_t*") long[] address);

    public static native int lady_free(long address, long bytes);

    public static native int lady_unmap(long address, long length);
}
