package lady.model;

import java.util.ArrayList;
import java.util.List;

import lady.LadyException;

/** The typed descriptions of the paper's architectures; the list and their definitions are in {@link Models}. */
final class Architectures {
    private Architectures() {}

    /** torchvision's VGG16 configuration "D": channels, 0 for a max pool. */
    private static final int[] VGG16_CFG = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};

    /** VGG16 features with torchvision's indices, plus the ImageNet (7x7) or CIFAR (1x1) head. */
    static Architecture vgg16(String name, boolean batchNorm, boolean cifarHead, ModelOptions o) {
        List<Layer> layers = new ArrayList<>();
        long in = o.inputChannels();
        int index = 0;
        for (int c : VGG16_CFG) {
            if (c == 0) {
                layers.add(new Layer.MaxPool(2, 2, 0));
                index++;
                continue;
            }
            long out = o.scale(c);
            layers.add(new Layer.Conv("features." + index++, in, out, 3, 1, 1, true));
            if (batchNorm) {
                layers.add(new Layer.BatchNorm("features." + index++, out));
            }
            layers.add(new Layer.Relu());
            index++;
            in = out;
        }
        int pool = cifarHead ? 1 : 7;
        long hidden = o.hidden() > 0 ? o.hidden() : o.scale(cifarHead ? 512 : 4096);
        layers.add(new Layer.AdaptiveAvgPool(pool));
        layers.add(new Layer.Flatten());
        layers.add(new Layer.Linear("classifier.0", in * pool * pool, hidden, true));
        layers.add(new Layer.Relu());
        layers.add(new Layer.Dropout(0.5));
        layers.add(new Layer.Linear("classifier.3", hidden, hidden, true));
        layers.add(new Layer.Relu());
        layers.add(new Layer.Dropout(0.5));
        layers.add(new Layer.Linear("classifier.6", hidden, o.numClasses(), true));
        return new Architecture(name, o.inputChannels(), o.inputSize(), layers,
                cifarHead ? Architecture.Init.CIFAR_VGG : Architecture.Init.TORCHVISION_VGG);
    }

    /** torchvision's ResNet18; {@code cifarStem}: conv1 3x3 stride 1 and no max pool. */
    static Architecture resnet18(String name, boolean cifarStem, ModelOptions o) {
        noHidden(name, o);
        List<Layer> layers = new ArrayList<>();
        long base = o.scale(64);
        if (cifarStem) {
            layers.add(new Layer.Conv("conv1", o.inputChannels(), base, 3, 1, 1, false));
        } else {
            layers.add(new Layer.Conv("conv1", o.inputChannels(), base, 7, 2, 3, false));
        }
        layers.add(new Layer.BatchNorm("bn1", base));
        layers.add(new Layer.Relu());
        if (!cifarStem) {
            layers.add(new Layer.MaxPool(3, 2, 1));
        }
        long in = base;
        for (int stage = 1; stage <= 4; stage++) {
            long out = o.scale(64L << (stage - 1));
            for (int block = 0; block < 2; block++) {
                int stride = stage > 1 && block == 0 ? 2 : 1;
                layers.add(new Layer.BasicBlock("layer" + stage, block, in, out, stride));
                in = out;
            }
        }
        layers.add(new Layer.AdaptiveAvgPool(1));
        layers.add(new Layer.Flatten());
        layers.add(new Layer.Linear("fc", in, o.numClasses(), true));
        return new Architecture(name, o.inputChannels(), o.inputSize(), layers, Architecture.Init.TORCHVISION_RESNET);
    }

    static Architecture lenet5(String name, ModelOptions o) {
        smallNet(name, o);
        long s = ((o.inputSize() - 4) / 2 - 4) / 2;
        if (s < 1) {
            throw new LadyException(LadyException.Kind.USAGE, name + " needs inputs of at least 16 x 16, got " + o.inputSize());
        }
        List<Layer> layers = List.of(
                new Layer.Conv("conv1", o.inputChannels(), 6, 5, 1, 0, true),
                new Layer.BatchNorm("bn1", 6),
                new Layer.Relu(),
                new Layer.MaxPool(2, 2, 0),
                new Layer.Conv("conv2", 6, 16, 5, 1, 0, true),
                new Layer.BatchNorm("bn2", 16),
                new Layer.Relu(),
                new Layer.MaxPool(2, 2, 0),
                new Layer.Flatten(),
                new Layer.Linear("fc1", 16 * s * s, 120, true),
                new Layer.Relu(),
                new Layer.Linear("fc2", 120, 84, true),
                new Layer.Relu(),
                new Layer.Linear("fc3", 84, o.numClasses(), true));
        return new Architecture(name, o.inputChannels(), o.inputSize(), layers, Architecture.Init.PYTORCH_DEFAULT);
    }

    static Architecture toynet(String name, ModelOptions o) {
        smallNet(name, o);
        long s = o.inputSize() / 4;
        if (s < 1) {
            throw new LadyException(LadyException.Kind.USAGE, name + " needs inputs of at least 4 x 4, got " + o.inputSize());
        }
        List<Layer> layers = List.of(
                new Layer.Conv("conv1", o.inputChannels(), 8, 3, 1, 1, true),
                new Layer.Relu(),
                new Layer.MaxPool(2, 2, 0),
                new Layer.Conv("conv2", 8, 16, 3, 1, 1, true),
                new Layer.Relu(),
                new Layer.MaxPool(2, 2, 0),
                new Layer.Flatten(),
                new Layer.Linear("fc1", 16 * s * s, 64, true),
                new Layer.Relu(),
                new Layer.Linear("fc2", 64, o.numClasses(), true));
        return new Architecture(name, o.inputChannels(), o.inputSize(), layers, Architecture.Init.PYTORCH_DEFAULT);
    }

    static Architecture fc(String name, ModelOptions o) {
        smallNet(name, o);
        long features = (long) o.inputChannels() * o.inputSize() * o.inputSize();
        List<Layer> layers = List.of(
                new Layer.Flatten(),
                new Layer.Linear("fc1", features, 512, true),
                new Layer.Relu(),
                new Layer.Linear("fc2", 512, 256, true),
                new Layer.Relu(),
                new Layer.Linear("fc3", 256, o.numClasses(), true));
        return new Architecture(name, o.inputChannels(), o.inputSize(), layers, Architecture.Init.PYTORCH_DEFAULT);
    }

    private static void noHidden(String name, ModelOptions o) {
        if (o.hidden() != 0) {
            throw new LadyException(LadyException.Kind.USAGE, name + " has no classifier hidden width to set (VGG only)");
        }
    }

    private static void smallNet(String name, ModelOptions o) {
        noHidden(name, o);
        if (o.width() != 1.0) {
            throw new LadyException(LadyException.Kind.USAGE, name + " has fixed widths; the width multiplier is for VGG and ResNet");
        }
    }
}
