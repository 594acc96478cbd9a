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
