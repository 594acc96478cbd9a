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
 * tensors (square windows).
 *
 * <p>Swin V2 ({@code swin_v2_t/s/b}, windows of 8; {@code swin_v2} for other sizes): the attention's scores are cosines
 * times each head's {@code logit_scale}, its position bias comes from the MLP {@code cpb_mlp} (whose last layer's rows
 * move with the heads and whose 512 hidden units are a group of their own) at the saved {@code relative_coords_table};
 * the blocks normalize after the attention and the MLP ({@code x + norm1(attn(x))}); the patch merging reduces, then
 * normalizes its 2 C outputs.
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
    /** Swin V2's names: V1's with this after "swin". */
    private static final String V2 = "_v2";
    private static final long V2_WINDOW = 8;
    /** Swin V2's position-bias MLP's hidden units. */
    private static final long CPB_UNITS = 512;

    /** Hugging Face's Swin (model type swin): SwinForImageClassification, or the headless SwinModel; its own sizes. */
    private static final String HF = "swin_hf";
    /** Hugging Face's Swin V2 (model type swinv2): Swinv2ForImageClassification, or the headless Swinv2Model. */
    private static final String HF_V2 = "swinv2_hf";

    @Override
    public List<String> names() {
        return List.of("swin_t", "swin_s", "swin_b", ANY, "swin_v2_t", "swin_v2_s", "swin_v2_b", ANY + V2, HF, HF_V2);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("swin", "swinv2");
    }

    /** A Hugging Face Swin checkpoint's layout: the prefix of its network's tensors, and whether it is Swin V2. */
    private record HfLayout(String prefix, boolean v2) {}

    /** The layout of a Hugging Face Swin checkpoint ("swin.", "swinv2." or no prefix), null when it is none. */
    private static HfLayout hfLayout(Map<String, long[]> s) {
        for (String p : List.of("swin.", "swinv2.", "")) {
            String attn = p + "encoder.layers.0.blocks.0.attention.self.";
            if (s.containsKey(p + "embeddings.patch_embeddings.projection.weight") && s.containsKey(p + "layernorm.weight")
                    && s.containsKey(attn + "query.weight")) {
                return new HfLayout(p, s.containsKey(attn + "continuous_position_bias_mlp.0.weight"));
            }
        }
        return null;
    }

    /** V1's name of a V2 name, as the tables know it. */
    private static String v1(String name) {
        return name.replace(V2, "");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        HfLayout hf = hfLayout(s);
        if (hf != null) {
            return hf.v2() ? HF_V2 : HF;
        }
        if (!s.containsKey("features.0.0.weight") || !s.containsKey("features.1.0.attn.qkv.weight")
                || !s.containsKey("head.weight")) {
            return null;
        }
        boolean v2 = s.containsKey("features.1.0.attn.logit_scale") && s.containsKey("features.1.0.attn.cpb_mlp.2.weight");
        if (!v2 && !s.containsKey("features.1.0.attn.relative_position_bias_table")) {
            return null;
        }
        for (Map.Entry<String, long[][]> e : SIZES.entrySet()) {
            if (matches(s, e.getValue(), v2)) {
                return v2 ? e.getKey().replace("swin", "swin" + V2) : e.getKey();
            }
        }
        return v2 ? ANY + V2 : ANY;
    }

    /** Whether the checkpoint has exactly this embedding width, these depths and heads, and torchvision's windows. */
    private static boolean matches(Map<String, long[]> s, long[][] size, boolean v2) {
        if (Family.dim(s, "features.0.0.weight", 0, 0) != size[0][0]) {
            return false;
        }
        for (int stage = 0; stage < size[1].length; stage++) {
            String p = "features." + (2 * stage + 1) + ".";
            long[] heads = s.get(p + "0.attn." + (v2 ? "logit_scale" : "relative_position_bias_table"));
            long[] positions = s.get(p + "0.attn." + (v2 ? "relative_coords_table" : "relative_position_bias_table"));
            if (heads == null || positions == null || heads[v2 ? 0 : 1] != size[2][stage]
                    || (v2 ? positions.length != 4 || positions[1] != 2 * V2_WINDOW - 1
                    : positions[0] != (2 * WINDOW - 1) * (2 * WINDOW - 1))
                    || !s.containsKey(p + (size[1][stage] - 1) + ".norm1.weight")
                    || s.containsKey(p + size[1][stage] + ".norm1.weight")) {
                return false;
            }
        }
        return !s.containsKey("features." + (2 * size[1].length + 1) + ".0.norm1.weight");
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        HfLayout hf = hfLayout(s);
        if ((name.equals(HF) || name.equals(HF_V2)) && hf != null) {
            // an input whose last stage is a whole window (Hugging Face's runs no smaller); V2 saves no table: its window
            // is config.json's, 8 assumed here (its tiny and small models')
            String p = hf.prefix();
            String proj = p + "embeddings.patch_embeddings.projection.weight";
            ModelOptions o = Family.options(s, "classifier.weight", proj);
            int stages = 0;
            while (s.containsKey(p + "encoder.layers." + stages + ".blocks.0.layernorm_before.weight")) {
                stages++;
            }
            long window = hf.v2() ? V2_WINDOW : (Math.round(Math.sqrt((double) Family.dim(s, p + "encoder.layers.0.blocks.0"
                    + ".attention.self.relative_position_bias_table", 0, 1))) + 1) / 2;
            long side = Family.dim(s, proj, 2, PATCH) * window << Math.max(0, stages - 1);
            return o.withInput(o.inputChannels(), Math.toIntExact(side));
        }
        return Family.options(s, "head.weight", "features.0.0.weight");
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        if (name.equals(HF) || name.equals(HF_V2)) {
            return buildHf(name, d);
        }
        boolean v2 = name.contains(V2);
        if (v1(name).equals(ANY) && !d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " names a checkpoint's own sizes: pass the "
                    + "checkpoint, or build one of " + names().stream().filter(n -> !v1(n).equals(ANY)).toList());
        }
        long[][] size = SIZES.get(v1(name)); // null for a checkpoint's own sizes
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
            if (stage > 0) {
                x = merging(b, d, "features." + (f - 1), x, v2, EPS);
            }
            String attn = "features." + f + ".0.attn.";
            long heads = v2 ? d.size(attn + "logit_scale", 0, size == null ? 0 : size[2][stage])
                    : d.size(attn + "relative_position_bias_table", 1, size == null ? 0 : size[2][stage]);
            long window = v2 ? v2Window(d, attn + "relative_coords_table") : window(d, attn + "relative_position_bias_table");
            long cpb = v2 ? d.size(attn + "cpb_mlp.0.weight", 0, CPB_UNITS) : 0;
            long depth = size == null ? 0 : size[1][stage];
            for (int i = 0; d.fromCheckpoint() ? d.has("features." + f + "." + i + ".norm1.weight", false) : i < depth; i++) {
                String p = "features." + f + "." + i;
                long shift = i % 2 == 0 ? 0 : window / 2;
                x = block(b, d, p, BlockNames.TORCHVISION, x, v2, y -> v2 ? b.windowAttention(p + ".attn", y, heads, window,
                        shift, cpb) : b.windowAttention(p + ".attn", y, heads, window, shift), EPS);
            }
        }
        x = b.layerNormOnChannels("norm", x, EPS);
        x = b.adaptiveAvgPool("avgpool", x, 1);
        x = b.flatten("flatten", x, 1);
        x = b.linear("head", x, d.outExact("head.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /**
     * Hugging Face's Swin (the same network as torchvision's Swin V1 under other names): {@code embeddings} (the
     * patch {@code projection} conv, {@code norm}), {@code encoder.layers.S.blocks.I} ({@code layernorm_before}, the
     * window attention {@code attention} ({@link GraphBuilder#hfWindowAttention}: separate query, key and value),
     * {@code layernorm_after}, {@code intermediate.dense}, GELU, {@code output.dense}), each stage but the last closed by
     * its {@code downsample} (the patch merging: {@code norm}, {@code reduction}), the final {@code layernorm}, the mean
     * of the pixels and {@code classifier} (SwinForImageClassification; its network's names begin "swin."); the headless
     * SwinModel's output is the pooled features, their channel order free. LayerNorm eps from config.json
     * (layer_norm_eps, default 1e-5).
     */
    private Architecture buildHf(String name, Dims d) {
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " names a Hugging Face checkpoint's own sizes: pass "
                    + "the checkpoint");
        }
        HfLayout hf = hfLayout(d.shapes());
        if (hf == null || hf.v2() != name.equals(HF_V2)) {
            throw LadyException.invalidInput(name + ": the checkpoint is not a Hugging Face Swin" + (name.equals(HF_V2)
                    ? " V2" : "") + " (no embeddings.patch_embeddings.projection, encoder.layers.0.blocks.0.attention.self."
                    + "query, layernorm" + (name.equals(HF_V2) ? ", continuous_position_bias_mlp" : "") + ")");
        }
        String p = hf.prefix();
        boolean v2 = hf.v2();
        ModelOptions o = d.options();
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), o.inputSize(), false);
        String proj = p + "embeddings.patch_embeddings.projection";
        long patch = d.size(proj + ".weight", 2, PATCH);
        double eps = d.configDouble("layer_norm_eps", EPS);
        x = b.conv(proj, x, d.outExact(proj + ".weight", 0), patch, patch, 0, true);
        x = b.layerNormOnChannels(p + "embeddings.norm", x, eps);
        boolean qkvBias = d.has(p + "encoder.layers.0.blocks.0.attention.self.query.bias", true);
        for (int i = 0; d.has(p + "encoder.layers." + i + ".blocks.0.layernorm_before.weight", false); i++) {
            String stage = p + "encoder.layers." + i;
            String attn0 = stage + ".blocks.0.attention.self.";
            long heads = v2 ? d.size(attn0 + "logit_scale", 0, 0) : d.size(attn0 + "relative_position_bias_table", 1, 0);
            long window = v2 ? v2HfWindow(d, o, i) : window(d, attn0 + "relative_position_bias_table");
            // Hugging Face shifts only where a stage is larger than its window (V1's table is already the window's)
            long shift = v2 && window < d.configLong("window_size", V2_WINDOW) ? 0 : window / 2;
            for (int j = 0; d.has(stage + ".blocks." + j + ".layernorm_before.weight", false); j++) {
                String blk = stage + ".blocks." + j;
                long s = j % 2 == 0 ? 0 : shift;
                long cpb = v2 ? d.size(attn0 + "continuous_position_bias_mlp.0.weight", 0, CPB_UNITS) : 0;
                long coords = v2 ? coordsWindow(d, i, window) : window;
                x = block(b, d, blk, BlockNames.HUGGING_FACE, x, v2, y -> v2 ? b.hfWindowAttentionV2(blk + ".attention", y,
                        heads, window, s, cpb, coords, qkvBias) : b.hfWindowAttention(blk + ".attention", y, heads, window, s,
                        qkvBias), eps);
            }
            if (d.has(stage + ".downsample.reduction.weight", false)) {
                x = merging(b, d, stage + ".downsample", x, v2, eps);
            }
        }
        x = b.layerNormOnChannels(p + "layernorm", x, eps);
        x = b.flatten("flatten", b.adaptiveAvgPool("pooler", x, 1), 1);
        if (!d.has("classifier.weight", false)) { // SwinModel: the pooled features
            return new Architecture(name, b.build(b.freeChannels(x)), Architecture.Init.PYTORCH_DEFAULT);
        }
        x = b.linear("classifier", x, d.outExact("classifier.weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** Where an implementation keeps a Swin block's norms and MLP, under the block's path. */
    record BlockNames(String norm1, String norm2, String fc1, String act, String fc2) {
        static final BlockNames TORCHVISION = new BlockNames("norm1", "norm2", "mlp.0", "mlp.1", "mlp.3");
        static final BlockNames HUGGING_FACE = new BlockNames("layernorm_before", "layernorm_after", "intermediate.dense",
                "intermediate.act", "output.dense");
    }

    /**
     * One transformer block {@code p} on an image's channels: x + attention(norm1(x)), then x + fc2(GELU(fc1(norm2(x))))
     * with fc1 of {@code MLP_RATIO} times the channels; Swin V2's ({@code v2}) normalize after the attention and the MLP
     * instead: x + norm1(attention(x)), x + norm2(mlp(x)). {@code attention} builds the attention on its input.
     */
    static String block(GraphBuilder b, Dims d, String p, BlockNames n, String x, boolean v2,
            java.util.function.UnaryOperator<String> attention, double eps) {
        String y = v2 ? b.layerNormOnChannels(p + "." + n.norm1(), attention.apply(x), eps)
                : attention.apply(b.layerNormOnChannels(p + "." + n.norm1(), x, eps));
        x = b.add(p + ".add1", x, y);
        y = v2 ? x : b.layerNormOnChannels(p + "." + n.norm2(), x, eps);
        String fc1 = p + "." + n.fc1();
        y = b.linearOnChannels(fc1, y, d.outExact(fc1 + ".weight", MLP_RATIO * b.width(x)), true);
        y = b.act(p + "." + n.act(), y, Op.Activation.GELU);
        y = b.linearOnChannels(p + "." + n.fc2(), y, b.width(x), true);
        if (v2) {
            y = b.layerNormOnChannels(p + "." + n.norm2(), y, eps);
        }
        return b.add(p + ".add2", x, y);
    }

    /**
     * The patch merging {@code m}: each 2x2 patch's four pixels side by side on the channels, then the norm
     * {@code m.norm} and the reduction {@code m.reduction} to twice the channels (V2: reduction, then norm).
     */
    private static String merging(GraphBuilder b, Dims d, String m, String x, boolean v2, double eps) {
        long out = d.outExact(m + ".reduction.weight", 2 * b.width(x));
        b.tensor(m + ".reduction.weight", out, 4 * b.width(x)); // declared first, as the state dict lists it
        x = b.spaceToDepth(m + ".merge", x, 2, true);
        return v2 ? b.layerNormOnChannels(m + ".norm", b.linearOnChannels(m + ".reduction", x, out, false), eps)
                : b.linearOnChannels(m + ".reduction", b.layerNormOnChannels(m + ".norm", x, eps), out, false);
    }

    /**
     * A Hugging Face Swin V2 stage's window (its checkpoint saves no table): config.json's window_size (8 without one),
     * or the stage's side where that is smaller, as transformers builds it (the side from config.json's image_size over
     * the patch and the stage's halvings; without one, the probe's).
     */
    private static long v2HfWindow(Dims d, ModelOptions o, int stage) {
        long window = d.configLong("window_size", V2_WINDOW);
        long patch = d.configLong("patch_size", PATCH);
        long side = d.configLong("image_size", o.inputSize()) / patch >> stage;
        return Math.max(1, Math.min(window, side));
    }

    /** The window whose offsets scale stage {@code stage}'s position bias: config.json's pretrained_window_sizes, or its own. */
    private static long coordsWindow(Dims d, int stage, long window) {
        return d.config("pretrained_window_sizes") instanceof List<?> l && l.size() > stage && l.get(stage) instanceof Number n
                && n.longValue() > 0 ? n.longValue() : window;
    }

    /** The side of a Swin V2 stage's square windows: its coordinates table is [1, 2 w - 1, 2 w - 1, 2]. */
    private static long v2Window(Dims d, String table) {
        if (!d.fromCheckpoint()) {
            return V2_WINDOW;
        }
        long[] shape = d.shape(table);
        if (shape.length != 4 || shape[1] != shape[2] || shape[1] % 2 == 0 || shape[1] < 3 || shape[3] != 2) {
            throw LadyException.invalidInput(table + " has shape " + java.util.Arrays.toString(shape) + ", not [1, 2 w - 1, "
                    + "2 w - 1, 2] for a square window of w >= 2 pixels; Lady reads Swin checkpoints with square windows");
        }
        return (shape[1] + 1) / 2;
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
