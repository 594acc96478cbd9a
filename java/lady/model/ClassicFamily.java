package lady.model;

import java.util.List;
import java.util.Map;

import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's AlexNet and SqueezeNets with their module paths.
 * <ul>
 *   <li><b>alexnet</b>: {@code features.0, 3, 6, 8, 10} convolutions with bias and ReLU (11x11 stride 4 pad 2, 5x5 pad 2,
 *       then 3x3 pad 1), 3x3 stride-2 max pools after the first, second and last; adaptive average pooling to 6x6,
 *       flatten, {@code classifier.1, 4, 6} Linear layers (ReLU after the first two, dropout before them).</li>
 *   <li><b>squeezenet1_0</b> / <b>squeezenet1_1</b>: {@code features.0} (7x7 stride 2, 96; or 3x3 stride 2, 64) with
 *       ReLU, 3x3 stride-2 max pools (ceil mode) and Fire modules ({@code squeeze} 1x1 with ReLU, then {@code expand1x1}
 *       and {@code expand3x3} (pad 1), each with ReLU, concatenated), in torchvision's order; the head
 *       {@code classifier.1} (1x1 conv to the classes, ReLU, adaptive average pooling, flatten). A checkpoint's Fire
 *       widths are its own.</li>
 * </ul>
 */
final class ClassicFamily implements Family {
    /** SqueezeNet's features: per index, a Fire's squeeze and expand widths, or null for a max pool. */
    private static final Map<String, int[][]> SQUEEZE = Map.of(
            "squeezenet1_0", new int[][] {{16, 64}, {16, 64}, {32, 128}, null, {32, 128}, {48, 192}, {48, 192}, {64, 256},
                null, {64, 256}},
            "squeezenet1_1", new int[][] {{16, 64}, {16, 64}, null, {32, 128}, {32, 128}, null, {48, 192}, {48, 192},
                {64, 256}, {64, 256}});
    /** The index of SqueezeNet's first Fire module in {@code features}. */
    private static final int FIRST_FIRE = 3;
    private static final double DROPOUT = 0.5;

    @Override
    public List<String> names() {
        return List.of("alexnet", "squeezenet1_0", "squeezenet1_1");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (s.containsKey("features.0.weight") && s.containsKey("features.10.weight") && s.containsKey("classifier.1.weight")
                && s.containsKey("classifier.6.weight") && !s.containsKey("features.1.weight")) {
            return "alexnet";
        }
        if (s.containsKey("features.0.weight") && s.containsKey("features.3.squeeze.weight")
                && s.containsKey("classifier.1.weight")) {
            return Family.dim(s, "features.0.weight", 2, 0) == 7 ? "squeezenet1_0" : "squeezenet1_1";
        }
        return null;
    }

    /** AlexNet's input size: its three max pools need at least 63 pixels; torchvision's. */
    private static final int ALEXNET_SIZE = 224;

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        ModelOptions o = Family.options(s, name.equals("alexnet") ? "classifier.6.weight" : "classifier.1.weight",
                "features.0.weight");
        return name.equals("alexnet") ? o.withInput(o.inputChannels(), ALEXNET_SIZE) : o;
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        return name.equals("alexnet") ? alexnet(b, d, o, x) : squeezenet(name, b, d, o, x);
    }

    private static Architecture alexnet(GraphBuilder b, Dims d, ModelOptions o, String x) {
        long[][] convs = {{0, 64, 11, 4, 2}, {3, 192, 5, 1, 2}, {6, 384, 3, 1, 1}, {8, 256, 3, 1, 1}, {10, 256, 3, 1, 1}};
        for (long[] c : convs) {
            String m = "features." + c[0];
            x = b.act("features." + (c[0] + 1), b.conv(m, x, d.out(m + ".weight", c[1]), c[2], c[3], c[4], true),
                    Op.Activation.RELU);
            if (c[0] <= 3 || c[0] == 10) {
                x = b.maxPool("features." + (c[0] + 2), x, 3, 2, 0);
            }
        }
        x = b.adaptiveAvgPool("avgpool", x, 6);
        x = b.flatten("flatten", x, 36);
        x = b.dropout("classifier.0", x, DROPOUT);
        x = b.act("classifier.2", b.linear("classifier.1", x, d.out("classifier.1.weight", 4096), true), Op.Activation.RELU);
        x = b.dropout("classifier.3", x, DROPOUT);
        x = b.act("classifier.5", b.linear("classifier.4", x, d.out("classifier.4.weight", 4096), true), Op.Activation.RELU);
        x = b.linear("classifier.6", x, d.outExact("classifier.6.weight", o.numClasses()), true);
        return new Architecture("alexnet", b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    private static Architecture squeezenet(String name, GraphBuilder b, Dims d, ModelOptions o, String x) {
        boolean v10 = name.equals("squeezenet1_0");
        long kernel = v10 ? 7 : 3;
        x = b.conv("features.0", x, d.out("features.0.weight", v10 ? 96 : 64), kernel, 2, 0, true);
        x = b.maxPool("features.2", b.act("features.1", x, Op.Activation.RELU), 3, 2, 0, true);
        int[][] table = SQUEEZE.get(name);
        for (int i = 0; i < table.length; i++) {
            String m = "features." + (FIRST_FIRE + i);
            boolean fire = d.fromCheckpoint() ? d.has(m + ".squeeze.weight", false) : table[i] != null;
            if (!fire) {
                x = b.maxPool(m, x, 3, 2, 0, true);
                continue;
            }
            int[] w = table[i] == null ? new int[] {0, 0} : table[i];
            String s = b.act(m + ".squeeze_activation", b.conv(m + ".squeeze", x, d.out(m + ".squeeze.weight", w[0]), 1, 1,
                    0, true), Op.Activation.RELU);
            String e1 = b.act(m + ".expand1x1_activation", b.conv(m + ".expand1x1", s, d.out(m + ".expand1x1.weight", w[1]),
                    1, 1, 0, true), Op.Activation.RELU);
            String e3 = b.act(m + ".expand3x3_activation", b.conv(m + ".expand3x3", s, d.out(m + ".expand3x3.weight", w[1]),
                    3, 1, 1, true), Op.Activation.RELU);
            x = b.concat(m + ".cat", List.of(e1, e3), 1, true);
        }
        x = b.dropout("classifier.0", x, DROPOUT);
        x = b.act("classifier.2", b.conv("classifier.1", x, d.outExact("classifier.1.weight", o.numClasses()), 1, 1, 0,
                true), Op.Activation.RELU);
        x = b.adaptiveAvgPool("classifier.3", x, 1);
        x = b.flatten("flatten", x, 1);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }
}
