package lady.kernels;

import java.util.Arrays;

import lady.LadyException;

/**
 * One tensor of a whole-network permutation ({@link Kernels#permuteTensors}): contiguous host
 * memory with an optional permutation of axis 0 and an optional permutation of axis 1 (in blocks of
 * {@code block} consecutive indices per neuron). The tensor is seen as {@code [rows, n1 * block,
 * inner]}; after the call {@code t[i, j*block + k, r] = before[p0[i], p1[j]*block + k, r]}
 * (method.md section 2, on each axis).
 *
 * @param name       the tensor's name, for error messages
 * @param address    address of the first byte of the tensor's contiguous host memory
 * @param rows       size of axis 0 (1 for a scalar)
 * @param n1         neurons along axis 1 (1 for a 1-D tensor)
 * @param block      consecutive axis-1 indices owned by one neuron
 * @param innerBytes product of the sizes after axis 1, times the element size
 * @param p0         permutation of axis 0 (size rows), or null for none
 * @param p1         permutation of axis 1 (size n1), or null for none
 * @param owner      the object owning the memory, kept reachable during the call
 */
public record TensorPermutation(String name, long address, long rows, long n1, long block, long innerBytes, long[] p0,
        long[] p1, Object owner) {

    /**
     * Describes a contiguous tensor of the given shape and element size with permutation {@code p0}
     * of axis 0 and {@code p1} of axis 1 in blocks of {@code block1} (either may be null).
     */
    public static TensorPermutation of(String name, long address, long[] shape, int elementSize, long[] p0, long[] p1,
            long block1, Object owner) {
        if (p0 != null && (shape.length < 1 || shape[0] != p0.length)) {
            throw LadyException.invalidInput(String.format(
                    "tensor '%s' of shape %s: axis 0 has %s entries but its permutation has size %d", name,
                    Arrays.toString(shape), shape.length < 1 ? "no" : Long.toString(shape[0]), p0.length));
        }
        if (block1 < 1) {
            throw LadyException.invalidInput(String.format("tensor '%s': block size must be >= 1, got %d", name, block1));
        }
        if (p1 != null && (shape.length < 2 || shape[1] != Math.multiplyExact(p1.length, block1))) {
            throw LadyException.invalidInput(String.format(
                    "tensor '%s' of shape %s: axis 1 has %s entries, expected %d neurons x block %d = %d", name,
                    Arrays.toString(shape), shape.length < 2 ? "no" : Long.toString(shape[1]), p1.length, block1,
                    (long) p1.length * block1));
        }
        long rows = shape.length >= 1 ? shape[0] : 1;
        long block = p1 != null ? block1 : 1;
        long n1 = shape.length >= 2 ? shape[1] / block : 1;
        long inner = elementSize;
        for (int i = 2; i < shape.length; i++) {
            inner = Math.multiplyExact(inner, shape[i]);
        }
        if (address == 0 && Arrays.stream(shape).allMatch(d -> d > 0)) {
            throw LadyException.invalidInput(String.format("tensor '%s' has no memory (null address)", name));
        }
        return new TensorPermutation(name, address, rows, n1, block, inner, p0, p1, owner);
    }

    /** Bytes of the tensor (read once and written once by the CPU kernel). */
    public long bytes() {
        return rows * n1 * block * innerBytes;
    }
}
