package lady.torch;

import org.bytedeco.pytorch.Tensor;

import lady.LadyException;
import lady.kernels.PermuteTarget;
import lady.kernels.TensorPermutation;

/** Describes libtorch tensors to the kernels, zero copy: the kernel works on the tensor's memory. */
public final class TorchTargets {
    private TorchTargets() {}

    /**
     * A permutation target over a contiguous CPU tensor, permuted along {@code axis} in blocks of
     * {@code block} consecutive indices, {@code n} neurons in all.
     */
    public static PermuteTarget permuteTarget(String name, Tensor tensor, int axis, long block, long n) {
        if (!tensor.is_contiguous()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' is not contiguous");
        }
        if (!tensor.device().is_cpu()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' is not in host memory");
        }
        long[] shape = tensor.sizes().vec().get();
        return PermuteTarget.of(name, tensor.data_ptr().address(), shape, (int) tensor.element_size(), axis, block, n,
                tensor);
    }

    /**
     * A whole-network permutation target over a contiguous CPU tensor seen with shape {@code view} (the
     * tensor's own shape, or a reshaping of it with the same number of elements): {@code p0} permutes
     * axis 0 of the view, {@code p1} axis 1 in blocks of {@code block1} (either may be null).
     */
    public static TensorPermutation tensorPermutation(String name, Tensor tensor, long[] view, long[] p0, long[] p1,
            long block1) {
        if (!tensor.is_contiguous()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' is not contiguous");
        }
        if (!tensor.device().is_cpu()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "' is not in host memory");
        }
        long elements = 1;
        for (long d : view) {
            elements = Math.multiplyExact(elements, d);
        }
        if (elements != tensor.numel()) {
            throw new LadyException(LadyException.Kind.INTERNAL, "tensor '" + name + "': view of " + elements
                    + " elements over " + tensor.numel());
        }
        return TensorPermutation.of(name, tensor.data_ptr().address(), view, (int) tensor.element_size(), p0, p1,
                block1, tensor);
    }

    /**
     * A whole-network permutation target over a contiguous CPU tensor: {@code p0} permutes axis 0,
     * {@code p1} axis 1 in blocks of {@code block1} (either may be null).
     */
    public static TensorPermutation tensorPermutation(String name, Tensor tensor, long[] p0, long[] p1, long block1) {
        return tensorPermutation(name, tensor, tensor.sizes().vec().get(), p0, p1, block1);
    }
}
