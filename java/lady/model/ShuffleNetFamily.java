package lady.model;

import java.util.List;
import java.util.Map;

import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's ShuffleNet V2 (shufflenet_v2_x0_5, x1_0, x1_5, x2_0) with its module paths: {@code conv1} (3x3 stride-2
 * conv, BN, ReLU), a 3x3 stride-2 max pool, stages {@code stage2..4} of units, {@code conv5} (1x1 conv, BN, ReLU), the mean
 * over the pixels, {@code fc}. A unit {@code stageS.I}: the first (stride 2) concatenates {@code branch1} (3x3 depthwise
 * conv, BN, 1x1 conv, BN, ReLU) and {@code branch2} (1x1 conv, BN, ReLU, 3x3 depthwise conv, BN, 1x1 conv, BN, ReLU) on
 * the input; the others keep the first half of the channels and pass the second through {@code branch2}; then a channel
 * shuffle of 2 groups. BN eps 1e-5. The sizes are named by stage 2's width (48, 116, 176, 244); a checkpoint gives every
 * width and depth.
 *
 * <p>What moves: the analysis ties the two halves the shuffle interleaves and cuts the chunks where the halves fall, so
 * fewer channels move than in a plain CNN (the concatenated stream of a stage moves in pairs where it can); each unit's
 * branch widths move.
 */
final class ShuffleNetFamily implements Family {
    /** Per named size, the widths of stages 2..4 and of conv5 (torchvision's). */
    private static final Map<String, long[]> WIDTHS = Map.of(
            "shufflenet_v2_x0_5", new long[] {48, 96, 192, 1024},
            "shufflenet_v2_x1_0", new long[] {116, 232, 464, 1024},
            "shufflenet_v2_x1_5", new long[] {176, 352, 704, 1024},
            "shufflenet_v2_x2_0", new long[] {244, 488, 976, 2048});
    private static final long STEM = 24;
    private static final int[] REPEATS = {4, 8, 4};
    private static final long SHUFFLE_GROUPS = 2;
    private static final double BN_EPS = 1e-5;
    private static final double BN_MOMENTUM = 0.1;

    @Override
    public List<String> names() {
        return List.of("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("conv1.0.weight") || !s.containsKey("stage2.0.branch1.0.weight")
                || !s.containsKey("conv5.0.weight") || !s.containsKey("fc.weight")) {
            return null;
        }
        long width = Family.dim(s, "stage2.0.branch1.2.weight", 0, 0) + Family.dim(s, "stage2.0.branch2.5.weight", 0, 0);
        return WIDTHS.entrySet().stream().filter(e -> e.getValue()[0] == width).map(Map.Entry::getKey).findFirst()
                .orElse("shufflenet_v2_x1_0");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "fc.weight", "conv1.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        long[] widths = WIDTHS.get(name);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = convBn(b, "conv1.0", "conv1.1", x, d.out("conv1.0.weight", STEM), 3, 2, 1);
        x = b.act("conv1.2", x, Op.Activation.RELU);
        x = b.maxPool("maxpool", x, 3, 2, 1);
        for (int stage = 0; stage < REPEATS.length; stage++) {
            String st = "stage" + (stage + 2);
            for (int i = 0; d.fromCheckpoint() ? d.has(st + "." + i + ".branch2.0.weight", false) : i < REPEATS[stage]; i++) {
                x = unit(b, d, st + "." + i, x, d.out(st + ".0.branch2.0.weight", widths[stage] / 2), i == 0);
            }
        }
        x = convBn(b, "conv5.0", "conv5.1", x, d.out("conv5.0.weight", widths[3]), 1, 1, 0);
        x = b.act("conv5.2", x, Op.Activation.RELU);
        x = b.adaptiveAvgPool("mean", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("fc", x, d.outExact("fc.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** One unit ({@code p}: "stage3.0"); {@code half}: its branches' width; the first of a stage has stride 2. */
    private static String unit(GraphBuilder b, Dims d, String p, String x, long half, boolean first) {
        String kept;
        String in;
        if (first) {
            long c = b.width(x);
            String y = convBn(b, p + ".branch1.0", p + ".branch1.1", x, c, 3, 2, 1, c);
            y = convBn(b, p + ".branch1.2", p + ".branch1.3", y, d.out(p + ".branch1.2.weight", half), 1, 1, 0);
            kept = b.act(p + ".branch1.4", y, Op.Activation.RELU);
            in = x;
        } else {
            long c = b.width(x);
            kept = b.sliceChannels(p + ".chunk0", x, 0, c / 2);
            in = b.sliceChannels(p + ".chunk1", x, c / 2, c - c / 2);
        }
        long w = d.out(p + ".branch2.0.weight", half);
        String y = b.act(p + ".branch2.2", convBn(b, p + ".branch2.0", p + ".branch2.1", in, w, 1, 1, 0), Op.Activation.RELU);
        y = convBn(b, p + ".branch2.3", p + ".branch2.4", y, w, 3, first ? 2 : 1, 1, w);
        y = convBn(b, p + ".branch2.5", p + ".branch2.6", y, d.out(p + ".branch2.5.weight", half), 1, 1, 0);
        y = b.act(p + ".branch2.7", y, Op.Activation.RELU);
        return b.channelShuffle(p + ".shuffle", b.concat(p + ".cat", List.of(kept, y), 1, true), SHUFFLE_GROUPS);
    }

    private static String convBn(GraphBuilder b, String conv, String bn, String x, long out, long k, long stride,
            long padding) {
        return convBn(b, conv, bn, x, out, k, stride, padding, 1);
    }

    /** A conv without bias ({@code groups}) and its batch norm. */
    private static String convBn(GraphBuilder b, String conv, String bn, String x, long out, long k, long stride,
            long padding, long groups) {
        String y = b.conv(conv, x, out, new long[] {k, k}, stride, padding, 1, groups, false);
        return b.batchNorm(bn, y, BN_EPS, BN_MOMENTUM);
    }
}
