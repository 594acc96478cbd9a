package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's detectors on a ResNet with a feature pyramid, with their module paths: Faster R-CNN
 * ({@code fasterrcnn_resnet50_fpn}, {@code _v2}), Mask R-CNN ({@code maskrcnn_resnet50_fpn}, {@code _v2}), Keypoint
 * R-CNN ({@code keypointrcnn_resnet50_fpn}), RetinaNet ({@code retinanet_resnet50_fpn}, {@code _v2}) and FCOS
 * ({@code fcos_resnet50_fpn}); and Faster R-CNN on MobileNetV3-Large ({@code fasterrcnn_mobilenet_v3_large_fpn}, which
 * is also torchvision's {@code _320_fpn}: the same weights), whose pyramid reads the last two of the backbone's stages
 * ({@link MobileNetV3Family#features}, batch norms of eps 1e-5 as the detector builds them) and whose RPN has 15 anchors
 * per pixel.
 * <ul>
 *   <li>{@code backbone.body}: the ResNet's stem and stages ({@link ResNetFamily#body}; the checkpoint's depth), with
 *       torchvision's FrozenBatchNorm2d (no num_batches_tracked: pretrained backbones) or batch norms.</li>
 *   <li>{@code backbone.fpn}: per stage it reads (the last 4, or 3 for RetinaNet and FCOS) a 1x1 conv
 *       {@code inner_blocks.i} (with a batch norm in the v2 R-CNNs), the top-down sums (nearest upsampling), a 3x3
 *       conv {@code layer_blocks.i}; then R-CNN's max pool (stride 2) of the last level, or RetinaNet's and FCOS's
 *       {@code extra_blocks.p6} (3x3 stride 2 on the last level, or on the last stage where it reads 2048 channels)
 *       and {@code p7} (after a ReLU).</li>
 *   <li>R-CNN: the {@code rpn.head} on every level (3x3 convs with ReLU, {@code cls_logits}, {@code bbox_pred}); the
 *       box head ({@code roi_heads.box_head}: {@code fc6}, {@code fc7} with ReLU, or v2's four 3x3 convs with batch
 *       norms and ReLU, then a Linear {@code box_head.5}) and {@code box_predictor} ({@code cls_score},
 *       {@code bbox_pred}); Mask R-CNN's {@code mask_head} (four 3x3 convs) and {@code mask_predictor}
 *       ({@code conv5_mask}, a 2x2 stride-2 transposed conv, ReLU, {@code mask_fcn_logits}); Keypoint R-CNN's
 *       {@code keypoint_head} (eight 3x3 convs) and {@code keypoint_predictor.kps_score_lowres} (a 4x4 stride-2
 *       transposed conv).</li>
 *   <li>RetinaNet and FCOS: {@code head.classification_head} and {@code head.regression_head} on every level (four
 *       3x3 convs with ReLU: RetinaNet v1 with biases, v2 and FCOS with group norms of 32 groups; {@code cls_logits},
 *       {@code bbox_reg}, FCOS's ReLU on it and {@code bbox_ctrness}).</li>
 * </ul>
 *
 * <p>The graph's outputs are what the weights compute before any box is decoded: per pyramid level the dense heads'
 * maps (the first level's named after the module, level j's with "@j"), and the region heads' outputs on regions Lady
 * chooses: each image's first pyramid level pooled to the region size (7 x 7, 14 x 14 for masks and keypoints) in place
 * of RoIAlign on proposals, whose choice (anchors, NMS) is not a function of the channels' order. {@code --verify}
 * compares those; the permutation keeps the whole detector's function.
 *
 * <p>What moves: the backbone's groups (as the ResNet's); the pyramid's inner channels (every inner block's rows, tied by
 * the top-down sums) and its output channels (every layer block's rows and the extra levels', tied because each head
 * reads every level with the same weights); each head conv's channels (one space over all the levels); the region
 * heads' units and channels. Anchors, classes, box coordinates and keypoints stay.
 */
final class DetectionFamily implements Family {
    private static final String BODY = "backbone.body.";
    private static final String FPN = "backbone.fpn.";
    private static final long FPN_WIDTH = 256;
    private static final long REPRESENTATION = 1024;
    /** The region sizes: boxes, masks and keypoints. */
    private static final long BOX_SIZE = 7;
    private static final long MASK_SIZE = 14;
    private static final long HEAD_CONVS = 4;
    private static final long KEYPOINT_CONVS = 8;
    private static final long KEYPOINT_WIDTH = 512;
    private static final long KEYPOINTS = 17;
    private static final long GN_GROUPS = 32;
    private static final double GN_EPS = 1e-5;
    /** The batch norms of the v2 heads and pyramid (nn.BatchNorm2d's). */
    private static final double BN_EPS = 1e-5;
    /** Anchors per location: R-CNN's RPN (on MobileNetV3: 5 sizes x 3 ratios), RetinaNet's; FCOS has one. */
    private static final long RPN_ANCHORS = 3;
    private static final long MOBILENET_RPN_ANCHORS = 15;
    private static final long RETINA_ANCHORS = 9;
    /** The side of the probe images: every pyramid level keeps at least one pixel (P7 is 1/128). */
    private static final int INPUT = 128;

    private enum Kind { FASTER, MASK, KEYPOINT, RETINA, FCOS }

    private static final Map<String, Kind> KINDS = Map.of("fasterrcnn", Kind.FASTER, "maskrcnn", Kind.MASK,
            "keypointrcnn", Kind.KEYPOINT, "retinanet", Kind.RETINA, "fcos", Kind.FCOS);
    private static final String SUFFIX = "_resnet50_fpn";
    private static final String V2 = "_v2";
    /** Faster R-CNN on MobileNetV3-Large (torchvision's fasterrcnn_mobilenet_v3_large_fpn and _320_fpn: one network). */
    private static final String MOBILENET = "fasterrcnn_mobilenet_v3_large_fpn";
    /** torchvision builds the detectors' MobileNetV3 with nn.BatchNorm2d or FrozenBatchNorm2d: eps 1e-5, not its 1e-3. */
    private static final double MOBILENET_BN_EPS = 1e-5;

    @Override
    public List<String> names() {
        return List.of("fasterrcnn" + SUFFIX, "fasterrcnn" + SUFFIX + V2, "maskrcnn" + SUFFIX, "maskrcnn" + SUFFIX + V2,
                "keypointrcnn" + SUFFIX, "retinanet" + SUFFIX, "retinanet" + SUFFIX + V2, "fcos" + SUFFIX, MOBILENET);
    }

    private static Kind kind(String name) {
        return KINDS.get(name.substring(0, name.indexOf('_')));
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (s.containsKey(BODY + "0.0.weight") && s.containsKey(BODY + "1.block.0.0.weight")
                && s.containsKey(FPN + "inner_blocks.0.0.weight") && s.containsKey("rpn.head.conv.0.0.weight")
                && s.containsKey("roi_heads.box_head.fc6.weight") && !s.containsKey("roi_heads.mask_head.0.0.weight")
                && !s.containsKey("roi_heads.keypoint_head.0.weight")) {
            return MOBILENET;
        }
        if (!s.containsKey(BODY + "conv1.weight") || !s.containsKey(BODY + "layer1.0.conv3.weight")
                || !s.containsKey(FPN + "inner_blocks.0.0.weight") || !s.containsKey(FPN + "layer_blocks.0.0.weight")) {
            return null;
        }
        if (s.containsKey("head.regression_head.bbox_ctrness.weight") && s.containsKey("head.classification_head.cls_logits.weight")) {
            return "fcos" + SUFFIX;
        }
        if (s.containsKey("head.classification_head.cls_logits.weight") && s.containsKey("head.regression_head.bbox_reg.weight")) {
            return "retinanet" + SUFFIX + (s.containsKey("head.classification_head.conv.0.1.weight") ? V2 : "");
        }
        if (!s.containsKey("rpn.head.conv.0.0.weight") || !s.containsKey("roi_heads.box_predictor.cls_score.weight")) {
            return null;
        }
        boolean v2 = s.containsKey("roi_heads.box_head.0.0.weight");
        if (s.containsKey("roi_heads.keypoint_head.0.weight")) {
            return v2 ? null : "keypointrcnn" + SUFFIX;
        }
        return (s.containsKey("roi_heads.mask_head.0.0.weight") ? "maskrcnn" : "fasterrcnn") + SUFFIX + (v2 ? V2 : "");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        Kind k = kind(name);
        ModelOptions o = Family.options(s, k == Kind.RETINA || k == Kind.FCOS ? "head.classification_head.cls_logits.weight"
                : "roi_heads.box_predictor.cls_score.weight", BODY + (name.equals(MOBILENET) ? "0.0.weight" : "conv1.weight"));
        long classes = o.numClasses();
        if (k == Kind.RETINA || k == Kind.FCOS) { // cls_logits has anchors x classes rows
            long anchors = Math.max(1, Family.dim(s, "head.regression_head.bbox_reg.weight", 0, 4) / 4);
            classes = Math.max(1, classes / anchors);
        }
        return new ModelOptions((int) classes, 1.0, 0, o.inputChannels(), INPUT);
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        Kind k = kind(name);
        boolean v2 = name.endsWith(V2);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        // pretrained backbones have frozen batch norms (torchvision's v1 detectors; v2 R-CNN's are batch norms)
        boolean mobile = name.equals(MOBILENET);
        b.frozenBatchNorms(d.fromCheckpoint() ? !d.has(BODY + (mobile ? "0.1" : "bn1") + ".num_batches_tracked", false)
                : !v2);
        List<String> stages;
        if (mobile) { // the pyramid reads the last two of torchvision's stage indices
            b.batchNormEps(MOBILENET_BN_EPS);
            List<String> f = MobileNetV3Family.features(b, d, BODY, x, true, o.width(), false);
            b.batchNormEps(null);
            List<Integer> at = MobileNetV3Family.stageIndices(true);
            stages = List.of(f.get(at.get(at.size() - 2)), f.get(at.get(at.size() - 1)));
        } else {
            int[] blocks = ResNetFamily.blocks("resnet50", d, BODY);
            stages = ResNetFamily.body(b, d, BODY, x, blocks, true, ResNetFamily.Inner.PLAIN, false, new boolean[3]);
        }
        b.frozenBatchNorms(false);
        boolean dense = k == Kind.RETINA || k == Kind.FCOS;
        List<String> levels = pyramid(b, d, stages, mobile ? 2 : dense ? 3 : 4, v2 && !dense, k, v2);
        List<String> outputs = new ArrayList<>();
        if (dense) {
            denseHeads(b, d, levels, k, v2, o.numClasses(), outputs);
        } else {
            rpn(b, d, levels, v2 ? 2 : 1, anchors(name), outputs);
            regionHeads(b, d, levels.get(0), k, v2, o.numClasses(), outputs);
        }
        return new Architecture(name, b.build(outputs.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** The feature pyramid on the last {@code count} stages, with its extra levels; returns every level, finest first. */
    private static List<String> pyramid(GraphBuilder b, Dims d, List<String> stages, int count, boolean norm, Kind k,
            boolean v2) {
        int n = count;
        if (d.fromCheckpoint()) {
            n = 0;
            while (d.has(FPN + "inner_blocks." + n + ".0.weight", false)) {
                n++;
            }
            norm = d.has(FPN + "inner_blocks.0.1.weight", false);
        }
        if (n < 1 || n > stages.size()) {
            throw LadyException.invalidInput(FPN + "inner_blocks has " + n + " blocks; this pyramid reads 1 to "
                    + stages.size() + " stages");
        }
        List<String> feats = stages.subList(stages.size() - n, stages.size());
        for (int i = 0; i < n; i++) { // the state dict lists every inner block, then every layer block
            if (b.width(feats.get(i)) != d.size(FPN + "inner_blocks." + i + ".0.weight", 1, b.width(feats.get(i)))) {
                throw LadyException.invalidInput(FPN + "inner_blocks." + i + ".0.weight reads " + d.size(FPN + "inner_blocks."
                        + i + ".0.weight", 1, 0) + " channels, but the backbone's stage " + (stages.size() - n + i + 1)
                        + " has " + b.width(feats.get(i)) + "; Lady reads pyramids on the backbone's last stages");
            }
        }
        String last = inner(b, d, n - 1, feats.get(n - 1), norm);
        String[] results = new String[n];
        results[n - 1] = layer(b, d, n - 1, last, norm);
        for (int i = n - 2; i >= 0; i--) {
            String lateral = inner(b, d, i, feats.get(i), norm);
            last = b.add(FPN + "add." + i, lateral, b.interpolateNearest(FPN + "upsample." + i, last, lateral));
            results[i] = layer(b, d, i, last, norm);
        }
        long width = b.width(results[n - 1]);
        List<String> levels = new ArrayList<>(List.of(results));
        if (k == Kind.RETINA || k == Kind.FCOS) { // P6 on P5 (or on C5 where it reads its channels), P7 after a ReLU
            String p6 = FPN + "extra_blocks.p6";
            String c5 = feats.get(n - 1);
            boolean onC5 = d.fromCheckpoint() ? d.size(p6 + ".weight", 1, 0) == b.width(c5) && b.width(c5) != width
                    : v2 && k == Kind.RETINA;
            String y = b.conv(p6, onC5 ? c5 : results[n - 1], d.outExact(p6 + ".weight", width), 3, 2, 1, true);
            levels.add(y);
            String p7 = FPN + "extra_blocks.p7";
            levels.add(b.conv(p7, b.act(FPN + "extra_blocks.relu", y, Op.Activation.RELU), d.outExact(p7 + ".weight", width),
                    3, 2, 1, true));
        } else {
            levels.add(b.maxPool(FPN + "extra_blocks.pool", results[n - 1], 1, 2, 0));
        }
        return levels;
    }

    /** Inner block {@code i} (1x1) and layer block {@code i} (3x3): 256 channels, or a checkpoint's (widened) own. */
    private static String inner(GraphBuilder b, Dims d, int i, String x, boolean norm) {
        String m = FPN + "inner_blocks." + i;
        String y = b.conv(m + ".0", x, d.outExact(m + ".0.weight", FPN_WIDTH), 1, 1, 0, !norm);
        return norm ? b.batchNorm(m + ".1", y) : y;
    }

    private static String layer(GraphBuilder b, Dims d, int i, String x, boolean norm) {
        String m = FPN + "layer_blocks." + i;
        String y = b.conv(m + ".0", x, d.outExact(m + ".0.weight", FPN_WIDTH), 3, 1, 1, !norm);
        return norm ? b.batchNorm(m + ".1", y) : y;
    }

    private static long anchors(String name) {
        return name.equals(MOBILENET) ? MOBILENET_RPN_ANCHORS : RPN_ANCHORS;
    }

    /** The node suffix of pyramid level {@code j}: its modules are the first level's, applied again. */
    private static String level(int j) {
        return j == 0 ? "" : "@" + j;
    }

    /**
     * R-CNN's region proposal head on every level: its convs (a new model's {@code depth}: v2 has two), then objectness
     * and box deltas per anchor.
     */
    private static void rpn(GraphBuilder b, Dims d, List<String> levels, int depth, long anchorsPerPixel,
            List<String> outputs) {
        String h = "rpn.head.";
        int convs = 0;
        while (d.fromCheckpoint() ? d.has(h + "conv." + convs + ".0.weight", false) : convs < depth) {
            convs++;
        }
        long anchors = d.outExact(h + "cls_logits.weight", anchorsPerPixel);
        List<String> objectness = new ArrayList<>();
        List<String> deltas = new ArrayList<>();
        for (int j = 0; j < levels.size(); j++) {
            b.reuse(level(j));
            String t = levels.get(j);
            for (int i = 0; i < convs; i++) {
                String c = h + "conv." + i + ".0";
                t = b.act(h + "conv." + i + ".1", b.conv(c, t, d.outExact(c + ".weight", b.width(t)), 3, 1, 1, true),
                        Op.Activation.RELU);
            }
            objectness.add(b.conv(h + "cls_logits", t, anchors, 1, 1, 0, true));
            deltas.add(b.conv(h + "bbox_pred", t, 4 * anchors, 1, 1, 0, true));
        }
        b.reuse("");
        outputs.addAll(objectness);
        outputs.addAll(deltas);
    }

    /** The box head and predictor, and Mask R-CNN's or Keypoint R-CNN's head, on the first level's pooled regions. */
    private static void regionHeads(GraphBuilder b, Dims d, String p2, Kind k, boolean v2, long classes,
            List<String> outputs) {
        String h = "roi_heads.";
        String x = b.adaptiveAvgPool(h + "box_roi_pool", p2, BOX_SIZE);
        if (v2) { // FastRCNNConvFCHead: 3x3 convs with batch norms, then one Linear
            int i = 0;
            for (; d.fromCheckpoint() ? d.has(h + "box_head." + i + ".0.weight", false) : i < HEAD_CONVS; i++) {
                x = convNormRelu(b, h + "box_head." + i, x, d.outExact(h + "box_head." + i + ".0.weight", FPN_WIDTH), true);
            }
            x = b.flatten(h + "box_head." + i, x, BOX_SIZE * BOX_SIZE);
            x = b.act(h + "box_head." + (i + 2), b.linear(h + "box_head." + (i + 1), x, d.outExact(h + "box_head." + (i + 1)
                    + ".weight", REPRESENTATION), true), Op.Activation.RELU);
        } else { // TwoMLPHead
            x = b.flatten(h + "box_head.flatten", x, BOX_SIZE * BOX_SIZE);
            x = b.act(h + "box_head.relu6", b.linear(h + "box_head.fc6", x, d.outExact(h + "box_head.fc6.weight",
                    REPRESENTATION), true), Op.Activation.RELU);
            x = b.act(h + "box_head.relu7", b.linear(h + "box_head.fc7", x, d.outExact(h + "box_head.fc7.weight",
                    REPRESENTATION), true), Op.Activation.RELU);
        }
        String p = h + "box_predictor.";
        long k1 = d.outExact(p + "cls_score.weight", classes);
        outputs.add(b.linear(p + "cls_score", x, k1, true));
        outputs.add(b.linear(p + "bbox_pred", x, d.outExact(p + "bbox_pred.weight", 4 * k1), true));
        if (k == Kind.MASK) {
            String m = b.adaptiveAvgPool(h + "mask_roi_pool", p2, MASK_SIZE);
            for (int i = 0; d.fromCheckpoint() ? d.has(h + "mask_head." + i + ".0.weight", false) : i < HEAD_CONVS; i++) {
                m = convNormRelu(b, h + "mask_head." + i, m, d.outExact(h + "mask_head." + i + ".0.weight", FPN_WIDTH), v2);
            }
            String q = h + "mask_predictor.";
            m = b.act(q + "relu", b.convTranspose(q + "conv5_mask", m, d.size(q + "conv5_mask.weight", 1, b.width(m)), 2, 2,
                    0, true), Op.Activation.RELU);
            outputs.add(b.conv(q + "mask_fcn_logits", m, d.outExact(q + "mask_fcn_logits.weight", classes), 1, 1, 0, true));
        } else if (k == Kind.KEYPOINT) {
            String m = b.adaptiveAvgPool(h + "keypoint_roi_pool", p2, MASK_SIZE);
            for (int i = 0; d.fromCheckpoint() ? d.has(h + "keypoint_head." + 2 * i + ".weight", false)
                    : i < KEYPOINT_CONVS; i++) {
                String c = h + "keypoint_head." + 2 * i;
                m = b.act(h + "keypoint_head." + (2 * i + 1), b.conv(c, m, d.outExact(c + ".weight", KEYPOINT_WIDTH), 3, 1,
                        1, true), Op.Activation.RELU);
            }
            String q = h + "keypoint_predictor.kps_score_lowres";
            outputs.add(b.convTranspose(q, m, d.size(q + ".weight", 1, KEYPOINTS), 4, 2, 1, true));
        }
    }

    /**
     * torchvision's Conv2dNormActivation, 3x3 with ReLU: with a batch norm ({@link MobileNetV3Family#convBnAct}: conv
     * {@code module}.0 without bias, .1, .2), or without ({@code norm} false: conv .0 with a bias, ReLU .1).
     */
    private static String convNormRelu(GraphBuilder b, String module, String x, long out, boolean norm) {
        return norm ? MobileNetV3Family.convBnAct(b, module, x, out, 3, 1, 1, Op.Activation.RELU, BN_EPS,
                GraphBuilder.DEFAULT_BN_MOMENTUM) : b.act(module + ".1", b.conv(module + ".0", x, out, 3, 1, 1, true),
                Op.Activation.RELU);
    }

    /** RetinaNet's and FCOS's classification and regression heads on every level. */
    private static void denseHeads(GraphBuilder b, Dims d, List<String> levels, Kind k, boolean v2, long classes,
            List<String> outputs) {
        boolean fcos = k == Kind.FCOS;
        String c = "head.classification_head.";
        String r = "head.regression_head.";
        long anchors = fcos ? d.outExact(r + "bbox_ctrness.weight", 1) : d.outExact(r + "bbox_reg.weight", 4 * RETINA_ANCHORS) / 4;
        List<String> logits = new ArrayList<>();
        List<String> boxes = new ArrayList<>();
        List<String> centres = new ArrayList<>();
        for (int j = 0; j < levels.size(); j++) {
            b.reuse(level(j));
            String t = tower(b, d, c, levels.get(j), fcos, v2);
            logits.add(b.conv(c + "cls_logits", t, d.outExact(c + "cls_logits.weight", anchors * classes), 3, 1, 1, true));
            String u = tower(b, d, r, levels.get(j), fcos, v2);
            String box = b.conv(r + "bbox_reg", u, 4 * anchors, 3, 1, 1, true);
            boxes.add(fcos ? b.act(r + "bbox_relu", box, Op.Activation.RELU) : box);
            if (fcos) {
                centres.add(b.conv(r + "bbox_ctrness", u, anchors, 3, 1, 1, true));
            }
        }
        b.reuse("");
        outputs.addAll(logits);
        outputs.addAll(boxes);
        outputs.addAll(centres);
    }

    /** A head's convs: RetinaNet's {@code conv.i.0} (v2: with group norm {@code conv.i.1}), FCOS's {@code conv.3i} and
     * group norm {@code conv.3i+1}; each with ReLU. */
    private static String tower(GraphBuilder b, Dims d, String head, String x, boolean fcos, boolean v2) {
        for (int i = 0; d.fromCheckpoint() ? d.has(head + "conv." + (fcos ? 3 * i : i + ".0") + ".weight", false)
                : i < HEAD_CONVS; i++) {
            String conv = head + "conv." + (fcos ? 3 * i : i + ".0");
            String norm = head + "conv." + (fcos ? 3 * i + 1 : i + ".1");
            String act = head + "conv." + (fcos ? 3 * i + 2 : i + (v2 ? ".2" : ".1"));
            boolean grouped = fcos || v2;
            x = b.conv(conv, x, d.outExact(conv + ".weight", b.width(x)), 3, 1, 1, !grouped || fcos);
            if (grouped) {
                x = b.groupNorm(norm, x, GN_GROUPS, GN_EPS);
            }
            x = b.act(act, x, Op.Activation.RELU);
        }
        return x;
    }
}
