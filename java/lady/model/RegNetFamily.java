package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's RegNets (regnet_x_* and regnet_y_*: RegNetY has a squeeze-excitation in every block) with their module
 * paths: the stem {@code stem} (3x3 stride 2 conv, BN, ReLU), four stages {@code trunk_output.blockS} of residual
 * bottleneck blocks {@code blockS-I} (the projection {@code proj} (1x1 conv with the stage's stride, BN) where the width
 * or the stride changes; {@code f.a} 1x1 conv BN ReLU, {@code f.b} 3x3 grouped conv with the stride BN ReLU,
 * {@code f.se} (RegNetY: fc1 ReLU fc2 sigmoid), {@code f.c} 1x1 conv BN; the sum, ReLU), adaptive average pooling and
 * {@code fc}. Every width, group count, depth and squeeze width is read off the checkpoint (the RegNet sizes follow no
 * table a name could give), so RegNets are read from checkpoints only: {@code regnet_y} with squeeze-excitations,
 * {@code regnet_x} without.
 */
final class RegNetFamily implements Family {
    private static final String TRUNK = "trunk_output.block";
    private static final int STAGES = 4;
    private static final double BN_EPS = 1e-5;
    private static final double BN_MOMENTUM = 0.1;

    @Override
    public List<String> names() {
        return List.of("regnet_x", "regnet_y");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("stem.0.weight") || !s.containsKey(TRUNK + "1.block1-0.f.a.0.weight") || !s.containsKey("fc.weight")) {
            return null;
        }
        return s.containsKey(TRUNK + "1.block1-0.f.se.fc1.weight") ? "regnet_y" : "regnet_x";
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "fc.weight", "stem.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " is read from checkpoints only (its sizes follow no "
                    + "table a name gives): pass a torchvision RegNet checkpoint");
        }
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = b.conv("stem.0", x, d.out("stem.0.weight", 32), 3, 2, 1, false);
        x = b.act("stem.2", b.batchNorm("stem.1", x, BN_EPS, BN_MOMENTUM), Op.Activation.RELU);
        for (int stage = 1; stage <= STAGES; stage++) {
            for (int i = 0; d.has(TRUNK + stage + ".block" + stage + "-" + i + ".f.a.0.weight", false); i++) {
                x = block(b, d, TRUNK + stage + ".block" + stage + "-" + i, x, i == 0 ? 2 : 1);
            }
        }
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("fc", x, d.outExact("fc.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_RESNET);
    }

    /** One residual bottleneck block ({@code p}: "trunk_output.block2.block2-0"). */
    private static String block(GraphBuilder b, Dims d, String p, String x, long stride) {
        String shortcut = x;
        long out = d.out(p + ".f.c.0.weight", b.width(x));
        if (d.has(p + ".proj.0.weight", false)) { // declared first, as the state dict lists it
            shortcut = b.conv(p + ".proj.0", x, d.outExact(p + ".proj.0.weight", out), 1, stride, 0, false);
            shortcut = b.batchNorm(p + ".proj.1", shortcut, BN_EPS, BN_MOMENTUM);
        }
        String f = p + ".f.";
        String y = b.conv(f + "a.0", x, d.out(f + "a.0.weight", out), 1, 1, 0, false);
        y = b.act(f + "a.2", b.batchNorm(f + "a.1", y, BN_EPS, BN_MOMENTUM), Op.Activation.RELU);
        long w = b.width(y);
        long groups = w / Math.max(1, d.size(f + "b.0.weight", 1, w));
        y = b.conv(f + "b.0", y, d.outExact(f + "b.0.weight", w), new long[] {3, 3}, stride, 1, 1, groups, false);
        y = b.act(f + "b.2", b.batchNorm(f + "b.1", y, BN_EPS, BN_MOMENTUM), Op.Activation.RELU);
        if (d.has(f + "se.fc1.weight", false)) {
            String se = f + "se";
            y = b.squeezeExcitation(se, y, d.out(se + ".fc1.weight", w / 4), Op.Activation.RELU, Op.Activation.SIGMOID);
        }
        y = b.conv(f + "c.0", y, d.outExact(f + "c.0.weight", out), 1, 1, 0, false);
        y = b.batchNorm(f + "c.1", y, BN_EPS, BN_MOMENTUM);
        return b.act(p + ".activation", b.add(p + ".add", shortcut, y), Op.Activation.RELU);
    }
}
