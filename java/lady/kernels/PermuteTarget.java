package lady.kernels;

import java.util.Arrays;

import lady.LadyException;

/**
 * One tensor of a batched permutation, as the kernel sees it: contiguous host memory of shape
 * {@code [outer, n, rowBytes]}. Built from a tensor's shape, the permuted axis and a block size
 * (the number of consecutive indices along the axis that one neuron owns: 1 normally, H*W for the
 * columns of a Linear layer after conv -> flatten).
 *
 * @param name     the tensor's name, for error messages
 * @param address  address of the first byte of the tensor's contiguous host memory
 * @param outer    product of the sizes of the axes before the permuted one
 * @param n        number of neurons permuted
 * @param rowBytes bytes moved with each neuron in each outer slice: block * (product of the sizes
 *                 after the axis) * element size
 * @param owner    the object that owns the memory, kept reachable for the duration of the call
 */
public record PermuteTarget(String name, long address, long outer, long n, long rowBytes, Object owner) {

    /**
     * Describes a contiguous tensor of the given shape and element size, permuted along {@code axis}
     * in blocks of {@code block} consecutive indices, {@code n} neurons in all.
     */
    public static PermuteTarget of(String name, long address, long[] shape, int elementSize, int axis, long block,
            long n, Object owner) {
        if (axis < 0 || axis >= shape.length) {
            throw LadyException.invalidInput(String.format("tensor '%s' of shape %s has no axis %d", name,
                    Arrays.toString(shape), axis));
        }
        if (block < 1) {
            throw LadyException.invalidInput(String.format("tensor '%s': block size must be >= 1, got %d", name, block));
        }
        if (shape[axis] != n * block) {
            throw LadyException.invalidInput(String.format(
                    "tensor '%s' of shape %s: axis %d has size %d, expected %d neurons x block %d = %d", name,
                    Arrays.toString(shape), axis, shape[axis], n, block, n * block));
        }
        if (address == 0 && Arrays.stream(shape).allMatch(d -> d > 0)) {
            throw LadyException.invalidInput(String.format("tensor '%s' has no memory (null address)", name));
        }
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer = Math.multiplyExact(outer, shape[i]);
        }
        long inner = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            inner = Math.multiplyExact(inner, shape[i]);
        }
        return new PermuteTarget(name, address, outer, n, Math.multiplyExact(Math.multiplyExact(block, inner), elementSize),
                owner);
    }

    /** Bytes of the tensor (read once and written once by a permutation). */
    public long bytes() {
        return outer * n * rowBytes;
    }
}
