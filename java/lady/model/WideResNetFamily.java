package lady.model;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * The CIFAR Wide ResNets of Zagoruyko and Komodakis as most PyTorch code writes them (xternalz's WideResNet-pytorch,
 * RobustBench's model zoo): {@code conv1} (3x3, 16 channels), three stages {@code block1..3.layer.i} of pre-activation
 * blocks ({@code bn1} -> ReLU -> {@code conv1} (3x3, the stage's stride on the first block) -> {@code bn2} -> ReLU ->
 * {@code conv2} (3x3); the sum with the block's input, or, where the widths differ, with {@code convShortcut} (1x1,
 * stride) of the activated input), then {@code bn1} -> ReLU -> average pool (the global one on 32 x 32 images) ->
 * {@code fc}. WRN-d-k has (d - 4) / 6 blocks per stage of 16k, 32k and 64k channels; a checkpoint gives every block and
 * width. Named {@code wrn_<d>_<k>}; a new model is WRN-28-10 unless another such name is asked for. Files with
 * RobustBench's unused {@code sub_block1} are not recognized (its tensors are in no forward).
 */
final class WideResNetFamily implements Family {
    private static final Pattern NAME = Pattern.compile("wrn_(\\d+)_(\\d+)");
    private static final long STEM = 16;
    private static final int STAGES = 3;
    private static final String PREFIX = "block";

    @Override
    public List<String> names() {
        return List.of("wrn_28_10", "wrn_16_8", "wrn_34_10", "wrn_40_2", "wrn_70_16");
    }

    @Override
    public boolean builds(String name) {
        Matcher m = NAME.matcher(name);
        return m.matches() && m.group(1).length() < 6 && Long.parseLong(m.group(1)) >= 10
                && (Long.parseLong(m.group(1)) - 4) % 6 == 0 && m.group(2).length() < 6 && Long.parseLong(m.group(2)) >= 1;
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("conv1.weight") || !s.containsKey("block1.layer.0.conv1.weight") || !s.containsKey("fc.weight")
                || !s.containsKey("bn1.weight") || s.containsKey("sub_block1.layer.0.conv1.weight")) {
            return null;
        }
        int n = 0;
        while (s.containsKey("block1.layer." + n + ".conv1.weight")) {
            n++;
        }
        long width = Family.dim(s, "block1.layer.0.conv1.weight", 0, STEM);
        return "wrn_" + (6 * n + 4) + "_" + Math.max(1, width / STEM);
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "fc.weight", "conv1.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        Matcher m = NAME.matcher(name);
        if (!builds(name) || !m.matches()) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown Wide ResNet '" + name + "': wrn_<depth>_<k> with "
                    + "depth 6n + 4 (" + String.join(", ", names()) + ")");
        }
        long blocks = (Long.parseLong(m.group(1)) - 4) / 6;
        long k = Long.parseLong(m.group(2));
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = b.conv("conv1", x, d.out("conv1.weight", STEM), 3, 1, 1, false);
        for (int stage = 1; stage <= STAGES; stage++) {
            long width = STEM * k << (stage - 1);
            for (int i = 0; d.fromCheckpoint() ? d.has(PREFIX + stage + ".layer." + i + ".conv1.weight", false) : i < blocks;
                    i++) {
                x = block(b, d, PREFIX + stage + ".layer." + i, x, width, i == 0 && stage > 1 ? 2 : 1);
            }
        }
        x = b.act("relu", b.batchNorm("bn1", x), Op.Activation.RELU);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("fc", x, d.outExact("fc.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.TORCHVISION_RESNET);
    }

    /** One pre-activation block ({@code p}: "block2.layer.0"). */
    private static String block(GraphBuilder b, Dims d, String p, String x, long width, long stride) {
        long in = b.width(x);
        long out = d.out(p + ".conv2.weight", width);
        boolean projected = d.fromCheckpoint() ? d.has(p + ".convShortcut.weight", false) : in != out || stride != 1;
        String a = b.act(p + ".relu1", b.batchNorm(p + ".bn1", x), Op.Activation.RELU);
        String y = b.conv(p + ".conv1", a, d.out(p + ".conv1.weight", width), 3, stride, 1, false);
        y = b.act(p + ".relu2", b.batchNorm(p + ".bn2", y), Op.Activation.RELU);
        y = b.conv(p + ".conv2", y, out, 3, 1, 1, false);
        String shortcut = projected ? b.conv(p + ".convShortcut", a, d.outExact(p + ".convShortcut.weight", out), 1,
                stride, 0, false) : x;
        return b.add(p + ".add", shortcut, y);
    }
}
