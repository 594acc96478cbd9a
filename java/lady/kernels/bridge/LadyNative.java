package lady.kernels.bridge;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
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
}
