package lady.torch;

import org.bytedeco.pytorch.Tensor;

import lady.LadyException;
import lady.kernels.PermuteTarget;

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
}
