package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's DeepLabV3 with a ResNet backbone (deeplabv3_resnet50, deeplabv3_resnet101) and its module
 * paths: the backbone is {@link ResNetFamily#body} under "backbone." with layer3 and layer4 dilated
 * (output stride 8) and no pool or fc; the classifier is DeepLabHead: ASPP (classifier.0.convs.0: 1x1
 * conv + BN + ReLU; convs.1..3: 3x3 convs dilated 12, 24, 36 + BN + ReLU; convs.4: adaptive average pool to
 * 1x1 + 1x1 conv + BN + ReLU, resized back to the feature size; the five concatenated on channels;
 * classifier.0.project.0 1x1 conv + .1 BN + ReLU + dropout 0.5), classifier.1 3x3 conv, classifier.2 BN,
 * ReLU, classifier.4 1x1 conv to the classes. The auxiliary head aux_classifier (FCNHead on layer3: 3x3
 * conv to a quarter of the channels + BN + ReLU + dropout 0.1 + 1x1 conv) when the checkpoint has one
 * (a new model has none, as torchvision's default). Outputs: "out" and, with the auxiliary head, "aux",
 * each resized (bilinear) to the input's size. Every width and the classes are read off a checkpoint.
 * torchvision's FCN (fcn_resnet50, fcn_resnet101) is the same backbone with an FCNHead as its classifier
 * ({@code classifier.0} 3x3 conv to a quarter of the channels, BN, ReLU, dropout, {@code classifier.4} 1x1 conv).
 * deeplabv3_mobilenet_v3_large and lraspp_mobilenet_v3_large read the dilated MobileNetV3-Large
 * ({@link MobileNetV3Family#features} under "backbone."): DeepLabHead on its last conv (C5), the FCNHead on C2;
 * LR-ASPP ({@link #lraspp}) on C2 and C5.
 */
final class DeepLabV3Family implements Family {
    private static final long[] ATROUS_RATES = {12, 24, 36};
    private static final long ASPP_CHANNELS = 256;
    /** FCNHead's inner width is its input's over this. */
    private static final long FCN_REDUCTION = 4;
    private static final double ASPP_DROPOUT = 0.5;
    private static final double FCN_DROPOUT = 0.1;
    private static final String BACKBONE = "backbone.";
    private static final String MOBILE = "_mobilenet_v3_large";
    private static final String LRASPP = "classifier.";
    /** LR-ASPP's inner width (torchvision's inter_channels). */
    private static final long LRASPP_CHANNELS = 128;

    @Override
    public List<String> names() {
        return List.of("deeplabv3_resnet50", "deeplabv3_resnet101", "fcn_resnet50", "fcn_resnet101",
                "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (s.containsKey(BACKBONE + "0.0.weight") && s.containsKey(BACKBONE + "1.block.0.0.weight")) {
            if (s.containsKey("classifier.cbr.0.weight") && s.containsKey("classifier.low_classifier.weight")) {
                return "lraspp_mobilenet_v3_large";
            }
            return s.containsKey("classifier.0.convs.0.0.weight") && s.containsKey("classifier.4.weight")
                    ? "deeplabv3_mobilenet_v3_large" : null;
        }
        if (!s.containsKey(BACKBONE + "conv1.weight") || !s.containsKey("classifier.4.weight")) {
            return null;
        }
        String head;
        if (s.containsKey("classifier.0.convs.0.0.weight") && s.containsKey("classifier.0.project.0.weight")) {
            head = "deeplabv3_";
        } else if (Family.dim(s, "classifier.0.weight", 0, -1) >= 0 && s.get("classifier.0.weight").length == 4) {
            head = "fcn_";
        } else {
            return null;
        }
        String depth = ResNetFamily.depthName(s, BACKBONE);
        return "resnet50".equals(depth) || "resnet101".equals(depth) ? head + depth : null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        boolean mobile = name.endsWith(MOBILE);
        return Family.options(s, name.startsWith("lraspp") ? LRASPP + "low_classifier.weight" : "classifier.4.weight",
                BACKBONE + (mobile ? "0.0.weight" : "conv1.weight"));
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        boolean fcn = name.startsWith("fcn_");
        GraphBuilder b = new GraphBuilder(name);
        String input = b.image("input", o.inputChannels(), o.inputSize(), false);
        if (name.startsWith("lraspp")) {
            return lraspp(name, b, d, o, input);
        }
        List<String> stages;
        if (name.endsWith(MOBILE)) { // C2 and C5 of the dilated MobileNetV3 (the aux head reads C2)
            List<String> f = MobileNetV3Family.features(b, d, BACKBONE, input, true, o.width(), true);
            int[] taps = MobileNetV3Family.segmentationTaps(true);
            stages = List.of(input, input, f.get(taps[0]), f.get(taps[1]));
        } else {
            String resnet = name.substring(name.indexOf('_') + 1);
            stages = ResNetFamily.body(b, d, BACKBONE, input, ResNetFamily.blocks(resnet, d, BACKBONE), true,
                    ResNetFamily.Inner.PLAIN, false, new boolean[] {false, true, true});
        }
        long classes = d.outExact("classifier.4.weight", o.numClasses());
        String x;
        if (fcn) {
            x = fcnHead(b, d, "classifier", stages.get(3), classes);
        } else {
            x = aspp(b, d, "classifier.0", stages.get(3));
            x = convBnRelu(b, "classifier.1", "classifier.2", "classifier.3", x,
                    d.outExact("classifier.1.weight", b.width(x)), 3, 1);
            x = b.conv("classifier.4", x, classes, 1, 1, 0, true);
        }
        String out = b.interpolate("out", x, input);
        if (!d.has("aux_classifier.0.weight", false)) {
            return new Architecture(name, b.build(out), Architecture.Init.TORCHVISION_RESNET);
        }
        String aux = b.interpolate("aux", fcnHead(b, d, "aux_classifier", stages.get(2), classes), input);
        return new Architecture(name, b.build(out, aux), Architecture.Init.TORCHVISION_RESNET);
    }

    /**
     * LR-ASPP on the dilated MobileNetV3-Large: {@code classifier.cbr} (1x1 conv, BN, ReLU) on C5 times
     * {@code classifier.scale} (global average pooling, 1x1 conv, sigmoid), resized to C2's size, through
     * {@code high_classifier}, plus {@code low_classifier} on C2; resized to the input's size (output "out").
     */
    private static Architecture lraspp(String name, GraphBuilder b, Dims d, ModelOptions o, String input) {
        List<String> f = MobileNetV3Family.features(b, d, BACKBONE, input, true, o.width(), true);
        int[] taps = MobileNetV3Family.segmentationTaps(true);
        String low = f.get(taps[0]);
        String high = f.get(taps[1]);
        long inter = d.outExact(LRASPP + "cbr.0.weight", LRASPP_CHANNELS);
        String x = convBnRelu(b, LRASPP + "cbr.0", LRASPP + "cbr.1", LRASPP + "cbr.2", high, inter, 1, 1);
        String s = b.adaptiveAvgPool(LRASPP + "scale.0", high, 1);
        s = b.act(LRASPP + "scale.2", b.conv(LRASPP + "scale.1", s, inter, 1, 1, 0, false), Op.Activation.SIGMOID);
        x = b.interpolate(LRASPP + "resize", b.mul(LRASPP + "mul", x, s), low);
        long classes = d.outExact(LRASPP + "low_classifier.weight", o.numClasses());
        String y = b.add(LRASPP + "add", b.conv(LRASPP + "low_classifier", low, classes, 1, 1, 0, true),
                b.conv(LRASPP + "high_classifier", x, classes, 1, 1, 0, true));
        return new Architecture(name, b.build(b.interpolate("out", y, input)), Architecture.Init.TORCHVISION_RESNET);
    }

    /** torchvision's FCNHead {@code m} on {@code x}: 3x3 conv to a quarter, BN, ReLU, dropout, 1x1 conv to the classes. */
    private static String fcnHead(GraphBuilder b, Dims d, String m, String x, long classes) {
        String a = convBnRelu(b, m + ".0", m + ".1", m + ".2", x, d.outExact(m + ".0.weight", b.width(x) / FCN_REDUCTION),
                3, 1);
        a = b.dropout(m + ".3", a, FCN_DROPOUT);
        return b.conv(m + ".4", a, d.outExact(m + ".4.weight", classes), 1, 1, 0, true);
    }

    /** ASPP on {@code x}: five branches concatenated on channels, then the projection. */
    private static String aspp(GraphBuilder b, Dims d, String m, String x) {
        List<String> branches = new ArrayList<>();
        String c = m + ".convs.0";
        branches.add(convBnRelu(b, c + ".0", c + ".1", c + ".2", x, d.outExact(c + ".0.weight", ASPP_CHANNELS), 1, 1));
        for (int i = 0; i < ATROUS_RATES.length; i++) {
            c = m + ".convs." + (i + 1);
            long rate = ATROUS_RATES[i];
            String y = b.conv(c + ".0", x, d.outExact(c + ".0.weight", ASPP_CHANNELS), new long[] {3, 3}, 1, rate, rate, 1,
                    false);
            branches.add(b.act(c + ".2", b.batchNorm(c + ".1", y), Op.Activation.RELU));
        }
        c = m + ".convs." + (ATROUS_RATES.length + 1);
        String pooled = b.adaptiveAvgPool(c + ".0", x, 1);
        pooled = convBnRelu(b, c + ".1", c + ".2", c + ".3", pooled, d.outExact(c + ".1.weight", ASPP_CHANNELS), 1, 1);
        branches.add(b.interpolate(c + ".resize", pooled, x));
        String y = b.concat(m + ".cat", branches, 1, true);
        String p = m + ".project";
        y = convBnRelu(b, p + ".0", p + ".1", p + ".2", y, d.outExact(p + ".0.weight", ASPP_CHANNELS), 1, 1);
        return b.dropout(p + ".3", y, ASPP_DROPOUT);
    }

    /** conv (no bias, padding k / 2) -> batch norm -> ReLU, with the three module paths. */
    private static String convBnRelu(GraphBuilder b, String conv, String bn, String relu, String x, long out, long kernel,
            long stride) {
        String y = b.conv(conv, x, out, kernel, stride, kernel / 2, false);
        return b.act(relu, b.batchNorm(bn, y), Op.Activation.RELU);
    }
}
