package lady.permutation;

/**
 * One (tensor, axis) pair that moves with a group's neurons.
 *
 * @param tensor state-dict name, e.g. "features.2.weight"
 * @param axis   the permuted axis (0 for producers and norms, 1 for consumers)
 * @param block  consecutive indices along the axis owned by one neuron: 1 normally, H*W for the
 *               columns of a Linear layer fed by conv -> flatten (49 for torchvision VGG16's classifier.0)
 * @param role   what the tensor is to the group
 */
public record Member(String tensor, int axis, long block, Role role) {
    public Member {
        if (axis < 0) {
            throw new IllegalArgumentException("axis must be >= 0: " + tensor);
        }
        if (block < 1) {
            throw new IllegalArgumentException("block must be >= 1: " + tensor);
        }
    }
}
