package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's single-shot detectors, with their module paths: SSD300 on VGG16 ({@code ssd300_vgg16}) and SSDlite on
 * MobileNetV3-Large ({@code ssdlite320_mobilenet_v3_large}).
 * <ul>
 *   <li>SSD300: {@code backbone.features} is VGG16's up to conv4_3 and its ReLU (its third max pool rounds up), whose
 *       output, each pixel's channels scaled to unit length times {@code backbone.scale_weight} ({@link Op#L2_NORM}), is
 *       the first level; {@code backbone.extra.0} (a max pool, conv5_1-3, a 3x3 max pool of stride 1, the dilated fc6
 *       and fc7 as convs) continues from the unscaled output and is the second level; {@code extra.1} to {@code .4}
 *       (a 1x1 conv, then a 3x3 conv: of stride 2 in the first two, unpadded in the last two) the others. The heads
 *       ({@code head.classification_head.module_list.i}, {@code head.regression_head.module_list.i}) are one 3x3 conv
 *       per level: 4, 6, 6, 6, 4, 4 anchors times the classes, or times 4 box coordinates.</li>
 *   <li>SSDlite: {@code backbone.features} is MobileNetV3-Large cut inside its C4 block
 *       ({@link MobileNetV3Family#ssdliteFeatures}): the first level is that block's expansion, the second the last
 *       conv; {@code backbone.extra.0} to {@code .3} each a 1x1 conv to half its width, a 3x3 depthwise conv of stride
 *       2, a 1x1 conv (each with a batch norm and ReLU6). Each head per level: a 3x3 depthwise conv with a batch norm and
 *       ReLU6, then a 1x1 conv ({@code module_list.i.1}), 6 anchors per pixel. Batch norms of eps 1e-3 and momentum 0.03
 *       everywhere, as torchvision builds them.</li>
 * </ul>
 *
 * <p>The graph's outputs are the heads' maps on every level, what the weights compute before boxes are decoded (the
 * anchors, the score threshold and NMS are not functions of the channels' order); {@code --verify} compares those.
 *
 * <p>What moves: every backbone and extra conv's channels (SSD300's conv4_3 channels with {@code scale_weight}: the
 * length the L2 normalization divides by does not see their order); the heads' depthwise channels with the level they
 * read. Anchors, classes and box coordinates stay. New models are initialized as PyTorch's modules are by default
 * (torchvision's own initialization draws the extra layers and heads Xavier-uniform).
 */
final class SsdFamily implements Family {
    private static final String SSD300 = "ssd300_vgg16";
    private static final String SSDLITE = "ssdlite320_mobilenet_v3_large";
    private static final String FEATURES = "backbone.features.";
    private static final String EXTRA = "backbone.extra.";
    private static final String CLS = "head.classification_head.module_list.";
    private static final String REG = "head.regression_head.module_list.";
    private static final String SCALE = "backbone.scale_weight";
    /** VGG16's convs up to conv4_3 (widths; 0: a max pool, -1: the max pool that rounds up). */
    private static final int[] VGG_CFG = {64, 64, 0, 128, 128, 0, 256, 256, 256, -1, 512, 512, 512};
    /** conv5_1-3, fc6 (3x3, dilation 6) and fc7 (1x1): extra.0's widths. */
    private static final long CONV5 = 512;
    private static final long FC = 1024;
    private static final long FC6_DILATION = 6;
    /** SSD300's extra blocks 1 to 4: the 1x1 conv's and the 3x3 conv's widths; the first two stride 2. */
    private static final long[][] SSD300_EXTRA = {{256, 512}, {128, 256}, {128, 256}, {128, 256}};
    private static final int STRIDED_EXTRA = 2;
    /** SSDlite's extra blocks' output widths (each reduces to half of it first). */
    private static final long[] SSDLITE_EXTRA = {512, 256, 256, 128};
    /** torchvision's scale_weight of a new SSD300, and F.normalize's eps. */
    private static final double SCALE_INIT = 20;
    private static final double L2_EPS = 1e-12;
    /** Anchors per pixel of each level. */
    private static final long[] SSD300_ANCHORS = {4, 6, 6, 6, 4, 4};
    private static final long SSDLITE_ANCHORS = 6;
    private static final double SSDLITE_BN_EPS = 1e-3;
    private static final double SSDLITE_BN_MOMENTUM = 0.03;
    /** The probe images' sides: the sizes in the names. */
    private static final int SSD300_INPUT = 300;
    /**
     * SSD300's smallest input: its two unpadded last convs need 5 pixels in extra.3's input, so 9 in extra.2's, 17 at
     * fc7, 34 at conv4_3 and 268 in the image (the third pool rounds up).
     */
    private static final int SSD300_MIN_INPUT = 268;
    private static final int SSDLITE_INPUT = 320;

    @Override
    public List<String> names() {
        return List.of(SSD300, SSDLITE);
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (s.containsKey(SCALE) && s.containsKey(FEATURES + "0.weight") && s.containsKey(EXTRA + "0.1.weight")
                && s.containsKey(CLS + "0.weight") && s.containsKey(REG + "0.weight")) {
            return SSD300;
        }
        if (s.containsKey(FEATURES + "0.0.0.weight") && s.containsKey(FEATURES + "1.0.1.0.weight")
                && s.containsKey(EXTRA + "0.0.0.weight") && s.containsKey(CLS + "0.0.0.weight")
                && s.containsKey(REG + "0.1.weight")) {
            return SSDLITE;
        }
        return null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        boolean lite = name.equals(SSDLITE);
        String cls = CLS + (lite ? "0.1" : "0") + ".weight";
        String reg = REG + (lite ? "0.1" : "0") + ".weight";
        ModelOptions o = Family.options(s, cls, FEATURES + (lite ? "0.0.0.weight" : "0.weight"));
        long anchors = Math.max(1, Family.dim(s, reg, 0, 4) / 4); // cls has anchors x classes rows
        return new ModelOptions((int) Math.max(1, o.numClasses() / anchors), 1.0, 0, o.inputChannels(),
                lite ? SSDLITE_INPUT : SSD300_INPUT);
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        boolean lite = name.equals(SSDLITE);
        if (!lite && o.inputSize() < SSD300_MIN_INPUT) {
            throw LadyException.invalidInput(name + " takes images of at least " + SSD300_MIN_INPUT + " pixels (its last"
                    + " convs are unpadded); asked for " + o.inputSize());
        }
        List<String> levels = lite ? ssdliteLevels(b, d, x) : ssd300Levels(b, d, x);
        List<String> logits = new ArrayList<>();
        List<String> boxes = new ArrayList<>();
        for (int i = 0; i < levels.size(); i++) {
            long anchors = lite ? SSDLITE_ANCHORS : SSD300_ANCHORS[i];
            logits.add(head(b, d, CLS + i, levels.get(i), anchors * o.numClasses(), lite));
            boxes.add(head(b, d, REG + i, levels.get(i), 4 * anchors, lite));
        }
        b.batchNormMomentum(null);
        logits.addAll(boxes);
        return new Architecture(name, b.build(logits.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** SSD300's six levels: conv4_3 scaled to unit length, then extra.0 (fc7) to extra.4. */
    private static List<String> ssd300Levels(GraphBuilder b, Dims d, String x) {
        int index = 0;
        for (int c : VGG_CFG) {
            if (c <= 0) {
                x = b.maxPool(FEATURES + index, x, 2, 2, 0, c < 0);
                index++;
            } else {
                String conv = FEATURES + index;
                x = b.act(FEATURES + (index + 1), b.conv(conv, x, d.outExact(conv + ".weight", c), 3, 1, 1, true),
                        Op.Activation.RELU);
                index += 2;
            }
        }
        List<String> levels = new ArrayList<>();
        levels.add(b.l2Norm("backbone.l2_norm", x, SCALE, L2_EPS, SCALE_INIT));
        String e = EXTRA + "0.";
        x = b.maxPool(e + "0", x, 2, 2, 0);
        for (int i = 1; i <= 5; i += 2) { // conv5_1-3
            x = b.act(e + (i + 1), b.conv(e + i, x, d.outExact(e + i + ".weight", CONV5), 3, 1, 1, true),
                    Op.Activation.RELU);
        }
        String fc = e + "7.";
        x = b.maxPool(fc + "0", x, 3, 1, 1);
        x = b.act(fc + "2", b.conv(fc + "1", x, d.outExact(fc + "1.weight", FC), new long[] {3, 3}, 1, FC6_DILATION,
                FC6_DILATION, 1, true), Op.Activation.RELU);
        x = b.act(fc + "4", b.conv(fc + "3", x, d.outExact(fc + "3.weight", FC), 1, 1, 0, true), Op.Activation.RELU);
        levels.add(x);
        for (int i = 0; i < SSD300_EXTRA.length; i++) {
            String m = EXTRA + (i + 1) + ".";
            boolean strided = i < STRIDED_EXTRA;
            x = b.act(m + "1", b.conv(m + "0", x, d.outExact(m + "0.weight", SSD300_EXTRA[i][0]), 1, 1, 0, true),
                    Op.Activation.RELU);
            x = b.act(m + "3", b.conv(m + "2", x, d.outExact(m + "2.weight", SSD300_EXTRA[i][1]), 3, strided ? 2 : 1,
                    strided ? 1 : 0, true), Op.Activation.RELU);
            levels.add(x);
        }
        return levels;
    }

    /** SSDlite's six levels: the backbone's two, then extra.0 to extra.3. */
    private static List<String> ssdliteLevels(GraphBuilder b, Dims d, String x) {
        b.batchNormMomentum(SSDLITE_BN_MOMENTUM);
        List<String> levels = new ArrayList<>(MobileNetV3Family.ssdliteFeatures(b, d, FEATURES, x));
        x = levels.get(levels.size() - 1);
        for (int i = 0; i < SSDLITE_EXTRA.length; i++) {
            String m = EXTRA + i + ".";
            long half = d.outExact(m + "0.0.weight", SSDLITE_EXTRA[i] / 2);
            x = convBnRelu6(b, m + "0", x, half, 1, 1, 1);
            x = convBnRelu6(b, m + "1", x, half, 3, 2, half);
            x = convBnRelu6(b, m + "2", x, d.outExact(m + "2.0.weight", SSDLITE_EXTRA[i]), 1, 1, 1);
            levels.add(x);
        }
        return levels;
    }

    private static String convBnRelu6(GraphBuilder b, String module, String x, long out, long kernel, long stride,
            long groups) {
        return MobileNetV3Family.convBnAct(b, module, x, out, kernel, stride, groups, Op.Activation.RELU6, SSDLITE_BN_EPS,
                SSDLITE_BN_MOMENTUM);
    }

    /** A level's head: SSD300's 3x3 conv {@code module}, or SSDlite's depthwise conv {@code module.0} and 1x1 {@code .1}. */
    private static String head(GraphBuilder b, Dims d, String module, String x, long out, boolean lite) {
        if (!lite) {
            return b.conv(module, x, d.outExact(module + ".weight", out), 3, 1, 1, true);
        }
        String y = convBnRelu6(b, module + ".0", x, b.width(x), 3, 1, b.width(x));
        return b.conv(module + ".1", y, d.outExact(module + ".1.weight", out), 1, 1, 0, true);
    }
}
