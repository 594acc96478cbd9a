package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's MNASNet (B1; mnasnet0_5, 0_75, 1_0, 1_3) with its module paths: {@code layers.0} (3x3 stride-2 conv),
 * {@code layers.1} BN, ReLU, {@code layers.3} (3x3 depthwise conv), BN, ReLU, {@code layers.6} (1x1 conv), BN
 * {@code layers.7}; six stacks {@code layers.8 .. 13} of inverted residual blocks {@code layers.S.I.layers} (1x1
 * expansion conv, BN, ReLU, the k x k depthwise conv with the stack's stride on its first block, BN, ReLU, the 1x1
 * projection conv, BN; the residual sum where the stride is 1 and the widths are equal); {@code layers.14} (1x1 conv to
 * 1280), BN, ReLU; the mean over the pixels, dropout {@code classifier.0}, {@code classifier.1}. Batch-norm eps 1e-5.
 * The sizes are named by the stem's width (16, 24, 32, 40 for alpha 0.5, 0.75, 1.0, 1.3); a checkpoint gives every
 * width, kernel and depth, the strides are torchvision's.
 */
final class MnasNetFamily implements Family {
    /** The stem widths of the named sizes. */
    private static final Map<String, Long> STEMS = Map.of("mnasnet0_5", 16L, "mnasnet0_75", 24L, "mnasnet1_0", 32L,
            "mnasnet1_3", 40L);
    /** Per named size, torchvision's eight depths (_get_depths(alpha)). */
    private static final Map<String, long[]> DEPTHS = Map.of(
            "mnasnet0_5", new long[] {16, 8, 16, 24, 40, 48, 96, 160},
            "mnasnet0_75", new long[] {24, 16, 24, 32, 64, 72, 144, 240},
            "mnasnet1_0", new long[] {32, 16, 24, 40, 80, 96, 192, 320},
            "mnasnet1_3", new long[] {40, 24, 32, 56, 104, 128, 248, 416});
    /** The six stacks: kernel, first stride, expansion, repeats. */
    private static final int[][] STACKS = {{3, 2, 3, 3}, {5, 2, 3, 3}, {5, 2, 6, 3}, {3, 1, 6, 2}, {5, 2, 6, 4}, {3, 1, 6, 1}};
    /** The index of the first stack in {@code layers}. */
    private static final int FIRST_STACK = 8;
    private static final long LAST_WIDTH = 1280;
    private static final double BN_EPS = 1e-5;
    private static final double BN_MOMENTUM = 1 - 0.9997;
    private static final double DROPOUT = 0.2;

    @Override
    public List<String> names() {
        return List.of("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("layers.0.weight") || !s.containsKey("layers." + FIRST_STACK + ".0.layers.0.weight")
                || !s.containsKey("classifier.1.weight")) {
            return null;
        }
        long stem = Family.dim(s, "layers.0.weight", 0, 0);
        return STEMS.entrySet().stream().filter(e -> e.getValue() == stem).map(Map.Entry::getKey).findFirst()
                .orElse("mnasnet1_0");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "classifier.1.weight", "layers.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        if (o.width() != 1.0) {
            throw new LadyException(LadyException.Kind.USAGE, name + "'s widths are its name's (alpha): pick another "
                    + "size rather than a width multiplier");
        }
        long[] depth = DEPTHS.get(name);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = convBn(b, "layers.0", "layers.1", x, d.outExact("layers.0.weight", depth[0]), 3, 2, 1);
        x = b.act("layers.2", x, Op.Activation.RELU);
        x = convBn(b, "layers.3", "layers.4", x, b.width(x), 3, 1, b.width(x));
        x = b.act("layers.5", x, Op.Activation.RELU);
        x = convBn(b, "layers.6", "layers.7", x, d.outExact("layers.6.weight", depth[1]), 1, 1, 1);
        for (int s = 0; s < STACKS.length; s++) {
            String stack = "layers." + (FIRST_STACK + s);
            int[] row = STACKS[s];
            for (int i = 0; d.fromCheckpoint() ? d.has(stack + "." + i + ".layers.0.weight", false) : i < row[3]; i++) {
                String p = stack + "." + i + ".layers.";
                long in = b.width(x);
                long stride = i == 0 ? row[1] : 1;
                String y = convBn(b, p + "0", p + "1", x, d.outExact(p + "0.weight", in * row[2]), 1, 1, 1);
                y = b.act(p + "2", y, Op.Activation.RELU);
                long mid = b.width(y);
                y = convBn(b, p + "3", p + "4", y, mid, d.size(p + "3.weight", 2, row[0]), stride, mid);
                y = b.act(p + "5", y, Op.Activation.RELU);
                y = convBn(b, p + "6", p + "7", y, d.outExact(p + "6.weight", depth[2 + s]), 1, 1, 1);
                x = stride == 1 && in == b.width(y) ? b.add(stack + "." + i + ".add", y, x) : y;
            }
        }
        x = convBn(b, "layers.14", "layers.15", x, d.outExact("layers.14.weight", LAST_WIDTH), 1, 1, 1);
        x = b.act("layers.16", x, Op.Activation.RELU);
        x = b.adaptiveAvgPool("mean", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.dropout("classifier.0", x, DROPOUT);
        x = b.linear("classifier.1", x, d.outExact("classifier.1.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** A k x k conv without bias (padding k / 2, {@code groups}) and its batch norm. */
    private static String convBn(GraphBuilder b, String conv, String bn, String x, long out, long k, long stride,
            long groups) {
        String y = b.conv(conv, x, out, new long[] {k, k}, stride, k / 2, 1, groups, false);
        return b.batchNorm(bn, y, BN_EPS, BN_MOMENTUM);
    }
}
