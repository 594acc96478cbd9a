package lady.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's DenseNet-BC (densenet121, densenet161, densenet169, densenet201) with its module paths:
 * features.conv0 (7x7 stride 2) + norm0 + relu0 + pool0 (max 3x3 stride 2); four dense blocks
 * features.denseblockB, each of dense layers denselayerL (norm1, relu1, conv1 1x1 to bn_size x growth,
 * norm2, relu2, conv2 3x3 to the growth rate) that read the concatenation of the block's input and every
 * earlier layer's output; the block's output is the concatenation of all of them; a transition
 * features.transitionB after each block but the last (norm, relu, conv 1x1 to half the channels, average
 * pool 2x2 stride 2); features.norm5; ReLU; adaptive average pool to 1x1; flatten; classifier. The
 * growth rate, the initial width, every conv's width and the layers per block are read off a checkpoint
 * (a block structure other than the four named ones is "densenet_custom"); a new model takes
 * torchvision's. New models are initialized as ResNets (convs kaiming normal fan_out).
 */
final class DenseNetFamily implements Family {
    private record Config(int[] blocks, int growth, int init) {}

    private static final Map<String, Config> CONFIGS = Map.of(
            "densenet121", new Config(new int[] {6, 12, 24, 16}, 32, 64),
            "densenet161", new Config(new int[] {6, 12, 36, 24}, 48, 96),
            "densenet169", new Config(new int[] {6, 12, 32, 32}, 32, 64),
            "densenet201", new Config(new int[] {6, 12, 48, 32}, 32, 64));
    private static final String CUSTOM = "densenet_custom";
    private static final int BLOCKS = 4;
    /** The bottleneck (conv1) width is this multiple of the growth rate. */
    private static final int BN_SIZE = 4;

    @Override
    public List<String> names() {
        return List.of("densenet121", "densenet161", "densenet169", "densenet201");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("features.conv0.weight") || !s.containsKey("features.denseblock1.denselayer1.conv1.weight")
                || !s.containsKey("classifier.weight")) {
            return null;
        }
        int[] blocks = layers(s::containsKey);
        for (String n : names()) {
            if (Arrays.equals(CONFIGS.get(n).blocks(), blocks)) {
                return n;
            }
        }
        return CUSTOM;
    }

    /** Dense layers per block, by the names that exist. */
    private static int[] layers(java.util.function.Predicate<String> has) {
        int[] blocks = new int[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            while (has.test("features.denseblock" + (i + 1) + ".denselayer" + (blocks[i] + 1) + ".conv1.weight")) {
                blocks[i]++;
            }
        }
        return blocks;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "classifier.weight", "features.conv0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        Config c = CONFIGS.get(name);
        if (c == null && !(name.equals(CUSTOM) && d.fromCheckpoint())) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown DenseNet '" + name + "'; known: " + names());
        }
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        int[] blocks = d.fromCheckpoint() ? layers(t -> d.has(t, false)) : c.blocks();
        long growth = c == null ? 0 : c.growth();
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = b.conv("features.conv0", x, d.out("features.conv0.weight", c == null ? 0 : c.init()), new long[] {7, 7}, 2, 3,
                1, 1, false);
        x = b.act("features.relu0", b.batchNorm("features.norm0", x), Op.Activation.RELU);
        x = b.maxPool("features.pool0", x, 3, 2, 1);
        for (int i = 0; i < BLOCKS; i++) {
            String block = "features.denseblock" + (i + 1);
            List<String> features = new ArrayList<>(List.of(x));
            for (int l = 1; l <= blocks[i]; l++) {
                String p = block + ".denselayer" + l;
                String in = features.size() == 1 ? x : b.concat(p + ".cat", features, 1, true);
                String y = b.act(p + ".relu1", b.batchNorm(p + ".norm1", in), Op.Activation.RELU);
                y = b.conv(p + ".conv1", y, d.out(p + ".conv1.weight", BN_SIZE * growth), 1, 1, 0, false);
                y = b.act(p + ".relu2", b.batchNorm(p + ".norm2", y), Op.Activation.RELU);
                y = b.conv(p + ".conv2", y, d.out(p + ".conv2.weight", growth), 3, 1, 1, false);
                features.add(y);
            }
            x = b.concat(block + ".cat", features, 1, true);
            if (i < BLOCKS - 1) {
                String t = "features.transition" + (i + 1);
                x = b.act(t + ".relu", b.batchNorm(t + ".norm", x), Op.Activation.RELU);
                x = b.conv(t + ".conv", x, d.outExact(t + ".conv.weight", b.width(x) / 2), 1, 1, 0, false);
                x = b.avgPool(t + ".pool", x, 2, 2, 0);
            }
        }
        x = b.act("relu", b.batchNorm("features.norm5", x), Op.Activation.RELU);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("classifier", x, d.outExact("classifier.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_RESNET);
    }
}
