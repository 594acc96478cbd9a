package lady.permutation;

/**
 * One (tensor, axis) range that moves with a group's neurons: along {@code axis}, the indices
 * {@code [offset, offset + N * block)}, neuron {@code j} owning {@code [offset + j*block, offset + (j+1)*block)}.
 * Examples: a conv's rows (axis 0, offset 0, block 1); the columns of torchvision VGG16's classifier.0
 * fed by conv -> flatten (axis 1, block 49); the columns of a concatenation's consumer (axis 1, offset at
 * the branch's place); the q segment of attention heads in a packed {@code in_proj_weight} (axis 0,
 * offset 0, block head_dim), the k segment (offset D), the v segment (offset 2D).
 *
 * @param tensor state-dict name, e.g. "features.2.weight"
 * @param axis   the permuted axis
 * @param offset first index of the range on that axis
 * @param block  consecutive indices along the axis owned by one neuron
 * @param role   what the tensor is to the group
 */
public record Member(String tensor, int axis, long offset, long block, Role role) {
    public Member {
        if (axis < 0) {
            throw new IllegalArgumentException("axis must be >= 0: " + tensor);
        }
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be >= 0: " + tensor);
        }
        if (block < 1) {
            throw new IllegalArgumentException("block must be >= 1: " + tensor);
        }
    }

    /** A member starting at index 0 of its axis. */
    public Member(String tensor, int axis, long block, Role role) {
        this(tensor, axis, 0, block, role);
    }

    /** Length of the range for a group of {@code n} neurons: {@code n * block}. */
    public long length(long n) {
        return n * block;
    }
}
