package lady.model;

/**
 * Where a producer layer (a Conv2d or Linear module) is read from, for
 * {@link Model#capture(org.bytedeco.pytorch.Tensor, java.util.List, Stage)} and
 * {@link Model#runLayer(String, org.bytedeco.pytorch.Tensor, Stage)}.
 */
public enum Stage {
    /** What the layer reads: the previous layer's output (after its activation, pooling or flatten). */
    INPUT,
    /** The layer's output after its batch norm when it has one (the architecture pairs them): the
     * input of the ReLU, one channel per neuron of the layer's permutation group. */
    PRE_ACTIVATION,
    /** ReLU of {@link #PRE_ACTIVATION}. For a chain layer this is what the next layer sees; for a
     * residual block's conv2 / downsample the network adds the branches before its ReLU. */
    POST_ACTIVATION
}
