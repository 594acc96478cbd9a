package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's MobileNetV2 and EfficientNet-B0..B7 with their module paths: inverted residual blocks of
 * Conv2dNormActivation modules (conv ".0", BN ".1") between a stem and a last 1x1 conv, then adaptive average
 * pooling, flatten, dropout ({@code classifier.0}) and the classifier ({@code classifier.1}).
 * <ul>
 *   <li>MobileNetV2: stem {@code features.0} (3x3 stride 2, ReLU6), blocks {@code features.1..17} ({@code conv.0}
 *       the 1x1 expansion with ReLU6 unless the block's expansion is 1, then the depthwise 3x3 with ReLU6, then the
 *       1x1 projection conv and its BN as {@code conv.j} and {@code conv.j+1}), {@code features.18} (1x1, ReLU6);
 *       BN eps 1e-5. The strides are torchvision's table (blocks 2, 4, 7 and 14 stride 2).</li>
 *   <li>EfficientNet-B*: stem {@code features.0} (3x3 stride 2, SiLU), stages {@code features.1..7} of MBConv blocks
 *       {@code features.s.i.block} (the 1x1 expansion with SiLU unless the expansion is 1, the depthwise k x k with
 *       SiLU, the squeeze-excitation {@code fc1} (SiLU) / {@code fc2} (sigmoid), the 1x1 projection; stochastic depth,
 *       the identity in evaluation), {@code features.8} (1x1, SiLU); BN eps 1e-5 (B5..B7: 1e-3, as torchvision builds
 *       them). A stage's first block has its stride (stages 2, 3, 4 and 6 stride 2); its other blocks stride 1. The B
 *       variants differ in widths and depths (torchvision's multipliers, widths divisible by 8, depths rounded up):
 *       a checkpoint is named by its stem width, last width and block count ({@code efficientnet_b0} when no
 *       variant has them, its sizes its own).</li>
 *   <li>EfficientNetV2-S/M/L: EfficientNet's layout with FusedMBConv blocks in the first stages (no squeeze-excitation:
 *       the k x k conv with SiLU, to the expanded width then a 1x1 projection conv and its BN as {@code block.1}, or
 *       straight to the output width when the expansion is 1), MBConv blocks after them, {@code features.7} (S) or
 *       {@code features.8} (M, L) the last 1x1 conv to 1280; BN eps 1e-3. The stages' first strides are torchvision's
 *       (1, 2, 2, 2, 1, 2, 1). A checkpoint gives every width, kernel, depth and block kind; S has six stages, M and L
 *       seven (L's stem is 32 wide, M's 24).</li>
 * </ul>
 * A residual addition where the stride is 1 and the input and output widths are equal. A checkpoint gives every width,
 * kernel and depth; a new model takes torchvision's B0 / MobileNetV2 tables.
 */
final class MobileNetV2Family implements Family {
    /** MobileNetV2's table: expansion, output width, blocks, first stride. */
    private static final int[][] V2 = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1},
        {6, 160, 3, 2}, {6, 320, 1, 1}};
    private static final int V2_STEM = 32;
    private static final int V2_LAST = 1280;
    /** EfficientNet-B0's table: expansion, kernel, first stride, output width, blocks. */
    private static final int[][] B0 = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
        {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
    private static final int B0_STEM = 32;
    /** EfficientNet-B0..B7's width and depth multipliers (torchvision's _efficientnet_conf). */
    private static final double[][] B_MULT = {{1.0, 1.0}, {1.0, 1.1}, {1.1, 1.2}, {1.2, 1.4}, {1.4, 1.8}, {1.6, 2.2},
        {1.8, 2.6}, {2.0, 3.1}};
    /** From this variant on (B5), torchvision's EfficientNets normalize with {@link #LATE_B_EPS}. */
    private static final int LATE_B = 5;
    private static final double LATE_B_EPS = 1e-3;
    private static final String B_PREFIX = "efficientnet_b";
    private static final int B0_LAST = 1280;
    /**
     * EfficientNetV2's tables: per stage fused (1) or not (0), expansion, kernel, first stride, output width, blocks; the
     * stem width.
     */
    private static final Map<String, int[][]> V2_STAGES = Map.of(
            "efficientnet_v2_s", new int[][] {{1, 1, 3, 1, 24, 2}, {1, 4, 3, 2, 48, 4}, {1, 4, 3, 2, 64, 4},
                {0, 4, 3, 2, 128, 6}, {0, 6, 3, 1, 160, 9}, {0, 6, 3, 2, 256, 15}},
            "efficientnet_v2_m", new int[][] {{1, 1, 3, 1, 24, 3}, {1, 4, 3, 2, 48, 5}, {1, 4, 3, 2, 80, 5},
                {0, 4, 3, 2, 160, 7}, {0, 6, 3, 1, 176, 14}, {0, 6, 3, 2, 304, 18}, {0, 6, 3, 1, 512, 5}},
            "efficientnet_v2_l", new int[][] {{1, 1, 3, 1, 32, 4}, {1, 4, 3, 2, 64, 7}, {1, 4, 3, 2, 96, 7},
                {0, 4, 3, 2, 192, 10}, {0, 6, 3, 1, 224, 19}, {0, 6, 3, 2, 384, 25}, {0, 6, 3, 1, 640, 7}});
    private static final int V2_LAST_WIDTH = 1280;
    private static final double V2_BN_EPS = 1e-3;
    /** The squeeze width is the block's input width over this. */
    private static final int SQUEEZE_FACTOR = 4;
    private static final double BN_EPS = 1e-5;
    private static final double BN_MOMENTUM = 0.1;
    private static final double V2_DROPOUT = 0.2;

    @Override
    public List<String> names() {
        return List.of("mobilenet_v2", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
                "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_s",
                "efficientnet_v2_m", "efficientnet_v2_l");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("features.0.0.weight") || !s.containsKey("classifier.1.weight")
                || s.containsKey("classifier.0.weight")) {
            return null;
        }
        int blocks = 0;
        while (s.containsKey("features." + (blocks + 1) + ".conv.0.0.weight")) {
            blocks++;
        }
        if (blocks == 17 && s.containsKey("features.18.0.weight")) {
            return "mobilenet_v2";
        }
        int stages = 0;
        while (s.containsKey("features." + (stages + 1) + ".0.block.0.0.weight")) {
            stages++;
        }
        if (stages == 0 || !s.containsKey("features." + (stages + 1) + ".0.weight")) {
            return null;
        }
        if (s.containsKey("features.1.0.block.1.fc1.weight")) { // EfficientNet's first block squeezes; V2's is fused
            return stages == B0.length ? bVariant(s) : null;
        }
        long stem = Family.dim(s, "features.0.0.weight", 0, 0);
        return stages == V2_STAGES.get("efficientnet_v2_s").length ? "efficientnet_v2_s"
                : stages != V2_STAGES.get("efficientnet_v2_m").length ? null
                : stem == V2_STAGES.get("efficientnet_v2_l")[0][4] ? "efficientnet_v2_l" : "efficientnet_v2_m";
    }

    /**
     * The EfficientNet-B variant whose stem width, last width and block count the checkpoint has (torchvision's rules:
     * widths made divisible by 8 after the width multiplier, each stage's depth rounded up after the depth multiplier);
     * efficientnet_b0 when none has them (its graph reads every size off the checkpoint).
     */
    private static String bVariant(Map<String, long[]> s) {
        int blocks = 0;
        for (int stage = 1; stage <= B0.length; stage++) {
            for (int i = 0; s.containsKey("features." + stage + "." + i + ".block.0.0.weight"); i++) {
                blocks++;
            }
        }
        long stem = Family.dim(s, "features.0.0.weight", 0, 0);
        long last = Family.dim(s, "features." + (B0.length + 1) + ".0.weight", 0, 0);
        for (int v = 0; v < B_MULT.length; v++) {
            int expected = 0;
            for (int[] row : B0) {
                expected += (int) Math.ceil(row[4] * B_MULT[v][1]);
            }
            if (stem == MobileNetV3Family.divisible(B0_STEM * B_MULT[v][0]) && expected == blocks
                    && last == 4 * MobileNetV3Family.divisible(B0[B0.length - 1][3] * B_MULT[v][0])) {
                return B_PREFIX + v;
            }
        }
        return B_PREFIX + 0;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "classifier.1.weight", "features.0.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        if (V2_STAGES.containsKey(name)) {
            return efficientNetV2(name, d, o);
        }
        boolean v2 = name.equals("mobilenet_v2");
        Op.Activation act = v2 ? Op.Activation.RELU6 : Op.Activation.SILU;
        int variant = v2 ? 0 : Integer.parseInt(name.substring(B_PREFIX.length()));
        double w = o.width() * B_MULT[variant][0];
        double eps = variant >= LATE_B ? LATE_B_EPS : BN_EPS;
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = MobileNetV3Family.convBnAct(b, "features.0", x, d.outExact("features.0.0.weight",
                MobileNetV3Family.divisible((v2 ? V2_STEM : B0_STEM) * w)), 3, 2, 1, act, eps, BN_MOMENTUM);
        int next = 1;
        if (v2) {
            for (int[] row : V2) {
                for (int i = 0; i < row[2]; i++) {
                    x = v2Block(b, d, "features." + next++, x, row[0], MobileNetV3Family.divisible(row[1] * w),
                            i == 0 ? row[3] : 1);
                }
            }
        } else {
            for (int stage = 0; stage < B0.length; stage++) {
                int[] row = B0[stage];
                String module = "features." + next++;
                int depth = (int) Math.ceil(row[4] * B_MULT[variant][1]);
                for (int i = 0; d.fromCheckpoint() ? d.has(module + "." + i + ".block.0.0.weight", false) : i < depth; i++) {
                    x = mbConv(b, d, module + "." + i, x, row[0], row[1], MobileNetV3Family.divisible(row[3] * w),
                            i == 0 ? row[2] : 1, eps);
                }
            }
        }
        String last = "features." + next;
        long lastWidth = v2 ? MobileNetV3Family.divisible(V2_LAST * Math.max(1.0, w)) : 4L * b.width(x);
        x = MobileNetV3Family.convBnAct(b, last, x, d.outExact(last + ".0.weight", lastWidth), 1, 1, 1, act, eps,
                BN_MOMENTUM);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.dropout("classifier.0", x, V2_DROPOUT);
        x = b.linear("classifier.1", x, d.outExact("classifier.1.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_VGG);
    }

    /** EfficientNetV2 {@code name} (a key of {@link #V2_STAGES}). */
    private static Architecture efficientNetV2(String name, Dims d, ModelOptions o) {
        int[][] table = V2_STAGES.get(name);
        double w = o.width();
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = MobileNetV3Family.convBnAct(b, "features.0", x, d.outExact("features.0.0.weight",
                MobileNetV3Family.divisible(table[0][4] * w)), 3, 2, 1, Op.Activation.SILU, V2_BN_EPS, BN_MOMENTUM);
        for (int stage = 0; stage < table.length; stage++) {
            int[] row = table[stage];
            String module = "features." + (stage + 1);
            long out = MobileNetV3Family.divisible(row[4] * w);
            for (int i = 0; d.fromCheckpoint() ? d.has(module + "." + i + ".block.0.0.weight", false) : i < row[5]; i++) {
                String p = module + "." + i;
                int stride = i == 0 ? row[3] : 1;
                // a checkpoint's block is fused when it has no squeeze-excitation (block.1 or, expanded, block.2)
                boolean fused = d.fromCheckpoint() ? !d.has(p + ".block.1.fc1.weight", false)
                        && !d.has(p + ".block.2.fc1.weight", false) : row[0] == 1;
                x = fused ? fusedMbConv(b, d, p, x, row[1], row[2], out, stride)
                        : mbConv(b, d, p, x, row[1], row[2], out, stride, V2_BN_EPS);
            }
        }
        String last = "features." + (table.length + 1);
        x = MobileNetV3Family.convBnAct(b, last, x, d.outExact(last + ".0.weight", V2_LAST_WIDTH), 1, 1, 1,
                Op.Activation.SILU, V2_BN_EPS, BN_MOMENTUM);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.dropout("classifier.0", x, V2_DROPOUT);
        x = b.linear("classifier.1", x, d.outExact("classifier.1.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_VGG);
    }

    /**
     * EfficientNetV2's FusedMBConv ({@code module}: "features.2.1"): the k x k conv with SiLU to the expanded width and
     * the 1x1 projection with its BN ({@code block.1.0}, {@code block.1.1}), or, unexpanded, the k x k conv with SiLU
     * straight to the output width; the residual addition where the stride is 1 and the widths are equal.
     */
    private static String fusedMbConv(GraphBuilder b, Dims d, String module, String x, int expansion, int kernel,
            long out, int stride) {
        String p = module + ".block.";
        long in = b.width(x);
        boolean expand = d.fromCheckpoint() ? d.has(p + "1.0.weight", false) : expansion != 1;
        long k = d.size(p + "0.0.weight", 2, kernel);
        String y;
        if (expand) {
            y = MobileNetV3Family.convBnAct(b, p + "0", x, d.outExact(p + "0.0.weight",
                    MobileNetV3Family.divisible(in * expansion)), k, stride, 1, Op.Activation.SILU, V2_BN_EPS, BN_MOMENTUM);
            y = b.conv(p + "1.0", y, d.outExact(p + "1.0.weight", out), 1, 1, 0, false);
            y = b.batchNorm(p + "1.1", y, V2_BN_EPS, BN_MOMENTUM);
        } else {
            y = MobileNetV3Family.convBnAct(b, p + "0", x, d.outExact(p + "0.0.weight", out), k, stride, 1,
                    Op.Activation.SILU, V2_BN_EPS, BN_MOMENTUM);
        }
        return stride == 1 && in == b.width(y) ? b.add(module + ".add", y, x) : y;
    }

    /** MobileNetV2's inverted residual ({@code module}: "features.3"). */
    private static String v2Block(GraphBuilder b, Dims d, String module, String x, int expansion, long out, int stride) {
        String p = module + ".conv.";
        long in = b.width(x);
        int j = 0;
        boolean expand = d.fromCheckpoint() ? d.size(p + "0.0.weight", 2, 1) == 1 : expansion != 1;
        String y = x;
        if (expand) {
            y = convBnAct(b, p + j++, y, d.outExact(p + "0.0.weight", in * expansion), 1, 1, 1, Op.Activation.RELU6);
        }
        long e = b.width(y);
        y = convBnAct(b, p + j, y, e, d.size(p + j + ".0.weight", 2, 3), stride, e, Op.Activation.RELU6);
        j++;
        long o = d.outExact(p + j + ".weight", out);
        y = b.conv(p + j, y, o, 1, 1, 0, false);
        y = b.batchNorm(p + (j + 1), y, BN_EPS, BN_MOMENTUM);
        return stride == 1 && in == o ? b.add(module + ".add", y, x) : y;
    }

    /** EfficientNet's MBConv ({@code module}: "features.2.1"). */
    private static String mbConv(GraphBuilder b, Dims d, String module, String x, int expansion, int kernel, long out,
            int stride, double eps) {
        String p = module + ".block.";
        long in = b.width(x);
        int j = 0;
        boolean expand = d.fromCheckpoint() ? d.size(p + "0.0.weight", 2, 1) == 1 : expansion != 1;
        String y = x;
        if (expand) {
            y = MobileNetV3Family.convBnAct(b, p + j++, y, d.outExact(p + "0.0.weight",
                    MobileNetV3Family.divisible(in * expansion)), 1, 1, 1, Op.Activation.SILU, eps, BN_MOMENTUM);
        }
        long e = b.width(y);
        y = MobileNetV3Family.convBnAct(b, p + j, y, e, d.size(p + j + ".0.weight", 2, kernel), stride, e,
                Op.Activation.SILU, eps, BN_MOMENTUM);
        j++;
        String se = p + j++;
        long squeeze = d.outExact(se + ".fc1.weight", Math.max(1, in / SQUEEZE_FACTOR));
        y = b.squeezeExcitation(se, y, squeeze, Op.Activation.SILU, Op.Activation.SIGMOID);
        long o = d.outExact(p + j + ".0.weight", out);
        y = b.conv(p + j + ".0", y, o, 1, 1, 0, false);
        y = b.batchNorm(p + j + ".1", y, eps, BN_MOMENTUM);
        return stride == 1 && in == o ? b.add(module + ".add", y, x) : y;
    }

    /** Conv2dNormActivation ({@link MobileNetV3Family#convBnAct}) with this family's batch norm. */
    private static String convBnAct(GraphBuilder b, String module, String x, long out, long kernel, long stride,
            long groups, Op.Activation act) {
        return MobileNetV3Family.convBnAct(b, module, x, out, kernel, stride, groups, act, BN_EPS, BN_MOMENTUM);
    }
}
