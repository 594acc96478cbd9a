package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's Swin Transformers (swin_t, swin_s, swin_b; version 1) with their module paths: the patch embedding
 * {@code features.0} (a 4x4 stride-4 conv with bias {@code features.0.0}, LayerNorm {@code features.0.2}), stages
 * {@code features.1, 3, 5, 7} of blocks, a patch merging {@code features.2, 4, 6} between them (each 2x2 patch's four
 * pixels side by side on the channels, (0, 0), (1, 0), (0, 1), (1, 1), the image padded to even sides; LayerNorm
 * {@code norm} of 4 C, {@code reduction} Linear 4 C -> 2 C without bias), the final LayerNorm {@code norm}, adaptive
 * average pooling and {@code head}. A block {@code features.S.I}: {@code norm1}, the shifted-window attention
 * {@code attn} ({@link SwinAttention}: windows of 7, shifted by 3 in odd blocks; {@code qkv}, {@code proj}, the relative
 * position bias table and index), the residual sum, {@code norm2}, {@code mlp.0} Linear to 4 C, GELU, {@code mlp.3}
 * Linear back, the residual sum. The graph holds images {@code N x C x H x W}: its LayerNorms and Linear layers work on the
 * channels ({@link Op#CHANNELS_FIRST}), as torchvision's on its channels-last tensors. LayerNorm eps 1e-5.
 *
 * <p>What moves: each stage's channels are one space through its blocks (the residual sums tie them), from the conv or
 * the patch merging's reduction that opens it to the merging's norm and reduction columns (four times, one run per
 * pixel of the patch) or the final norm and the head that close it; in each block the heads (their q, k and v rows, the
 * projection's columns, the bias table's columns), inside each head its q and k dimensions alike and its v dimensions
 * with the projection's columns, and the MLP's hidden units. The relative position index and the table's rows
 * (positions) stay. A checkpoint of other widths, depths, heads or windows is read as {@code swin}, its sizes off its
 * tensors (square windows). Swin V2 (cosine attention, a position-bias MLP) is not recognized.
 */
final class SwinFamily implements Family {
    private static final double EPS = 1e-5;
    private static final long PATCH = 4;
    private static final long WINDOW = 7;
    private static final long MLP_RATIO = 4;
    /** Per named size: the embedding width, the stages' depths, their heads. */
    private static final Map<String, long[][]> SIZES = Map.of(
            "swin_t", new long[][] {{96}, {2, 2, 6, 2}, {3, 6, 12, 24}},
            "swin_s", new long[][] {{96}, {2, 2, 18, 2}, {3, 6, 12, 24}},
            "swin_b", new long[][] {{128}, {2, 2, 18, 2}, {4, 8, 16, 32}});
    /** A checkpoint whose sizes are none of the table's. */
    private static final String ANY = "swin";

    @Override
    public List<String> names() {
        return List.of("swin_t", "swin_s", "swin_b", ANY);
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("features.0.0.weight") || !s.containsKey("features.1.0.attn.relative_position_bias_table")
                || !s.containsKey("features.1.0.attn.qkv.weight") || !s.containsKey("head.weight")
                || s.containsKey("features.1.0.attn.logit_scale")) {
            return null;
        }
        for (Map.Entry<String, long[][]> e : SIZES.entrySet()) {
            if (matches(s, e.getValue())) {
                return e.getKey();
            }
        }
        return ANY;
    }

    /** Whether the checkpoint has exactly this embedding width, these depths and heads, and windows of 7. */
    private static boolean matches(Map<String, long[]> s, long[][] size) {
        if (Family.dim(s, "features.0.0.weight", 0, 0) != size[0][0]) {
            return false;
        }
        for (int stage = 0; stage < size[1].length; stage++) {
            String p = "features." + (2 * stage + 1) + ".";
            long[] table = s.get(p + "0.attn.relative_position_bias_table");
            if (table == null || table[1] != size[2][stage] || table[0] != (2 * WINDOW - 1) * (2 * WINDOW - 1)
                    || !s.containsKey(p + (size[1][stage] - 1) + ".norm1.weight")
                    || s.containsKey(p + size[1][stage] + ".norm1.weight")) {
                return false;
            }
        }
        return !s.containsKey("features." + (2 * size[1].length + 1) + ".0.norm1.weight");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return Family.options(s, "head.weight", "features.0.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        if (name.equals(ANY) && !d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, ANY + " names a checkpoint's own sizes: pass the "
                    + "checkpoint, or build one of " + names().subList(0, names().size() - 1));
        }
        long[][] size = SIZES.get(name); // null for a checkpoint's own sizes
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        long patch = d.size("features.0.0.weight", 2, PATCH);
        x = b.conv("features.0.0", x, d.out("features.0.0.weight", size == null ? 0 : size[0][0]), patch, patch, 0, true);
        x = b.layerNormOnChannels("features.0.2", x, EPS);
        for (int stage = 0; d.fromCheckpoint() ? d.has("features." + (2 * stage + 1) + ".0.norm1.weight", false)
                : stage < size[1].length; stage++) {
            int f = 2 * stage + 1;
            if (stage > 0) { // patch merging: the four pixels of each 2x2 patch side by side, norm, reduction
                String m = "features." + (f - 1);
                long out = d.outExact(m + ".reduction.weight", 2 * b.width(x));
                b.tensor(m + ".reduction.weight", out, 4 * b.width(x)); // declared first, as the state dict lists it
                x = b.spaceToDepth(m + ".merge", x, 2, true);
                x = b.layerNormOnChannels(m + ".norm", x, EPS);
                x = b.linearOnChannels(m + ".reduction", x, out, false);
            }
            String table = "features." + f + ".0.attn.relative_position_bias_table";
            long heads = d.size(table, 1, size == null ? 0 : size[2][stage]);
            long window = window(d, table);
            long depth = size == null ? 0 : size[1][stage];
            for (int i = 0; d.fromCheckpoint() ? d.has("features." + f + "." + i + ".norm1.weight", false) : i < depth; i++) {
                String p = "features." + f + "." + i;
                String y = b.layerNormOnChannels(p + ".norm1", x, EPS);
                y = b.windowAttention(p + ".attn", y, heads, window, i % 2 == 0 ? 0 : window / 2);
                x = b.add(p + ".add1", x, y);
                y = b.layerNormOnChannels(p + ".norm2", x, EPS);
                y = b.linearOnChannels(p + ".mlp.0", y, d.outExact(p + ".mlp.0.weight", MLP_RATIO * b.width(x)), true);
                y = b.act(p + ".mlp.1", y, Op.Activation.GELU);
                y = b.linearOnChannels(p + ".mlp.3", y, b.width(x), true);
                x = b.add(p + ".add2", x, y);
            }
        }
        x = b.layerNormOnChannels("norm", x, EPS);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("head", x, d.outExact("head.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** The side of a stage's square windows: its bias table has (2 w - 1)^2 rows. */
    private static long window(Dims d, String table) {
        if (!d.fromCheckpoint()) {
            return WINDOW;
        }
        long rows = d.size(table, 0, 0);
        long side = Math.round(Math.sqrt((double) rows));
        if (side * side != rows || side % 2 == 0) {
            throw LadyException.invalidInput(table + " has " + rows + " rows, not (2 w - 1)^2 for a square window of w "
                    + "pixels; Lady reads Swin checkpoints with square windows");
        }
        return (side + 1) / 2;
    }
}
