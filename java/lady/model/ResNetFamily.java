package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's ResNets with their module paths: resnet18/34 (BasicBlock), resnet50/101/152 (Bottleneck,
 * stride on the 3x3 conv), wide_resnet50_2/101_2 (Bottleneck twice as wide inside), resnext50_32x4d,
 * resnext101_32x8d and resnext101_64x4d (Bottleneck whose 3x3 conv is grouped: G groups of D channels in
 * layer1, the name's GxDd); a {@code _cifar}
 * suffix for the CIFAR stem (conv1 3x3 stride 1, no max pool). Stem conv1 -> bn1 -> ReLU [-> max pool],
 * four stages layer1..layer4 of blocks ("layer2.0": conv1/bn1, conv2/bn2 [, conv3/bn3], downsample.0/.1
 * when the stride or the width changes), adaptive average pool, fc. Blocks per stage and every width are
 * read off a checkpoint. {@link #body} also serves DeepLabV3's backbone (dilated stages, a prefix).
 *
 * <p>A {@code _kuangliu} suffix: the CIFAR ResNets of kuangliu's pytorch-cifar, the ones most CIFAR-10 research code
 * trains (ResNet18 .. 152 with the CIFAR stem, {@code shortcut.0/.1} for torchvision's {@code downsample.0/.1},
 * {@code linear} for {@code fc}, an average pool of 4 that is the global one on 32 x 32 images).
 */
final class ResNetFamily implements Family {
    private static final Map<String, int[]> BLOCKS = Map.of(
            "resnet18", new int[] {2, 2, 2, 2}, "resnet34", new int[] {3, 4, 6, 3},
            "resnet50", new int[] {3, 4, 6, 3}, "resnet101", new int[] {3, 4, 23, 3},
            "resnet152", new int[] {3, 8, 36, 3}, "wide_resnet50_2", new int[] {3, 4, 6, 3},
            "wide_resnet101_2", new int[] {3, 4, 23, 3}, "resnext50_32x4d", new int[] {3, 4, 6, 3},
            "resnext101_32x8d", new int[] {3, 4, 23, 3}, "resnext101_64x4d", new int[] {3, 4, 23, 3});
    private static final int EXPANSION = 4;
    /** torchvision's base width of a bottleneck: its inner width is planes * width_per_group / BASE_WIDTH * groups. */
    private static final long BASE_WIDTH = 64;
    /** resnextD_GxWd: G groups of W channels (in layer1). */
    private static final java.util.regex.Pattern RESNEXT = java.util.regex.Pattern.compile("resnext\\d+_(\\d+)x(\\d+)d");

    /**
     * A bottleneck's inner width, torchvision's {@code width_per_group} and {@code groups}: (64, 1) for resnet50,
     * (128, 1) for wide_resnet50_2, (4, 32) for resnext50_32x4d.
     */
    record Inner(long widthPerGroup, long groups) {
        static final Inner PLAIN = new Inner(BASE_WIDTH, 1);

        long width(long planes) {
            return planes * widthPerGroup / BASE_WIDTH * groups;
        }

        /** The inner width of a name: wide_resnet (twice), resnextD_GxWd, else plain. */
        static Inner of(String base) {
            if (base.startsWith("wide")) {
                return new Inner(2 * BASE_WIDTH, 1);
            }
            java.util.regex.Matcher m = RESNEXT.matcher(base);
            return m.matches() ? new Inner(Long.parseLong(m.group(2)), Long.parseLong(m.group(1))) : PLAIN;
        }
    }

    @Override
    public List<String> names() {
        List<String> out = new ArrayList<>();
        for (String n : List.of("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2",
                "wide_resnet101_2", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d")) {
            out.add(n);
            out.add(n + "_cifar");
        }
        for (String n : List.of("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")) {
            out.add(n + KUANGLIU);
        }
        return out;
    }

    /** The suffix of pytorch-cifar's ResNets (kuangliu's names: shortcut, linear). */
    static final String KUANGLIU = "_kuangliu";
    /** torchvision's shortcut branch and classifier, and pytorch-cifar's. */
    private static final String DOWNSAMPLE = "downsample";
    private static final String SHORTCUT = "shortcut";

    private static String classifier(String name) {
        return name.endsWith(KUANGLIU) ? "linear" : "fc";
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("conv1.weight") || !s.containsKey("layer1.0.conv1.weight")) {
            return null;
        }
        if (s.containsKey("linear.weight") && !s.containsKey("fc.weight")) {
            String name = depthName(s, "");
            return name != null && !name.endsWith("_custom") && BLOCKS.containsKey(name) && !name.contains("x")
                    && !name.startsWith("wide") && Family.dim(s, "conv1.weight", 2, 3) == 3 ? name + KUANGLIU : null;
        }
        if (!s.containsKey("fc.weight")) {
            return null;
        }
        String name = depthName(s, "");
        return name == null ? null : name + (Family.dim(s, "conv1.weight", 2, 7) == 3 ? "_cifar" : "");
    }

    /** resnet18 .. resnext101_64x4d from the blocks of a checkpoint (under {@code prefix}), or a {@code _custom} name. */
    static String depthName(Map<String, long[]> s, String prefix) {
        int[] blocks = new int[4];
        for (int stage = 0; stage < 4; stage++) {
            while (s.containsKey(prefix + "layer" + (stage + 1) + "." + blocks[stage] + ".conv1.weight")) {
                blocks[stage]++;
            }
        }
        boolean bottleneck = s.containsKey(prefix + "layer1.0.conv3.weight");
        long inner = Family.dim(s, prefix + "layer1.0.conv1.weight", 0, 0);
        long perGroup = Family.dim(s, prefix + "layer1.0.conv2.weight", 1, inner);
        long groups = bottleneck && perGroup > 0 && inner % perGroup == 0 ? inner / perGroup : 1;
        // layer1's planes are the stem's width (64 in torchvision); -1: an inner width no named depth has
        long stem = Math.max(1, Family.dim(s, prefix + "conv1.weight", 0, 1));
        Inner seen = groups > 1 ? new Inner(perGroup, groups)
                : new Inner(BASE_WIDTH * inner % stem == 0 ? BASE_WIDTH * inner / stem : -1, 1);
        for (Map.Entry<String, int[]> e : BLOCKS.entrySet()) {
            String n = e.getKey();
            boolean isBottleneck = !n.equals("resnet18") && !n.equals("resnet34");
            if (java.util.Arrays.equals(e.getValue(), blocks) && isBottleneck == bottleneck
                    && (!bottleneck || Inner.of(n).equals(seen))) {
                return n;
            }
        }
        return (groups > 1 ? "resnext" : seen.widthPerGroup() == 2 * BASE_WIDTH ? "wide_resnet" : "resnet") + "_custom";
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, classifier(name) + ".weight", "conv1.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        String base = name.replace("_cifar", "").replace(KUANGLIU, "");
        boolean cifarStem = name.endsWith("_cifar") || name.endsWith(KUANGLIU);
        int[] blocks = blocks(base, d, "");
        boolean bottleneck = base.endsWith("_custom") ? d.has("layer1.0.conv3.weight", true)
                : !base.equals("resnet18") && !base.equals("resnet34");
        Family.requireNoHidden(name, d.options());
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", d.options().inputChannels(), d.options().inputSize(), false);
        x = body(b, d, "", x, blocks, bottleneck, Inner.of(base), cifarStem, new boolean[] {false, false, false},
                name.endsWith(KUANGLIU) ? SHORTCUT : DOWNSAMPLE).get(3);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        String fc = classifier(name);
        x = b.linear(fc, x, d.outExact(fc + ".weight", d.options().numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_RESNET);
    }

    /** Blocks per stage: the checkpoint's (under {@code prefix}), else the named depth's. */
    static int[] blocks(String base, Dims d, String prefix) {
        if (d.fromCheckpoint()) {
            int[] blocks = new int[4];
            for (int stage = 0; stage < 4; stage++) {
                while (d.has(prefix + "layer" + (stage + 1) + "." + blocks[stage] + ".conv1.weight", false)) {
                    blocks[stage]++;
                }
            }
            if (blocks[0] > 0) {
                return blocks;
            }
        }
        int[] b = BLOCKS.get(base);
        if (b == null) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown ResNet '" + base + "'; known: "
                    + String.join(", ", BLOCKS.keySet().stream().sorted().toList()));
        }
        return b;
    }

    /**
     * The stem and the four stages, from image {@code x}; returns the outputs of layer1 .. layer4 (DeepLabV3's
     * auxiliary head reads layer3). {@code dilate[i]}: stage i + 2 replaces its stride by dilation
     * (torchvision's replace_stride_with_dilation).
     */
    static List<String> body(GraphBuilder b, Dims d, String prefix, String x, int[] blocks, boolean bottleneck, Inner inner,
            boolean cifarStem, boolean[] dilate) {
        return body(b, d, prefix, x, blocks, bottleneck, inner, cifarStem, dilate, DOWNSAMPLE);
    }

    /** {@link #body(GraphBuilder, Dims, String, String, int[], boolean, Inner, boolean, boolean[])} whose shortcut
     * branches are named {@code shortcut} ("downsample", or pytorch-cifar's "shortcut"). */
    private static List<String> body(GraphBuilder b, Dims d, String prefix, String x, int[] blocks, boolean bottleneck,
            Inner inner, boolean cifarStem, boolean[] dilate, String shortcut) {
        String conv1 = prefix + "conv1";
        long stem = d.out(conv1 + ".weight", 64);
        long k = d.size(conv1 + ".weight", 2, cifarStem ? 3 : 7);
        x = b.conv(conv1, x, stem, new long[] {k, k}, k == 3 ? 1 : 2, k / 2, 1, 1, false);
        x = b.batchNorm(prefix + "bn1", x);
        x = b.act(prefix + "relu", x, Op.Activation.RELU);
        if (!cifarStem) {
            x = b.maxPool(prefix + "maxpool", x, 3, 2, 1);
        }
        long dilation = 1;
        List<String> stages = new ArrayList<>();
        for (int stage = 1; stage <= 4; stage++) {
            long planes = 64L << (stage - 1);
            long stride = stage == 1 ? 1 : 2;
            long previous = dilation;
            if (stage > 1 && dilate[stage - 2]) {
                dilation *= stride;
                stride = 1;
            }
            for (int i = 0; i < blocks[stage - 1]; i++) {
                String block = prefix + "layer" + stage + "." + i;
                long s = i == 0 ? stride : 1;
                long dil = i == 0 ? previous : dilation;
                x = bottleneck ? bottleneck(b, d, block, x, planes, inner, s, dil, shortcut)
                        : basic(b, d, block, x, planes, s, shortcut);
            }
            stages.add(x);
        }
        return stages;
    }

    /*
     * Node order in a block: the inner layers, then the downsample branch, then the layer that writes into
     * the stream (conv2 of a BasicBlock, conv3 of a Bottleneck), with that layer's tensors declared before
     * the downsample's so that the state-dict order stays PyTorch's. The stream's producers are then
     * listed downsample first: it reads the previous stream, which resync has aligned by then.
     */

    private static String basic(GraphBuilder b, Dims d, String block, String x, long planes, long stride,
            String branch) {
        String y = b.conv(block + ".conv1", x, d.out(block + ".conv1.weight", planes), 3, stride, 1, false);
        y = b.act(block + ".relu1", b.batchNorm(block + ".bn1", y), Op.Activation.RELU);
        long out = d.out(block + ".conv2.weight", planes);
        declare(b, block, "conv2", "bn2", out, b.width(y), 3);
        String shortcut = shortcut(b, d, block, x, out, stride, branch);
        y = b.conv(block + ".conv2", y, out, 3, 1, 1, false);
        y = b.batchNorm(block + ".bn2", y);
        return b.act(block + ".relu", b.add(block + ".add", y, shortcut), Op.Activation.RELU);
    }

    /** Declares conv {@code conv} (out x in x k x k, no bias) and its batch norm {@code bn} in the state-dict order. */
    private static void declare(GraphBuilder b, String block, String conv, String bn, long out, long in, long k) {
        b.tensor(block + "." + conv + ".weight", out, in, k, k);
        for (String s : List.of("weight", "bias", "running_mean", "running_var")) {
            b.tensor(block + "." + bn + "." + s, out);
        }
        if (b.batchCounts()) {
            b.tensor(block + "." + bn + ".num_batches_tracked");
        }
    }

    private static String bottleneck(GraphBuilder b, Dims d, String block, String x, long planes, Inner inner, long stride,
            long dilation, String branch) {
        long width = inner.width(planes);
        long reduced = d.out(block + ".conv1.weight", width);
        // the groups of the 3x3 conv: the checkpoint's (its inputs over its weight's second axis), or the name's
        long groups = reduced / Math.max(1, d.size(block + ".conv2.weight", 1, reduced / inner.groups()));
        String y = b.conv(block + ".conv1", x, reduced, 1, 1, 0, false);
        y = b.act(block + ".relu1", b.batchNorm(block + ".bn1", y), Op.Activation.RELU);
        y = b.conv(block + ".conv2", y, d.out(block + ".conv2.weight", width), new long[] {3, 3}, stride, dilation, dilation,
                groups, false);
        y = b.act(block + ".relu2", b.batchNorm(block + ".bn2", y), Op.Activation.RELU);
        long out = d.out(block + ".conv3.weight", planes * EXPANSION);
        declare(b, block, "conv3", "bn3", out, b.width(y), 1);
        String shortcut = shortcut(b, d, block, x, out, stride, branch);
        y = b.conv(block + ".conv3", y, out, 1, 1, 0, false);
        y = b.batchNorm(block + ".bn3", y);
        return b.act(block + ".relu", b.add(block + ".add", y, shortcut), Op.Activation.RELU);
    }

    /** The identity, or {@code branch}.0 (1x1 conv, stride) -> {@code branch}.1 (BN) when the stride or width changes. */
    private static String shortcut(GraphBuilder b, Dims d, String block, String x, long out, long stride, String branch) {
        String p = block + "." + branch;
        boolean needed = d.fromCheckpoint() ? d.has(p + ".0.weight", false) : stride != 1 || b.width(x) != out;
        if (!needed) {
            return x;
        }
        String s = b.conv(p + ".0", x, d.outExact(p + ".0.weight", out), 1, stride, 0, false);
        return b.batchNorm(p + ".1", s);
    }
}
