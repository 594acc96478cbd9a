package lady.model;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import lady.checkpoint.StateDict;
import lady.permutation.PermutationSpec;

/**
 * A network built on libtorch with torchvision-compatible parameter and buffer names, so that
 * checkpoints move both ways between Lady and PyTorch. Implementations keep every sub-module
 * strongly referenced for their lifetime (stack notes, pitfall 2).
 */
public interface Model {
    /** The architecture's name, e.g. "vgg16", "vgg16_bn", "vgg16_cifar", "resnet18_cifar". */
    String architecture();

    /** The libtorch module (parameters, buffers, train/eval mode). */
    Module module();

    /** Logits for a batch of N x 3 x 32 x 32 (or the architecture's input) float images. */
    Tensor forward(Tensor input);

    /**
     * Every output of the network on {@code input}, in the graph's order (a segmentation network returns
     * "out" and "aux"); {@link #forward} is the first.
     */
    default java.util.List<Tensor> outputs(Tensor input) {
        return java.util.List.of(forward(input));
    }

    /**
     * Per output of {@link #outputs}, whether its channel order is free ({@link lady.graph.Op#FREE_CHANNELS}: only
     * inner products of its vectors matter); an output past the array's end is not.
     */
    default boolean[] freeChannelOutputs() {
        return new boolean[0];
    }

    /**
     * A seeded probe batch this network can run on: images of its input size (32 x 32 where any size works)
     * with standard normal values, or token ids uniform over its vocabulary.
     */
    Tensor probe(int batch, long seed);

    /**
     * The pre-activation output of one Conv2d or Linear module ({@code "features.17"},
     * {@code "layer2.0.conv1"}, {@code "fc1"}): the network runs on {@code input} up to and including
     * {@code module} and the BatchNorm that directly follows it (in a residual block: conv1 -> bn1,
     * conv2 -> bn2, downsample.0 -> downsample.1) and stops before the activation. Channel n of the
     * result is neuron n of the module. Used by active ranking (method.md 5).
     *
     * @throws lady.LadyException USAGE when the architecture has no such Conv2d or Linear module
     */
    Tensor forwardTo(Tensor input, String module);

    /**
     * Runs the network on {@code input} as {@link #forward(Tensor)} does, stopping once every one of
     * {@code layers} was reached, and returns for each (a producer module path of
     * {@link Architecture#producers()}: "features.28", "layer1.0.conv2", "fc1") the tensor at
     * {@code stage}, in the order asked. {@link #forwardTo} is the PRE_ACTIVATION case of one layer.
     * Train/eval mode and autograd are the caller's.
     *
     * @throws lady.LadyException USAGE for a name that is not a Conv2d or Linear module (listing them)
     */
    java.util.Map<String, Tensor> capture(Tensor input, java.util.List<String> layers, Stage stage);

    /**
     * Runs producer {@code layer} alone on {@code layerInput}, a tensor shaped as its
     * {@link Stage#INPUT}: the module, its batch norm if any, and the ReLU for
     * {@link Stage#POST_ACTIVATION}. With {@link #capture} at INPUT this evaluates the layer at any point
     * of its input space (paper figure 3 walks between images there).
     */
    Tensor runLayer(String layer, Tensor layerInput, Stage stage);

    /** Training mode on/off (dropout, batch-norm statistics). */
    void train(boolean on);

    /** A copy of the parameters and buffers, torchvision names, insertion order as PyTorch's. */
    StateDict stateDict();

    /** Copies every tensor of {@code state} into the module; a clear error lists missing,
     * unexpected and mis-shaped entries. */
    void load(StateDict state);

    /** The permutation groups of this architecture (typed, derived from the architecture). */
    PermutationSpec permutationSpec();

}
