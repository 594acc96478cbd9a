package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's MaxViT ({@code maxvit_t}; {@code maxvit} for a checkpoint of other sizes) with its module paths: the
 * stem {@code stem.0} (3x3 stride-2 conv, batch norm, GELU) and {@code stem.1.0} (3x3 conv with bias), blocks
 * {@code blocks.B} of layers {@code blocks.B.layers.L.layers}, each an {@code MBconv}, a {@code window_attention} and a
 * {@code grid_attention}, and the head {@code classifier} (average pooling, LayerNorm {@code classifier.2}, Linear
 * {@code classifier.3} with tanh, Linear {@code classifier.5} without bias).
 * <ul>
 *   <li>MBconv: {@code layers.pre_norm} (batch norm of the input), {@code conv_a} (1x1, batch norm, GELU),
 *       {@code conv_b} (3x3 depthwise, the layer's stride, batch norm, GELU), {@code squeeze_excitation} ({@code fc1}
 *       with SiLU, {@code fc2} with sigmoid), {@code conv_c} (1x1 with bias), plus the shortcut: {@code proj} (a 3x3
 *       stride-2 average pool counting its padding, then a 1x1 conv with bias {@code proj.1}; {@code proj.0} without
 *       the pool at stride 1) where the layer changes the width or the size, the input itself otherwise. Batch norms
 *       eps 1e-3.</li>
 *   <li>The attention layers: LayerNorm {@code attn_layer.0}, the attention {@code attn_layer.1} over windows of
 *       {@code P x P} neighbouring pixels, or over a {@code P x P} grid of pixels H / P apart
 *       ({@link GraphBuilder#partitionAttention}; P from the bias table), the residual sum; LayerNorm
 *       {@code mlp_layer.0}, Linear {@code mlp_layer.1}, GELU, Linear {@code mlp_layer.3}, the residual sum (on the
 *       channels of the image, {@link Op#CHANNELS_FIRST}). LayerNorm eps 1e-5.</li>
 * </ul>
 *
 * <p>What moves: the stem's channels; each block's channels, one space from its first layer's {@code conv_c} and
 * shortcut conv to the next block's first layer (its pre-norm, {@code conv_a}'s and the shortcut's columns) or the
 * head; in every MBconv its expanded channels (with the squeeze-excitation's gate) and its squeeze units; in every
 * attention layer the heads (q, k, v rows, {@code merge}'s columns, the bias table's columns), inside each head its q
 * and k dimensions alike and its v dimensions with {@code merge}'s columns, and the MLP's hidden units; the head's
 * hidden units.
 *
 * <p>The network needs an input whose every block's size the partition divides: torchvision's maxvit_t takes 224 x 224
 * images; a checkpoint of other sizes is read with the smallest input its blocks allow (P 2^(blocks + 1)).
 */
final class MaxVitFamily implements Family {
    private static final double BN_EPS = 1e-3;
    /** torchvision's batch-norm momentum for MaxViT (PyTorch's convention: the new batch's weight). */
    private static final double BN_MOMENTUM = 0.99;
    private static final double LN_EPS = 1e-5;
    private static final String T = "maxvit_t";
    /** A checkpoint whose sizes are not maxvit_t's. */
    private static final String ANY = "maxvit";
    /** maxvit_t: the stem's width, the blocks' widths and layers, a head's width, the partition's side, the input. */
    private static final long STEM = 64;
    private static final long[] WIDTHS = {64, 128, 256, 512};
    private static final int[] LAYERS = {2, 2, 5, 2};
    private static final long HEAD_DIM = 32;
    private static final long PARTITION = 7;
    private static final int T_INPUT = 224;
    /** The expanded width is the block's times this (the MLP's hidden width too: Swin's ratio); the squeeze's, the block's over this. */
    private static final long RATIO = 4;

    @Override
    public List<String> names() {
        return List.of(T, ANY);
    }

    private static String layer(int block, int layer) {
        return "blocks." + block + ".layers." + layer + ".layers.";
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("stem.0.0.weight") || !s.containsKey(layer(0, 0) + "MBconv.layers.conv_a.0.weight")
                || !s.containsKey(layer(0, 0) + "grid_attention.attn_layer.1.to_qkv.weight")
                || !s.containsKey("classifier.5.weight")) {
            return null;
        }
        boolean t = Family.dim(s, "stem.0.0.weight", 0, 0) == STEM && blocks(s) == WIDTHS.length;
        for (int i = 0; t && i < WIDTHS.length; i++) {
            t = Family.dim(s, layer(i, 0) + "MBconv.layers.conv_c.weight", 0, 0) == WIDTHS[i]
                    && s.containsKey(layer(i, LAYERS[i] - 1) + "MBconv.layers.conv_c.weight")
                    && !s.containsKey(layer(i, LAYERS[i]) + "MBconv.layers.conv_c.weight")
                    && Family.dim(s, table(i, 0, "window"), 1, 0) == WIDTHS[i] / HEAD_DIM
                    && Family.dim(s, table(i, 0, "window"), 0, 0) == (2 * PARTITION - 1) * (2 * PARTITION - 1);
        }
        return t ? T : ANY;
    }

    private static String table(int block, int layer, String kind) {
        return layer(block, layer) + kind + "_attention.attn_layer.1.relative_position_bias_table";
    }

    /** The number of blocks of a checkpoint. */
    private static int blocks(Map<String, long[]> s) {
        int n = 0;
        while (s.containsKey(layer(n, 0) + "MBconv.layers.conv_c.weight")) {
            n++;
        }
        return n;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        ModelOptions o = Family.options(s, "classifier.5.weight", "stem.0.0.weight");
        if (name.equals(T)) {
            return o.withInput(o.inputChannels(), T_INPUT);
        }
        long p = partition(Family.dim(s, table(0, 0, "window"), 0, 0), table(0, 0, "window"));
        return o.withInput(o.inputChannels(), Math.toIntExact(p << (blocks(s) + 1)));
    }

    /** The side of a partition whose bias table has {@code rows} rows ((2 P - 1)^2). */
    private static long partition(long rows, String table) {
        long side = Math.round(Math.sqrt((double) rows));
        if (side * side != rows || side % 2 == 0) {
            throw LadyException.invalidInput(table + " has " + rows + " rows, not (2 P - 1)^2 for a square partition of P "
                    + "pixels; Lady reads MaxViT checkpoints with square partitions");
        }
        return (side + 1) / 2;
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        if (name.equals(ANY) && !d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, ANY + " names a checkpoint's own sizes: pass the "
                    + "checkpoint, or build " + T);
        }
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        long stem = d.out("stem.0.0.weight", STEM);
        x = MobileNetV3Family.convBnAct(b, "stem.0", x, stem, 3, 2, 1, Op.Activation.GELU, BN_EPS, BN_MOMENTUM);
        x = b.conv("stem.1.0", x, stem, 3, 1, 1, true);
        for (int i = 0; d.fromCheckpoint() ? d.has(layer(i, 0) + "MBconv.layers.conv_c.weight", false)
                : i < WIDTHS.length; i++) {
            long width = d.out(layer(i, 0) + "MBconv.layers.conv_c.weight", WIDTHS[i]);
            for (int j = 0; d.fromCheckpoint() ? d.has(layer(i, j) + "MBconv.layers.conv_c.weight", false)
                    : j < LAYERS[i]; j++) {
                String p = layer(i, j);
                x = mbConv(b, d, p + "MBconv", x, width, j == 0 ? 2 : 1);
                for (String kind : List.of("window", "grid")) {
                    x = attentionLayer(b, d, p + kind + "_attention", x, kind.equals("grid"));
                }
            }
        }
        x = b.adaptiveAvgPool("classifier.0", x, 1);
        x = b.flatten("classifier.1", x, 1);
        x = b.layerNorm("classifier.2", x, LN_EPS);
        x = b.act("classifier.4", b.linear("classifier.3", x, d.outExact("classifier.3.weight", b.width(x)), true),
                Op.Activation.TANH);
        x = b.linear("classifier.5", x, d.outExact("classifier.5.weight", o.numClasses()), false);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** MaxViT's MBConv ({@code module}: "blocks.0.layers.0.layers.MBconv") to {@code out} channels. */
    private static String mbConv(GraphBuilder b, Dims d, String module, String x, long out, int stride) {
        long in = b.width(x);
        String shortcut = x;
        if (stride != 1 || in != out) { // declared first, as the state dict lists it
            String conv = module + ".proj." + (stride == 2 ? 1 : 0);
            if (stride == 2) {
                shortcut = b.avgPool(module + ".proj.0", shortcut, 3, 2, 1);
            }
            shortcut = b.conv(conv, shortcut, out, 1, 1, 0, true);
        }
        String p = module + ".layers.";
        String y = b.batchNorm(p + "pre_norm", x, BN_EPS, BN_MOMENTUM);
        y = MobileNetV3Family.convBnAct(b, p + "conv_a", y, d.outExact(p + "conv_a.0.weight", RATIO * out), 1, 1, 1,
                Op.Activation.GELU, BN_EPS, BN_MOMENTUM);
        long mid = b.width(y);
        y = MobileNetV3Family.convBnAct(b, p + "conv_b", y, mid, 3, stride, mid, Op.Activation.GELU, BN_EPS, BN_MOMENTUM);
        String se = p + "squeeze_excitation";
        y = b.squeezeExcitation(se, y, d.outExact(se + ".fc1.weight", out / RATIO), Op.Activation.SILU,
                Op.Activation.SIGMOID);
        y = b.conv(p + "conv_c", y, out, 1, 1, 0, true);
        return b.add(module + ".add", shortcut, y);
    }

    /** Where MaxViT keeps a PartitionAttentionLayer's norms and MLP. */
    private static final SwinFamily.BlockNames NAMES = new SwinFamily.BlockNames("attn_layer.0", "mlp_layer.0",
            "mlp_layer.1", "mlp_layer.2", "mlp_layer.3");

    /** A PartitionAttentionLayer ({@code module}: "blocks.0.layers.0.layers.window_attention"): a Swin V1 block. */
    private static String attentionLayer(GraphBuilder b, Dims d, String module, String x, boolean grid) {
        String table = module + ".attn_layer.1.relative_position_bias_table";
        long heads = d.size(table, 1, b.width(x) / HEAD_DIM);
        long p = d.fromCheckpoint() ? partition(d.size(table, 0, 0), table) : PARTITION;
        return SwinFamily.block(b, d, module, NAMES, x, false, y -> b.partitionAttention(module + ".attn_layer.1", y, heads,
                p, grid), LN_EPS);
    }
}
