package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's VGG with its module paths: features (conv 3x3 pad 1 [+ BN] + ReLU, max pool 2x2),
 * adaptive average pool (7x7: the ImageNet head; 1x1: the common CIFAR head), flatten, classifier.0
 * Linear, ReLU, Dropout, classifier.3 Linear, ReLU, Dropout, classifier.6 Linear. New models: VGG16
 * (configuration D) as vgg16, vgg16_bn, vgg16_cifar, vgg16_bn_cifar; checkpoints: any configuration
 * (VGG11/13/16/19), read off the features' indices. A {@code _kuangliu} suffix: the CIFAR VGGs of kuangliu's
 * pytorch-cifar (features as torchvision's with batch norm, then a 1x1 average pool, the identity, and one Linear
 * {@code classifier} on the 512 features of a 32 x 32 image).
 */
final class VggFamily implements Family {
    /** torchvision's configuration "D": channels, 0 for a max pool. */
    private static final int[] VGG16_CFG = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    private static final double DROPOUT = 0.5;
    private static final int IMAGENET_POOL = 7;

    @Override
    public List<String> names() {
        return List.of("vgg16", "vgg16_bn", "vgg16_cifar", "vgg16_bn_cifar", "vgg16_bn" + KUANGLIU);
    }

    /** The suffix of pytorch-cifar's VGGs (one Linear "classifier"). */
    private static final String KUANGLIU = ResNetFamily.KUANGLIU;

    @Override
    public String recognize(Map<String, long[]> s) {
        long[] single = s.get("classifier.weight");
        if (s.containsKey("features.0.weight") && single != null && single.length == 2
                && !s.containsKey("classifier.0.weight")) {
            boolean bn = s.containsKey("features.1.running_mean");
            List<Integer> convs = convIndices(s, bn);
            return convs.isEmpty() ? null : depth(convs.size()) + (bn ? "_bn" : "") + KUANGLIU;
        }
        if (!s.containsKey("features.0.weight") || !s.containsKey("classifier.6.weight")
                || !s.containsKey("classifier.0.weight")) {
            return null;
        }
        boolean bn = s.containsKey("features.1.running_mean");
        List<Integer> convs = convIndices(s, bn);
        if (convs.isEmpty()) {
            return null;
        }
        long last = Family.dim(s, "features." + convs.get(convs.size() - 1) + ".weight", 0, 0);
        long[] head = s.get("classifier.0.weight");
        boolean cifar = head.length != 2 || head[1] != last * IMAGENET_POOL * IMAGENET_POOL;
        return depth(convs.size()) + (bn ? "_bn" : "") + (cifar ? "_cifar" : "");
    }

    /** VGG11 .. VGG19 by their number of convolutions. */
    private static String depth(int convs) {
        return switch (convs) {
            case 8 -> "vgg11";
            case 10 -> "vgg13";
            case 16 -> "vgg19";
            default -> "vgg16";
        };
    }

    /** The indices of the features' convolutions of a checkpoint (consecutive, as torchvision numbers them). */
    private static List<Integer> convIndices(Map<String, long[]> s, boolean bn) {
        List<Integer> out = new ArrayList<>();
        int i = 0;
        while (s.containsKey("features." + i + ".weight") && s.get("features." + i + ".weight").length == 4) {
            out.add(i);
            i += bn ? 3 : 2; // conv, [bn], relu
            if (!s.containsKey("features." + i + ".weight")) {
                i++; // a max pool
            }
        }
        return out;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        long[] first = s.getOrDefault("features.0.weight", new long[] {64, 3, 3, 3});
        long classes = Family.dim(s, name.endsWith(KUANGLIU) ? "classifier.weight" : "classifier.6.weight", 0, 10);
        long hidden = Family.dim(s, "classifier.0.weight", 0, 0);
        return new ModelOptions((int) classes, 1.0, (int) hidden, (int) first[1], 32);
    }

    @Override
    public Architecture build(String name, Dims d) {
        boolean bn = name.contains("_bn");
        boolean kuangliu = name.endsWith(KUANGLIU);
        boolean cifar = name.endsWith("_cifar") || kuangliu;
        ModelOptions o = d.options();
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        int index = 0;
        for (int c : config(name, d, bn)) {
            if (c == 0) {
                x = b.maxPool("features." + index++, x, 2, 2, 0);
                continue;
            }
            String conv = "features." + index++;
            x = b.conv(conv, x, d.out(conv + ".weight", c), 3, 1, 1, d.has(conv + ".bias", true));
            if (bn) {
                x = b.batchNorm("features." + index++, x);
            }
            x = b.act("features." + index++, x, Op.Activation.RELU);
        }
        int pool = cifar ? 1 : IMAGENET_POOL;
        if (kuangliu) {
            Family.requireNoHidden(name, o);
            x = b.adaptiveAvgPool("avgpool", x, 1); // the features' last module, a 1x1 average pool: the identity
            x = b.flatten("flatten", x, 1);
            x = b.linear("classifier", x, d.outExact("classifier.weight", o.numClasses()), true);
            return new Architecture(name, b.build(x), Architecture.Init.CIFAR_VGG);
        }
        long hidden = o.hidden() > 0 && !d.fromCheckpoint() ? o.hidden() : d.out("classifier.0.weight", cifar ? 512 : 4096);
        x = b.adaptiveAvgPool("avgpool", x, pool);
        x = b.flatten("flatten", x, (long) pool * pool);
        x = b.linear("classifier.0", x, hidden, true);
        x = b.act("classifier.1", x, Op.Activation.RELU);
        x = b.dropout("classifier.2", x, DROPOUT);
        x = b.linear("classifier.3", x, d.outExact("classifier.3.weight", hidden), true);
        x = b.act("classifier.4", x, Op.Activation.RELU);
        x = b.dropout("classifier.5", x, DROPOUT);
        x = b.linear("classifier.6", x, d.outExact("classifier.6.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), cifar ? Architecture.Init.CIFAR_VGG : Architecture.Init.TORCHVISION_VGG);
    }

    /** Channels (base widths; 0 for a max pool) of the features: VGG16's, or read off a checkpoint. */
    private static int[] config(String name, Dims d, boolean bn) {
        if (!d.fromCheckpoint() || name.startsWith("vgg16")) {
            if (!name.startsWith("vgg16")) {
                throw new LadyException(LadyException.Kind.USAGE, name + " can be read from a checkpoint; new models: "
                        + "vgg16, vgg16_bn, vgg16_cifar, vgg16_bn_cifar");
            }
            return VGG16_CFG;
        }
        List<Integer> cfg = new ArrayList<>();
        int i = 0;
        while (d.has("features." + i + ".weight", false)) {
            cfg.add(64); // the checkpoint's width is read by the builder
            i += bn ? 3 : 2;
            if (!d.has("features." + i + ".weight", false)) {
                cfg.add(0);
                i++;
            }
        }
        return cfg.stream().mapToInt(Integer::intValue).toArray();
    }
}
