package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's MobileNetV3 (mobilenet_v3_large, mobilenet_v3_small) with its module paths. The stem
 * features.0 (conv 3x3 stride 2 + BN + hardswish), then one inverted residual per row of torchvision's
 * configuration table, features.1 .. features.N, each a {@code block} of Conv2dNormActivation modules
 * (conv ".0", BN ".1", activation ".2"): the 1x1 expansion (absent when the expanded width equals the
 * input's), the depthwise k x k conv (stride from the table), the squeeze-excitation where the table has
 * one (avgpool -> fc1 1x1 conv -> ReLU -> fc2 -> hardsigmoid, multiplying the depthwise output), the 1x1
 * projection without activation, and the residual addition when the stride is 1 and the input and output
 * widths are equal. Then features.N+1 (1x1 conv + BN + hardswish), adaptive average pool, flatten,
 * classifier.0 Linear, hardswish, dropout 0.2, classifier.3 Linear. Batch norm: eps 0.001, momentum 0.01.
 * The table gives strides and activations (RE: ReLU, HS: hardswish); a checkpoint gives every width,
 * every kernel size, which blocks expand and which have a squeeze-excitation. A new model takes the table's
 * widths scaled as torchvision's width_mult does (rounded to multiples of 8). New models are initialized
 * as torchvision does (convs kaiming normal fan_out, linear layers normal(0, 0.01), biases 0).
 */
final class MobileNetV3Family implements Family {
    /** One row of torchvision's table: input, kernel, expanded, output widths, SE, hardswish, stride. */
    private record Row(int in, int kernel, int expanded, int out, boolean se, boolean hardswish, int stride) {}

    private static final List<Row> LARGE = List.of(
            new Row(16, 3, 16, 16, false, false, 1), new Row(16, 3, 64, 24, false, false, 2),
            new Row(24, 3, 72, 24, false, false, 1), new Row(24, 5, 72, 40, true, false, 2),
            new Row(40, 5, 120, 40, true, false, 1), new Row(40, 5, 120, 40, true, false, 1),
            new Row(40, 3, 240, 80, false, true, 2), new Row(80, 3, 200, 80, false, true, 1),
            new Row(80, 3, 184, 80, false, true, 1), new Row(80, 3, 184, 80, false, true, 1),
            new Row(80, 3, 480, 112, true, true, 1), new Row(112, 3, 672, 112, true, true, 1),
            new Row(112, 5, 672, 160, true, true, 2), new Row(160, 5, 960, 160, true, true, 1),
            new Row(160, 5, 960, 160, true, true, 1));
    private static final List<Row> SMALL = List.of(
            new Row(16, 3, 16, 16, true, false, 2), new Row(16, 3, 72, 24, false, false, 2),
            new Row(24, 3, 88, 24, false, false, 1), new Row(24, 5, 96, 40, true, true, 2),
            new Row(40, 5, 240, 40, true, true, 1), new Row(40, 5, 240, 40, true, true, 1),
            new Row(40, 5, 120, 48, true, true, 1), new Row(48, 5, 144, 48, true, true, 1),
            new Row(48, 5, 288, 96, true, true, 2), new Row(96, 5, 576, 96, true, true, 1),
            new Row(96, 5, 576, 96, true, true, 1));
    private static final int LARGE_LAST_CHANNEL = 1280;
    private static final int SMALL_LAST_CHANNEL = 1024;
    /** The last conv's width is this multiple of the last block's output. */
    private static final int LAST_CONV_EXPANSION = 6;
    /** torchvision's channel rounding: widths are multiples of this. */
    private static final int DIVISOR = 8;
    /** The squeeze width is the expanded width over this, rounded. */
    private static final int SQUEEZE_FACTOR = 4;
    private static final double BN_EPS = 0.001;
    private static final double BN_MOMENTUM = 0.01;
    private static final double DROPOUT = 0.2;
    /** torchvision's dilated backbone: the last stage's blocks (the large table's last three) dilate by this. */
    private static final long DILATION = 2;
    private static final int DILATED_BLOCKS = 3;

    @Override
    public List<String> names() {
        return List.of("mobilenet_v3_large", "mobilenet_v3_small");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("features.0.0.weight") || !s.containsKey("features.1.block.0.0.weight")
                || !s.containsKey("classifier.0.weight") || !s.containsKey("classifier.3.weight")) {
            return null;
        }
        int blocks = 0;
        while (s.containsKey("features." + (blocks + 1) + ".block.0.0.weight")) {
            blocks++;
        }
        if (blocks == LARGE.size()) {
            return "mobilenet_v3_large";
        }
        return blocks == SMALL.size() ? "mobilenet_v3_small" : null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "classifier.3.weight", "features.0.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        boolean large = name.equals("mobilenet_v3_large");
        if (!large && !name.equals("mobilenet_v3_small")) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown MobileNetV3 '" + name + "'; known: " + names());
        }
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        double w = o.width();
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        List<String> f = features(b, d, "features.", x, large, w, false);
        x = f.get(f.size() - 1);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        long hidden = d.outExact("classifier.0.weight", divisible((large ? LARGE_LAST_CHANNEL : SMALL_LAST_CHANNEL) * w));
        x = b.act("classifier.1", b.linear("classifier.0", x, hidden, true), Op.Activation.HARDSWISH);
        x = b.dropout("classifier.2", x, DROPOUT);
        x = b.linear("classifier.3", x, d.outExact("classifier.3.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_VGG);
    }

    /**
     * The stem, the inverted residuals and the last conv under {@code prefix} ("features.", or a segmentation model's
     * "backbone."), each module's output in order ({@code prefix}0 .. the last conv). {@code dilated}: torchvision's
     * segmentation backbone (mobilenet_v3_*(dilated=True)): the last stage's blocks dilate their depthwise convs by 2
     * instead of striding (output stride 16).
     */
    static List<String> features(GraphBuilder b, Dims d, String prefix, String x, boolean large, double w,
            boolean dilated) {
        return features(b, d, k -> prefix + k, -1, null, x, large ? LARGE : SMALL, w, dilated, null);
    }

    /**
     * The features as above, named by {@code module} (feature index -> module path); the block at {@code cut} (-1:
     * none) split as torchvision's SSDlite splits its C4 block: its expansion at {@code module(cut)}, its other parts
     * {@code j} at {@code rest} + j. {@code expansion}: where the cut block's expansion output is put (or null).
     */
    private static List<String> features(GraphBuilder b, Dims d, java.util.function.IntFunction<String> module, int cut,
            String rest, String x, List<Row> table, double w, boolean dilated, String[] expansion) {
        List<String> out = new java.util.ArrayList<>();
        x = convBnAct(b, module.apply(0), x, d.outExact(module.apply(0) + ".0.weight", divisible(table.get(0).in() * w)),
                3, 2, 1, Op.Activation.HARDSWISH);
        out.add(x);
        int lastStage = table.size() - DILATED_BLOCKS;
        for (int i = 0; i < table.size(); i++) {
            String m = module.apply(i + 1);
            java.util.function.IntFunction<String> part = i + 1 != cut ? j -> m + ".block." + j
                    : j -> j == 0 ? m : rest + j;
            x = invertedResidual(b, d, part, m, x, table.get(i), w, dilated && i >= lastStage ? DILATION : 1,
                    i + 1 == cut ? expansion : null);
            out.add(x);
        }
        String last = module.apply(table.size() + 1);
        out.add(convBnAct(b, last, x, d.outExact(last + ".0.weight", LAST_CONV_EXPANSION * b.width(x)), 1, 1, 1,
                Op.Activation.HARDSWISH));
        return out;
    }

    /**
     * torchvision's SSDlite backbone (SSDLiteFeatureExtractorMobileNet on mobilenet_v3_large) under {@code prefix}
     * ("backbone.features."): {@code .0} the stem and blocks up to the expansion of the C4 block (the last that strides),
     * {@code .1} the rest of that block ({@code .1.0.1} ...), the later blocks and the last conv. A new model has the
     * reduced tail torchvision gives a detector built without a pretrained backbone (the last three blocks' widths
     * halved); a checkpoint has its own widths. Returns the C4 block's expansion output and the last conv's, the
     * detector's first two levels.
     */
    static List<String> ssdliteFeatures(GraphBuilder b, Dims d, String prefix, String x) {
        List<Integer> stages = stageIndices(true);
        int cut = stages.get(stages.size() - 2);
        List<Row> table = new java.util.ArrayList<>(LARGE);
        for (int i = cut - 1; i < table.size(); i++) { // reduce_divider 2 from the C4 block on
            Row r = table.get(i);
            table.set(i, new Row(i == cut - 1 ? r.in() : r.in() / 2, r.kernel(), i == cut - 1 ? r.expanded()
                    : r.expanded() / 2, r.out() / 2, r.se(), r.hardswish(), r.stride()));
        }
        String[] expansion = new String[1];
        List<String> f = features(b, d, k -> prefix + (k <= cut ? "0." + k : "1." + (k - cut)), cut, prefix + "1.0.", x,
                table, 1.0, false, expansion);
        return List.of(expansion[0], f.get(f.size() - 1));
    }

    /** The feature indices ({@link #features}) where torchvision's segmentation heads tap the backbone: the output of
     * the last block that strides before the last stage (C2, output stride 8), and the last conv (C5). */
    static int[] segmentationTaps(boolean large) {
        List<Integer> strided = stageIndices(large);
        return new int[] {strided.get(strided.size() - 4), strided.get(strided.size() - 1)};
    }

    /**
     * torchvision's stage_indices of the backbone ({@link #features}' indices): the stem, every block that strides, the
     * last conv. The detectors' pyramid reads the last two.
     */
    static List<Integer> stageIndices(boolean large) {
        List<Row> table = large ? LARGE : SMALL;
        List<Integer> strided = new java.util.ArrayList<>(List.of(0));
        for (int i = 0; i < table.size(); i++) {
            if (table.get(i).stride() > 1) {
                strided.add(i + 1);
            }
        }
        strided.add(table.size() + 1);
        return strided;
    }

    /**
     * One inverted residual block ({@code module}: "features.3", its parts j at {@code part}: "features.3.block.j");
     * {@code dilation} above 1: the depthwise conv dilated, its stride 1 (the residual as the table has it).
     * {@code expansion} (or null) receives the expansion's output.
     */
    private static String invertedResidual(GraphBuilder b, Dims d, java.util.function.IntFunction<String> part,
            String module, String x, Row row, double w, long dilation, String[] expansion) {
        long in = b.width(x);
        int j = 0;
        Op.Activation act = row.hardswish() ? Op.Activation.HARDSWISH : Op.Activation.RELU;
        long expanded = divisible(row.expanded() * w);
        // a checkpoint's block.0 is the expansion when it is a 1x1 conv, the depthwise conv otherwise
        boolean expand = d.fromCheckpoint() ? d.size(part.apply(0) + ".0.weight", 2, 1) == 1 : expanded != in;
        String y = x;
        if (expand) {
            y = convBnAct(b, part.apply(0), y, d.outExact(part.apply(0) + ".0.weight", expanded), 1, 1, 1, act);
            if (expansion != null) {
                expansion[0] = y;
            }
            j++;
        }
        long e = b.width(y);
        String depthwise = part.apply(j);
        long k = d.size(depthwise + ".0.weight", 2, row.kernel());
        y = b.conv(depthwise + ".0", y, e, new long[] {k, k}, dilation > 1 ? 1 : row.stride(), (k - 1) / 2 * dilation,
                dilation, e, false);
        y = b.act(depthwise + ".2", b.batchNorm(depthwise + ".1", y, BN_EPS, BN_MOMENTUM), act);
        j++;
        if (d.has(part.apply(j) + ".fc1.weight", row.se())) {
            String se = part.apply(j);
            long squeeze = d.outExact(se + ".fc1.weight", divisible(e / SQUEEZE_FACTOR));
            y = b.squeezeExcitation(se, y, squeeze, Op.Activation.RELU, Op.Activation.HARDSIGMOID);
            j++;
        }
        String project = part.apply(j);
        long out = d.outExact(project + ".0.weight", divisible(row.out() * w));
        y = b.conv(project + ".0", y, out, 1, 1, 0, false);
        y = b.batchNorm(project + ".1", y, BN_EPS, BN_MOMENTUM);
        return row.stride() == 1 && in == out ? b.add(module + ".add", y, x) : y;
    }

    /** Conv2dNormActivation: conv {@code module}.0 (no bias, padding (k - 1) / 2), BN .1, activation .2. */
    private static String convBnAct(GraphBuilder b, String module, String x, long out, long kernel, long stride,
            long groups, Op.Activation act) {
        return convBnAct(b, module, x, out, kernel, stride, groups, act, BN_EPS, BN_MOMENTUM);
    }

    /** torchvision's Conv2dNormActivation with batch norm {@code eps} and {@code momentum} (MobileNetV2's, EfficientNet's). */
    static String convBnAct(GraphBuilder b, String module, String x, long out, long kernel, long stride, long groups,
            Op.Activation act, double eps, double momentum) {
        String y = b.conv(module + ".0", x, out, new long[] {kernel, kernel}, stride, (kernel - 1) / 2, 1, groups, false);
        return b.act(module + ".2", b.batchNorm(module + ".1", y, eps, momentum), act);
    }

    /** torchvision's _make_divisible(v, 8): the nearest multiple of 8, at least 8, not below 90 % of v. */
    static long divisible(double v) {
        long n = Math.max(DIVISOR, (long) (v + DIVISOR / 2.0) / DIVISOR * DIVISOR);
        return n < 0.9 * v ? n + DIVISOR : n;
    }
}
