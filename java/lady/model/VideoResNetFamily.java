package lady.model;

import java.util.List;
import java.util.Map;

import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's video ResNets ({@code torchvision.models.video.VideoResNet}), which read clips {@code N x 3 x T x H x W}:
 * <ul>
 * <li><b>r3d_18</b>: 3-D convolutions throughout: the stem {@code stem.0} (3x7x7, stride 1x2x2), every block's two
 *     3x3x3 convolutions;</li>
 * <li><b>mc3_18</b>: r3d's first stage, then convolutions of one frame (1x3x3, stride 1 in time);</li>
 * <li><b>r2plus1d_18</b>: each convolution split into a spatial one (1x3x3) and a temporal one (3x1x1) with a batch
 *     norm and a ReLU between them, whose midplanes (45 in the stem, {@code in * out * 27 / (9 in + 3 out)} in both
 *     of a block's, {@code in} and {@code out} the block's widths) are a group of their own.</li>
 * </ul>
 * Four stages {@code layer1..4} of basic blocks ({@code convK.0} the convolution, {@code convK.1} its batch norm; the sum
 * with the input, or with {@code downsample} (1x1x1, the block's stride) where the widths or sizes differ), each stage's
 * first block striding by 2 in space, and in time where its convolutions have a temporal extent; then the clip's mean
 * and {@code fc}. A checkpoint gives every kernel, width and block; the variants are told apart by their kernels.
 * Lady's forward and {@code --verify} read clips of {@link PermutationCheck#VIDEO_FRAMES} frames.
 */
final class VideoResNetFamily implements Family {
    private static final String R3D = "r3d_18";
    private static final String MC3 = "mc3_18";
    private static final String R2PLUS1D = "r2plus1d_18";
    private static final int STAGES = 4;
    private static final int BLOCKS = 2;
    private static final long STEM = 64;
    /** The midplanes of r2plus1d's stem (torchvision's R2Plus1dStem). */
    private static final long STEM_MID = 45;
    private static final long[] FULL = {3, 3, 3};
    private static final long[] SPATIAL = {1, 3, 3};
    private static final long[] TEMPORAL = {3, 1, 1};

    @Override
    public List<String> names() {
        return List.of(R3D, MC3, R2PLUS1D);
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        long[] stem = s.get("stem.0.weight");
        if (stem == null || stem.length != 5 || !s.containsKey("fc.weight")) {
            return null;
        }
        if (s.containsKey("layer1.0.conv1.0.0.weight") && s.containsKey("stem.3.weight")) {
            return R2PLUS1D;
        }
        long[] later = s.get("layer2.0.conv1.0.weight");
        if (!s.containsKey("layer1.0.conv1.0.weight") || later == null || later.length != 5) {
            return null;
        }
        return later[2] == 1 ? MC3 : R3D;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "fc.weight", "stem.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.video("input", o.inputChannels(), o.inputSize());
        long stem = Math.max(1, Math.round(STEM * o.width()));
        if (name.equals(R2PLUS1D)) {
            x = unit(b, d, "stem.0", x, STEM_MID, new long[] {1, 7, 7}, new long[] {1, 2, 2});
            x = b.act("stem.2", b.batchNorm("stem.1", x), Op.Activation.RELU);
            x = unit(b, d, "stem.3", x, d.out("stem.3.weight", stem), TEMPORAL, new long[] {1, 1, 1});
            x = b.act("stem.5", b.batchNorm("stem.4", x), Op.Activation.RELU);
        } else {
            x = unit(b, d, "stem.0", x, d.out("stem.0.weight", stem), new long[] {3, 7, 7}, new long[] {1, 2, 2});
            x = b.act("stem.2", b.batchNorm("stem.1", x), Op.Activation.RELU);
        }
        for (int stage = 1; stage <= STAGES; stage++) {
            long planes = stem << (stage - 1);
            String p = "layer" + stage + ".";
            long[] kernel = name.equals(MC3) && stage > 1 ? SPATIAL : FULL; // (a new model's; else the checkpoint's)
            for (int i = 0; d.fromCheckpoint() ? d.has(p + i + ".conv1.0." + (name.equals(R2PLUS1D) ? "0." : "")
                    + "weight", false) : i < BLOCKS; i++) {
                x = block(b, d, name.equals(R2PLUS1D), p + i, x, planes, i == 0 && stage > 1 ? 2 : 1, kernel);
            }
        }
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("fc", x, d.outExact("fc.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /**
     * One basic block ({@code p}: "layer2.0") of {@code planes} channels whose first convolution strides by {@code s}:
     * R(2+1)D's ({@code twoPlusOne}: {@link #factored}), or of 3-D convolutions of {@code kernel} (a new model's; a
     * checkpoint's own).
     */
    private static String block(GraphBuilder b, Dims d, boolean twoPlusOne, String p, String x, long planes, long s,
            long[] kernel) {
        long in = b.width(x);
        long out = d.out(p + ".conv2.0" + (twoPlusOne ? ".3" : "") + ".weight", planes);
        String y;
        long temporalStride;
        long mid = in * planes * 27 / (in * 9 + 3 * planes); // (torchvision's, for both factored convolutions)
        if (twoPlusOne) {
            y = factored(b, d, p + ".conv1.0", x, mid, d.out(p + ".conv1.0.3.weight", planes), s);
            temporalStride = s;
        } else {
            long[] k = kernel(d, p + ".conv1.0.weight", kernel);
            temporalStride = k[0] > 1 ? s : 1;
            y = unit(b, d, p + ".conv1.0", x, d.out(p + ".conv1.0.weight", planes), k, new long[] {temporalStride, s, s});
        }
        y = b.act(p + ".conv1.2", b.batchNorm(p + ".conv1.1", y), Op.Activation.RELU);
        y = twoPlusOne ? factored(b, d, p + ".conv2.0", y, mid, out, 1)
                : unit(b, d, p + ".conv2.0", y, out, kernel(d, p + ".conv2.0.weight", kernel), new long[] {1, 1, 1});
        y = b.batchNorm(p + ".conv2.1", y);
        boolean projected = d.fromCheckpoint() ? d.has(p + ".downsample.0.weight", false) : in != out || s != 1;
        String shortcut = x;
        if (projected) {
            shortcut = b.conv3d(p + ".downsample.0", x, d.outExact(p + ".downsample.0.weight", out), new long[] {1, 1, 1},
                    new long[] {temporalStride, s, s}, new long[] {0, 0, 0}, false);
            shortcut = b.batchNorm(p + ".downsample.1", shortcut);
        }
        return b.act(p + ".relu", b.add(p + ".add", y, shortcut), Op.Activation.RELU);
    }

    /**
     * r2plus1d's factored convolution (torchvision's Conv2Plus1D, module {@code m}): a spatial one to its midplanes
     * ({@code m.0}, {@code mid} of a new model; stride {@code s} in space), a batch norm ({@code m.1}), a ReLU, a
     * temporal one ({@code m.3}, stride {@code s} in time).
     */
    private static String factored(GraphBuilder b, Dims d, String m, String x, long mid, long out, long s) {
        String y = unit(b, d, m + ".0", x, d.out(m + ".0.weight", mid), SPATIAL, new long[] {1, s, s});
        y = b.act(m + ".2", b.batchNorm(m + ".1", y), Op.Activation.RELU);
        return unit(b, d, m + ".3", y, out, TEMPORAL, new long[] {s, 1, 1});
    }

    /** A 3-D convolution without bias, its kernel the checkpoint's (else {@code kernel}), padded by half of it. */
    private static String unit(GraphBuilder b, Dims d, String m, String x, long out, long[] kernel, long[] stride) {
        long[] k = kernel(d, m + ".weight", kernel);
        return b.conv3d(m, x, out, k, stride, new long[] {k[0] / 2, k[1] / 2, k[2] / 2}, false);
    }

    /** The kernel of convolution weight {@code w} (its last three sizes) in a checkpoint, else {@code fallback}. */
    private static long[] kernel(Dims d, String w, long[] fallback) {
        if (!d.fromCheckpoint() || !d.has(w, false)) {
            return fallback;
        }
        long[] s = d.shape(w);
        return s.length == 5 ? new long[] {s[2], s[3], s[4]} : fallback;
    }
}
