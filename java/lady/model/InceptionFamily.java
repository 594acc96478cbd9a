package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's GoogLeNet and Inception v3 with their module paths. Every convolution is a BasicConv2d ({@code .conv}
 * without bias, {@code .bn} with eps 1e-3, ReLU); each inception module concatenates its branches on the channels.
 * <ul>
 *   <li><b>googlenet</b>: conv1 (7x7 stride 2), max pool, conv2 (1x1), conv3 (3x3), max pool, inception3a/3b, max pool,
 *       inception4a..4e, max pool (2x2), inception5a/5b (branch1 1x1; branch2 1x1 then 3x3; branch3 1x1 then 3x3, as
 *       torchvision has it; branch4 a 3x3 stride-1 max pool then 1x1), adaptive average pooling, dropout, {@code fc}. Max
 *       pools in ceil mode. With {@code aux1} / {@code aux2} (after inception4a / 4d: adaptive average pooling to 4x4,
 *       {@code conv} 1x1 to 128, flatten, {@code fc1} with ReLU, dropout, {@code fc2}) their logits are outputs
 *       {@code aux1} and {@code aux2}, after the main logits.</li>
 *   <li><b>inception_v3</b>: Conv2d_1a..4a and two max pools, Mixed_5b..5d (InceptionA), Mixed_6a (InceptionB),
 *       Mixed_6b..6e (InceptionC, with 1x7 and 7x1 convolutions), Mixed_7a (InceptionD), Mixed_7b/7c (InceptionE, whose
 *       3x3 branches split into 1x3 and 3x1 halves concatenated), adaptive average pooling, dropout, {@code fc}; with
 *       {@code AuxLogits} (after Mixed_6e: 5x5 stride-3 average pooling, conv0 1x1, conv1 5x5, adaptive average pooling,
 *       {@code fc}) its logits are the output {@code aux}. Images of at least 75 pixels (299 with the auxiliary head);
 *       299 by default.</li>
 * </ul>
 * The input transform of torchvision's pretrained weights ({@code transform_input}, a fixed affine map of each color
 * channel, which the state dict does not record) is not applied: Lady's outputs are those of the network on the
 * transformed image. A checkpoint gives every width.
 */
final class InceptionFamily implements Family {
    private static final double BN_EPS = 1e-3;
    private static final double BN_MOMENTUM = 0.1;
    private static final long INCEPTION_SIZE = 299;
    private static final long GOOGLENET_SIZE = 224;
    /** GoogLeNet's inception modules: name, then the widths 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection. */
    private static final Object[][] GOOGLENET = {
        {"inception3a", 64, 96, 128, 16, 32, 32}, {"inception3b", 128, 128, 192, 32, 96, 64}, {"maxpool3"},
        {"inception4a", 192, 96, 208, 16, 48, 64}, {"inception4b", 160, 112, 224, 24, 64, 64},
        {"inception4c", 128, 128, 256, 24, 64, 64}, {"inception4d", 112, 144, 288, 32, 64, 64},
        {"inception4e", 256, 160, 320, 32, 128, 128}, {"maxpool4"},
        {"inception5a", 256, 160, 320, 32, 128, 128}, {"inception5b", 384, 192, 384, 48, 128, 128}};

    @Override
    public List<String> names() {
        return List.of("googlenet", "inception_v3");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (s.containsKey("conv1.conv.weight") && s.containsKey("inception3a.branch1.conv.weight") && s.containsKey("fc.weight")) {
            return "googlenet";
        }
        if (s.containsKey("Conv2d_1a_3x3.conv.weight") && s.containsKey("Mixed_5b.branch1x1.conv.weight")
                && s.containsKey("fc.weight")) {
            return "inception_v3";
        }
        return null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        ModelOptions o = Family.options(s, "fc.weight", name.equals("googlenet") ? "conv1.conv.weight"
                : "Conv2d_1a_3x3.conv.weight");
        return o.withInput(o.inputChannels(), (int) (name.equals("googlenet") ? GOOGLENET_SIZE : INCEPTION_SIZE));
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        List<String> outputs = new ArrayList<>();
        x = name.equals("googlenet") ? googlenet(b, d, x, outputs, o) : inceptionV3(b, d, x, outputs, o);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.dropout("dropout", x, name.equals("googlenet") ? 0.2 : 0.5);
        x = b.flatten("flatten", x, 1);
        outputs.add(0, b.linear("fc", x, d.outExact("fc.weight", o.numClasses()), true));
        return new Architecture(name, b.build(outputs.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** BasicConv2d {@code m}: conv without bias ({@code kernel}, {@code stride}, {@code padding} per axis), BN, ReLU. */
    private static String basic(GraphBuilder b, Dims d, String m, String x, long out, long[] kernel, long stride,
            long[] padding) {
        String y = b.conv(m + ".conv", x, d.out(m + ".conv.weight", out), kernel, new long[] {stride, stride}, padding, 1, 1,
                false);
        return b.act(m + ".relu", b.batchNorm(m + ".bn", y, BN_EPS, BN_MOMENTUM), Op.Activation.RELU);
    }

    /** A square BasicConv2d. */
    private static String basic(GraphBuilder b, Dims d, String m, String x, long out, long k, long stride, long padding) {
        return basic(b, d, m, x, out, new long[] {k, k}, stride, new long[] {padding, padding});
    }

    private static String googlenet(GraphBuilder b, Dims d, String x, List<String> outputs, ModelOptions o) {
        x = basic(b, d, "conv1", x, 64, 7, 2, 3);
        x = b.maxPool("maxpool1", x, 3, 2, 0, true);
        x = basic(b, d, "conv2", x, 64, 1, 1, 0);
        x = basic(b, d, "conv3", x, 192, 3, 1, 1);
        x = b.maxPool("maxpool2", x, 3, 2, 0, true);
        Map<String, String> taps = new java.util.HashMap<>();
        for (Object[] row : GOOGLENET) {
            String m = (String) row[0];
            if (row.length == 1) {
                x = m.equals("maxpool4") ? b.maxPool(m, x, 2, 2, 0, true) : b.maxPool(m, x, 3, 2, 0, true);
                continue;
            }
            String b1 = basic(b, d, m + ".branch1", x, (int) row[1], 1, 1, 0);
            String b2 = basic(b, d, m + ".branch2.1", basic(b, d, m + ".branch2.0", x, (int) row[2], 1, 1, 0), (int) row[3],
                    3, 1, 1);
            String b3 = basic(b, d, m + ".branch3.1", basic(b, d, m + ".branch3.0", x, (int) row[4], 1, 1, 0), (int) row[5],
                    3, 1, 1);
            String b4 = basic(b, d, m + ".branch4.1", b.maxPool(m + ".branch4.0", x, 3, 1, 1, true), (int) row[6], 1, 1, 0);
            x = b.concat(m + ".cat", List.of(b1, b2, b3, b4), 1, true);
            taps.put(m, x);
        }
        // the auxiliary heads read inception4a's and 4d's outputs; built last, as the state dict lists them
        for (String[] aux : new String[][] {{"aux1", "inception4a"}, {"aux2", "inception4d"}}) {
            if (d.has(aux[0] + ".fc2.weight", true)) {
                String p = aux[0];
                String a = b.adaptiveAvgPool(p + ".pool", taps.get(aux[1]), 4);
                a = b.flatten(p + ".flatten", basic(b, d, p + ".conv", a, 128, 1, 1, 0), 16);
                a = b.act(p + ".relu", b.linear(p + ".fc1", a, d.out(p + ".fc1.weight", 1024), true), Op.Activation.RELU);
                a = b.dropout(p + ".dropout", a, 0.7);
                outputs.add(b.linear(p + ".fc2", a, d.outExact(p + ".fc2.weight", o.numClasses()), true));
            }
        }
        return x;
    }

    private static final long[] K1X7 = {1, 7};
    private static final long[] K7X1 = {7, 1};
    private static final long[] P0X3 = {0, 3};
    private static final long[] P3X0 = {3, 0};
    private static final long[] K1X3 = {1, 3};
    private static final long[] K3X1 = {3, 1};
    private static final long[] P0X1 = {0, 1};
    private static final long[] P1X0 = {1, 0};

    private static String inceptionV3(GraphBuilder b, Dims d, String x, List<String> outputs, ModelOptions o) {
        x = basic(b, d, "Conv2d_1a_3x3", x, 32, 3, 2, 0);
        x = basic(b, d, "Conv2d_2a_3x3", x, 32, 3, 1, 0);
        x = basic(b, d, "Conv2d_2b_3x3", x, 64, 3, 1, 1);
        x = b.maxPool("maxpool1", x, 3, 2, 0);
        x = basic(b, d, "Conv2d_3b_1x1", x, 80, 1, 1, 0);
        x = basic(b, d, "Conv2d_4a_3x3", x, 192, 3, 1, 0);
        x = b.maxPool("maxpool2", x, 3, 2, 0);
        x = inceptionA(b, d, "Mixed_5b", x, 32);
        x = inceptionA(b, d, "Mixed_5c", x, 64);
        x = inceptionA(b, d, "Mixed_5d", x, 64);
        x = inceptionB(b, d, "Mixed_6a", x);
        x = inceptionC(b, d, "Mixed_6b", x, 128);
        x = inceptionC(b, d, "Mixed_6c", x, 160);
        x = inceptionC(b, d, "Mixed_6d", x, 160);
        x = inceptionC(b, d, "Mixed_6e", x, 192);
        if (d.has("AuxLogits.fc.weight", true)) {
            String a = b.avgPool("AuxLogits.pool", x, 5, 3, 0);
            a = basic(b, d, "AuxLogits.conv0", a, 128, 1, 1, 0);
            a = basic(b, d, "AuxLogits.conv1", a, 768, 5, 1, 0);
            a = b.flatten("AuxLogits.flatten", b.adaptiveAvgPool("AuxLogits.avgpool", a, 1), 1);
            outputs.add(b.linear("AuxLogits.fc", a, d.outExact("AuxLogits.fc.weight", o.numClasses()), true));
        }
        x = inceptionD(b, d, "Mixed_7a", x);
        x = inceptionE(b, d, "Mixed_7b", x);
        return inceptionE(b, d, "Mixed_7c", x);
    }

    private static String inceptionA(GraphBuilder b, Dims d, String m, String x, long pool) {
        String b1 = basic(b, d, m + ".branch1x1", x, 64, 1, 1, 0);
        String b5 = basic(b, d, m + ".branch5x5_2", basic(b, d, m + ".branch5x5_1", x, 48, 1, 1, 0), 64, 5, 1, 2);
        String b3 = basic(b, d, m + ".branch3x3dbl_1", x, 64, 1, 1, 0);
        b3 = basic(b, d, m + ".branch3x3dbl_3", basic(b, d, m + ".branch3x3dbl_2", b3, 96, 3, 1, 1), 96, 3, 1, 1);
        String bp = basic(b, d, m + ".branch_pool", b.avgPool(m + ".avg_pool", x, 3, 1, 1), pool, 1, 1, 0);
        return b.concat(m + ".cat", List.of(b1, b5, b3, bp), 1, true);
    }

    private static String inceptionB(GraphBuilder b, Dims d, String m, String x) {
        String b3 = basic(b, d, m + ".branch3x3", x, 384, 3, 2, 0);
        String db = basic(b, d, m + ".branch3x3dbl_1", x, 64, 1, 1, 0);
        db = basic(b, d, m + ".branch3x3dbl_3", basic(b, d, m + ".branch3x3dbl_2", db, 96, 3, 1, 1), 96, 3, 2, 0);
        String bp = b.maxPool(m + ".max_pool", x, 3, 2, 0);
        return b.concat(m + ".cat", List.of(b3, db, bp), 1, true);
    }

    private static String inceptionC(GraphBuilder b, Dims d, String m, String x, long c7) {
        String b1 = basic(b, d, m + ".branch1x1", x, 192, 1, 1, 0);
        String b7 = basic(b, d, m + ".branch7x7_1", x, c7, 1, 1, 0);
        b7 = basic(b, d, m + ".branch7x7_2", b7, c7, K1X7, 1, P0X3);
        b7 = basic(b, d, m + ".branch7x7_3", b7, 192, K7X1, 1, P3X0);
        String db = basic(b, d, m + ".branch7x7dbl_1", x, c7, 1, 1, 0);
        db = basic(b, d, m + ".branch7x7dbl_2", db, c7, K7X1, 1, P3X0);
        db = basic(b, d, m + ".branch7x7dbl_3", db, c7, K1X7, 1, P0X3);
        db = basic(b, d, m + ".branch7x7dbl_4", db, c7, K7X1, 1, P3X0);
        db = basic(b, d, m + ".branch7x7dbl_5", db, 192, K1X7, 1, P0X3);
        String bp = basic(b, d, m + ".branch_pool", b.avgPool(m + ".avg_pool", x, 3, 1, 1), 192, 1, 1, 0);
        return b.concat(m + ".cat", List.of(b1, b7, db, bp), 1, true);
    }

    private static String inceptionD(GraphBuilder b, Dims d, String m, String x) {
        String b3 = basic(b, d, m + ".branch3x3_2", basic(b, d, m + ".branch3x3_1", x, 192, 1, 1, 0), 320, 3, 2, 0);
        String b7 = basic(b, d, m + ".branch7x7x3_1", x, 192, 1, 1, 0);
        b7 = basic(b, d, m + ".branch7x7x3_2", b7, 192, K1X7, 1, P0X3);
        b7 = basic(b, d, m + ".branch7x7x3_3", b7, 192, K7X1, 1, P3X0);
        b7 = basic(b, d, m + ".branch7x7x3_4", b7, 192, 3, 2, 0);
        String bp = b.maxPool(m + ".max_pool", x, 3, 2, 0);
        return b.concat(m + ".cat", List.of(b3, b7, bp), 1, true);
    }

    private static String inceptionE(GraphBuilder b, Dims d, String m, String x) {
        String b1 = basic(b, d, m + ".branch1x1", x, 320, 1, 1, 0);
        String b3 = basic(b, d, m + ".branch3x3_1", x, 384, 1, 1, 0);
        b3 = b.concat(m + ".cat3x3", List.of(basic(b, d, m + ".branch3x3_2a", b3, 384, K1X3, 1, P0X1),
                basic(b, d, m + ".branch3x3_2b", b3, 384, K3X1, 1, P1X0)), 1, true);
        String db = basic(b, d, m + ".branch3x3dbl_1", x, 448, 1, 1, 0);
        db = basic(b, d, m + ".branch3x3dbl_2", db, 384, 3, 1, 1);
        db = b.concat(m + ".cat3x3dbl", List.of(basic(b, d, m + ".branch3x3dbl_3a", db, 384, K1X3, 1, P0X1),
                basic(b, d, m + ".branch3x3dbl_3b", db, 384, K3X1, 1, P1X0)), 1, true);
        String bp = basic(b, d, m + ".branch_pool", b.avgPool(m + ".avg_pool", x, 3, 1, 1), 192, 1, 1, 0);
        return b.concat(m + ".cat", List.of(b1, b3, db, bp), 1, true);
    }
}
