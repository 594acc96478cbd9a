package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's ConvNeXts (convnext_tiny, _small, _base, _large) with their module paths: the stem {@code features.0}
 * (4x4 stride-4 conv with bias, LayerNorm2d), four stages {@code features.1, 3, 5, 7} of blocks, a downsampling
 * {@code features.2, 4, 6} between them (LayerNorm2d, 2x2 stride-2 conv with bias), adaptive average pooling and the
 * head {@code classifier} (LayerNorm2d, flatten, Linear). A block {@code features.S.I}: {@code block.0} 7x7 depthwise
 * conv with bias, then on each pixel's channels {@code block.2} LayerNorm, {@code block.3} Linear to 4 C, GELU,
 * {@code block.5} Linear back to C, times {@code layer_scale} [C, 1, 1], plus the block's input (stochastic depth is
 * the identity in eval mode). LayerNorm2d and the Linear layers work on the channels of the image
 * ({@link Op#CHANNELS_FIRST}), as torchvision's permutes to channels last do; the layer scale is a
 * {@link Op#CHANNELWISE} product. Every norm's eps is 1e-6.
 *
 * <p>What moves: each stage's channels are one space through its blocks (the residual sum ties them), from the conv that
 * opens the stage (the stem's, a downsampling's) to the norm and conv that close it; inside each block its 4 C hidden
 * units. A checkpoint of other widths or depths is read as {@code convnext}, its sizes off its tensors.
 */
final class ConvNeXtFamily implements Family {
    private static final double EPS = 1e-6;
    /** torchvision's initial layer scale. */
    private static final double LAYER_SCALE = 1e-6;
    private static final int STAGES = 4;
    private static final long EXPANSION = 4;
    /** The widths of the four stages and their depths, per named size (torchvision's table). */
    private static final Map<String, long[][]> SIZES = Map.of(
            "convnext_tiny", new long[][] {{96, 192, 384, 768}, {3, 3, 9, 3}},
            "convnext_small", new long[][] {{96, 192, 384, 768}, {3, 3, 27, 3}},
            "convnext_base", new long[][] {{128, 256, 512, 1024}, {3, 3, 27, 3}},
            "convnext_large", new long[][] {{192, 384, 768, 1536}, {3, 3, 27, 3}});
    /** A checkpoint whose sizes are none of the table's. */
    private static final String ANY = "convnext";

    @Override
    public List<String> names() {
        return List.of("convnext_tiny", "convnext_small", "convnext_base", "convnext_large", ANY);
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("features.0.0.weight") || !s.containsKey("features.1.0.layer_scale")
                || !s.containsKey("features.1.0.block.3.weight") || !s.containsKey("classifier.2.weight")) {
            return null;
        }
        for (Map.Entry<String, long[][]> e : SIZES.entrySet()) {
            if (matches(s, e.getValue())) {
                return e.getKey();
            }
        }
        return ANY;
    }

    /** Whether the checkpoint has exactly these stage widths and depths. */
    private static boolean matches(Map<String, long[]> s, long[][] size) {
        for (int stage = 0; stage < STAGES; stage++) {
            String p = "features." + (2 * stage + 1) + ".";
            long[] w = s.get(p + "0.layer_scale");
            if (w == null || w[0] != size[0][stage] || !s.containsKey(p + (size[1][stage] - 1) + ".layer_scale")
                    || s.containsKey(p + size[1][stage] + ".layer_scale")) {
                return false;
            }
        }
        return !s.containsKey("features." + (2 * STAGES + 1) + ".0.layer_scale");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "classifier.2.weight", "features.0.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        if (!names().contains(name)) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown network '" + name + "'; known: " + names());
        }
        if (name.equals(ANY) && !d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, ANY + " names a checkpoint's own sizes: pass the "
                    + "checkpoint, or build one of " + names().subList(0, names().size() - 1));
        }
        long[][] size = SIZES.get(name); // null for a checkpoint's own sizes
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        x = b.conv("features.0.0", x, d.out("features.0.0.weight", size == null ? 0 : size[0][0]), 4, 4, 0, true);
        x = b.layerNormOnChannels("features.0.1", x, EPS);
        for (int stage = 0; stage < STAGES; stage++) {
            int f = 2 * stage + 1;
            if (stage > 0) {
                String down = "features." + (f - 1);
                x = b.layerNormOnChannels(down + ".0", x, EPS);
                x = b.conv(down + ".1", x, d.out(down + ".1.weight", size == null ? 0 : size[0][stage]), 2, 2, 0, true);
            }
            long depth = size == null ? 0 : size[1][stage];
            for (int i = 0; d.fromCheckpoint() ? d.has("features." + f + "." + i + ".layer_scale", false) : i < depth; i++) {
                x = block(b, "features." + f + "." + i, x, d);
            }
        }
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.layerNormOnChannels("classifier.0", x, EPS);
        x = b.flatten("classifier.1", x, 1);
        x = b.linear("classifier.2", x, d.outExact("classifier.2.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** One block ({@code p}: "features.3.1"). */
    private static String block(GraphBuilder b, String p, String x, Dims d) {
        long c = b.width(x);
        b.tensor(p + ".layer_scale", c, 1, 1); // the block's own parameter comes first in its state dict
        String y = b.conv(p + ".block.0", x, c, new long[] {7, 7}, 1, 3, 1, c, true);
        y = b.layerNormOnChannels(p + ".block.2", y, EPS);
        y = b.linearOnChannels(p + ".block.3", y, d.outExact(p + ".block.3.weight", EXPANSION * c), true);
        y = b.act(p + ".block.4", y, Op.Activation.GELU);
        y = b.linearOnChannels(p + ".block.5", y, c, true);
        y = b.scaleChannels(p + ".layer_scale", y, p + ".layer_scale", LAYER_SCALE);
        return b.add(p + ".add", y, x);
    }
}
