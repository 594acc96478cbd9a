package lady.model;

import lady.LadyException;

/**
 * Options of {@link Models#create(String, ModelOptions)}.
 *
 * @param numClasses    outputs of the classifier (default 10, CIFAR-10)
 * @param width         channel-width multiplier: every hidden width w becomes
 *                      {@code max(1, round(w * width))} (VGG 0.25: 16, 16, M, 32, 32, M, 64, ...;
 *                      ResNet 0.25: 16, 32, 64, 128); also DeepLabV3's backbone, DenseNet (initial width,
 *                      bottleneck and growth), ViT (width and MLP; whole heads) and MobileNetV3 (rounded
 *                      to multiples of 8, as torchvision's width_mult); the small nets take 1.0
 * @param hidden        VGG classifier hidden width; 0 (default) means scaled from 4096
 *                      (torchvision head) or 512 (CIFAR head). VGG only
 * @param inputChannels channels of the input images (default 3)
 * @param inputSize     side of the square input images (default 32); fixes the flatten sizes of
 *                      LeNet5, ToyNet and the FC net and a ViT's positions (rounded down to whole patches);
 *                      the other families pool adaptively
 */
public record ModelOptions(int numClasses, double width, int hidden, int inputChannels, int inputSize) {
    public ModelOptions {
        if (numClasses < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "number of classes must be >= 1, got " + numClasses);
        }
        if (!(width > 0) || Double.isInfinite(width)) {
            throw new LadyException(LadyException.Kind.USAGE, "width multiplier must be > 0, got " + width);
        }
        if (hidden < 0) {
            throw new LadyException(LadyException.Kind.USAGE, "hidden width must be >= 0 (0: default), got " + hidden);
        }
        if (inputChannels < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "input channels must be >= 1, got " + inputChannels);
        }
        if (inputSize < 1) {
            throw new LadyException(LadyException.Kind.USAGE, "input size must be >= 1, got " + inputSize);
        }
    }

    /** 10 classes, width 1, default hidden width, 3 x 32 x 32 inputs. */
    public static ModelOptions defaults() {
        return new ModelOptions(10, 1.0, 0, 3, 32);
    }

    public ModelOptions withClasses(int n) {
        return new ModelOptions(n, width, hidden, inputChannels, inputSize);
    }

    public ModelOptions withWidth(double w) {
        return new ModelOptions(numClasses, w, hidden, inputChannels, inputSize);
    }

    public ModelOptions withHidden(int h) {
        return new ModelOptions(numClasses, width, h, inputChannels, inputSize);
    }

    public ModelOptions withInput(int channels, int size) {
        return new ModelOptions(numClasses, width, hidden, channels, size);
    }

    /** {@code max(1, round(channels * width))}. */
    public long scale(long channels) {
        return Math.max(1L, Math.round(channels * width));
    }
}
