package lady.model;

/**
 * One step of a typed architecture description ({@link Architecture}). Layers that hold tensors
 * carry their full torchvision module path ({@code "features.0"}, {@code "layer2.0"}); the
 * parameter and buffer names are that path plus PyTorch's own suffixes ({@code .weight},
 * {@code .bias}, {@code .running_mean}, {@code .running_var}, {@code .num_batches_tracked}).
 * Stateless layers (ReLU, pooling, dropout, flatten) have no name and are run functionally.
 */
public sealed interface Layer {

    /** 2-D convolution, square kernel, stride and padding. */
    record Conv(String name, long in, long out, int kernel, int stride, int padding, boolean bias) implements Layer {}

    /** 2-D batch normalization over {@code features} channels (affine, running statistics). */
    record BatchNorm(String name, long features) implements Layer {}

    /** Fully connected layer: weight {@code out x in}. */
    record Linear(String name, long in, long out, boolean bias) implements Layer {}

    /** ReLU. */
    record Relu() implements Layer {}

    /** 2-D max pooling, square window. */
    record MaxPool(int kernel, int stride, int padding) implements Layer {}

    /** Adaptive average pooling to {@code size x size} (functional adaptive_avg_pool2d). */
    record AdaptiveAvgPool(int size) implements Layer {}

    /** Flattens N x C x H x W to N x (C*H*W): channel c owns columns c*H*W .. c*H*W + H*W - 1. */
    record Flatten() implements Layer {}

    /** Dropout with probability {@code p} (active in training mode only). */
    record Dropout(double p) implements Layer {}

    /**
     * torchvision's ResNet BasicBlock number {@code index} of stage {@code stage} (module path
     * {@code stage.index}, e.g. "layer2.0"): conv1 (3x3, stride) -> bn1 -> ReLU -> conv2 (3x3) ->
     * bn2, plus the identity or, when {@code stride != 1 || in != out}, {@code downsample.0}
     * (1x1 conv, stride, no bias) -> {@code downsample.1} (BN); sum, ReLU.
     */
    record BasicBlock(String stage, int index, long in, long out, int stride) implements Layer {
        public String name() {
            return stage + "." + index;
        }

        public boolean hasDownsample() {
            return stride != 1 || in != out;
        }

        public Conv conv1() {
            return new Conv(name() + ".conv1", in, out, 3, stride, 1, false);
        }

        public BatchNorm bn1() {
            return new BatchNorm(name() + ".bn1", out);
        }

        public Conv conv2() {
            return new Conv(name() + ".conv2", out, out, 3, 1, 1, false);
        }

        public BatchNorm bn2() {
            return new BatchNorm(name() + ".bn2", out);
        }

        public Conv downsampleConv() {
            return new Conv(name() + ".downsample.0", in, out, 1, stride, 0, false);
        }

        public BatchNorm downsampleNorm() {
            return new BatchNorm(name() + ".downsample.1", out);
        }
    }
}
