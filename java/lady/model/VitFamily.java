package lady.model;

import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * torchvision's Vision Transformers (vit_b_16, vit_b_32, vit_l_16, vit_l_32, vit_h_14) with their module
 * paths: conv_proj (patch x patch, stride patch) -> tokens; the class token (a parameter) concatenated
 * before the patch tokens; the position embedding added; dropout; encoder blocks
 * encoder.layers.encoder_layer_i (ln_1, self_attention (packed nn.MultiheadAttention), dropout, residual
 * add, ln_2, mlp.0 Linear, GELU, dropout, mlp.3 Linear, dropout, residual add); encoder.ln; the class
 * token's output (token 0); heads.pre_logits + tanh when the checkpoint has them; heads.head. LayerNorm
 * eps 1e-6, dropout 0 (torchvision's defaults).
 * <p>
 * A checkpoint gives the width D, the MLP width, the number of blocks, the patch size, the classes and the
 * input size, which the position embedding fixes: patch * sqrt(S - 1) for S positions. It does not give
 * the number of heads: Lady takes D / head_dim with torchvision's head dimension, 64 for the B and L
 * models (12 heads of 64 in ViT-B's 768, 16 of 64 in ViT-L's 1024) and 80 for vit_h_14 (16 heads of 80
 * in 1280). A checkpoint whose heads have another dimension would be described wrongly (its function
 * would change under a heads permutation); name such a network's groups with --spec. Names: patch 14
 * is vit_h_14, patches 16 and 32 are vit_l_* with D = 1024 or 24 blocks, vit_b_* otherwise (a narrower or
 * shallower ViT-B, such as torchvision's VisionTransformer class built small). A new model's images
 * are the options' size rounded down to whole patches (at least one patch).
 *
 * <p>timm's VisionTransformer and DeiT ({@code vit_tiny/small/base/large_patch16_224}, {@code vit_huge_patch14_224},
 * {@code deit_*_patch16_224}: the same network under other names, {@code patch_embed.proj}, {@code cls_token},
 * {@code pos_embed}, {@code blocks.i.norm1}, {@code attn.qkv} (q, k, v rows as nn.MultiheadAttention packs them),
 * {@code attn.proj}, {@code norm2}, {@code mlp.fc1}, {@code mlp.fc2}, {@code norm}, {@code head}; its class token
 * pooled, LayerNorm eps 1e-6, exact GELU) are read as the {@code timm_vit_*} architectures, heads of 64 (80 at width
 * 1280) as timm's, with LayerScale ({@code blocks.i.ls1.gamma}, {@code ls2.gamma}: DeiT III) where the
 * checkpoint has it, and DeiT's distilled variants ({@code dist_token} after the class token, {@code head_dist} on
 * it, the two classifiers averaged as timm's evaluation does), register tokens ({@code reg_token} [1, R, D] after the
 * class token, as vit_*_reg4_dinov2), position embeddings over the patches only (timm's no_embed_class: added before
 * the class and register tokens, told by the embedding's length), and no head (num_classes 0, as timm's DINOv2
 * backbones: the output is the class token's features, their channel order free), and average pooling (global_pool
 * "avg": the patch tokens' mean through {@code fc_norm}, no final {@code norm}), and no class token (timm's
 * class_token=False: the tokens' mean, through {@code fc_norm} or, with fc_norm=False, after the final {@code norm}).
 * Variants with other parts (attention pooling, q/k norms) are not recognized: name their groups with --spec or pass
 * an ONNX export.
 */
final class VitFamily implements Family {
    private record Config(int patch, int layers, int dim, int mlp, int headDim) {}

    /** The module paths of one implementation. */
    private record Naming(String proj, String cls, String pos, String block, String ln1, String attn, String ln2,
            String fc1, String act, String fc2, String norm, String head) {
        /** The attention's four tensors under {@code p} (a block's path). */
        Map<String, String> attention(String p) {
            String a = p + "." + attn;
            return this == TORCHVISION ? Map.of("in_proj_weight", a + ".in_proj_weight", "in_proj_bias", a + ".in_proj_bias",
                    "out_proj_weight", a + ".out_proj.weight", "out_proj_bias", a + ".out_proj.bias")
                    : Map.of("in_proj_weight", a + ".qkv.weight", "in_proj_bias", a + ".qkv.bias",
                    "out_proj_weight", a + ".proj.weight", "out_proj_bias", a + ".proj.bias");
        }
    }

    private static final Naming TORCHVISION = new Naming("conv_proj", "class_token", "encoder.pos_embedding",
            "encoder.layers.encoder_layer_", "ln_1", "self_attention", "ln_2", "mlp.0", "mlp.1", "mlp.3", "encoder.ln",
            "heads.head");
    private static final Naming TIMM = new Naming("patch_embed.proj", "cls_token", "pos_embed", "blocks.", "norm1", "attn",
            "norm2", "mlp.fc1", "mlp.act", "mlp.fc2", "norm", "head");
    /** timm's ViT sizes by width (the variants name none of their sizes in the checkpoint but the width). */
    private static final Map<String, Config> TIMM_CONFIGS = Map.of(
            "timm_vit_tiny", new Config(16, 12, 192, 768, 64), "timm_vit_small", new Config(16, 12, 384, 1536, 64),
            "timm_vit_base", new Config(16, 12, 768, 3072, 64), "timm_vit_large", new Config(16, 24, 1024, 4096, 64),
            "timm_vit_huge", new Config(14, 32, 1280, 5120, 80));

    private static final Map<String, Config> CONFIGS = Map.of(
            "vit_b_16", new Config(16, 12, 768, 3072, 64), "vit_b_32", new Config(32, 12, 768, 3072, 64),
            "vit_l_16", new Config(16, 24, 1024, 4096, 64), "vit_l_32", new Config(32, 24, 1024, 4096, 64),
            "vit_h_14", new Config(14, 32, 1280, 5120, 80));
    private static final double LN_EPS = 1e-6;
    private static final double DROPOUT = 0.0;
    private static final String PREFIX = TORCHVISION.block();
    /** timm's distilled DeiT: its distillation token and the classifier that reads it. */
    private static final String DIST = "dist_token";
    private static final String HEAD_DIST = "head_dist";
    /** timm's norm after average pooling (global_pool "avg": the final norm is then the identity). */
    private static final String FC_NORM = "fc_norm";
    /** timm's attention pooling (global_pool "map"), which Lady does not read. */
    private static final String ATTN_POOL = "attn_pool.latent";
    /** timm's register tokens [1, R, D]. */
    private static final String REG = "reg_token";

    @Override
    public List<String> names() {
        return List.of("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "timm_vit_tiny", "timm_vit_small",
                "timm_vit_base", "timm_vit_large", "timm_vit_huge");
    }

    private static Naming naming(String name) {
        return name.startsWith("timm_") ? TIMM : TORCHVISION;
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        long[] timm = s.get(TIMM.proj() + ".weight");
        boolean norm = s.containsKey(TIMM.norm() + ".weight");
        boolean fcNorm = s.containsKey(FC_NORM + ".weight");
        // with a class token, one of the final norm (the token pooled) and fc_norm (the mean); without one the mean, through
        // either (timm's fc_norm=False keeps the final norm)
        if (timm != null && timm.length == 4 && s.containsKey(TIMM.pos()) && s.containsKey("blocks.0.attn.qkv.weight")
                && (s.containsKey(TIMM.cls()) ? norm != fcNorm : (norm || fcNorm) && !s.containsKey(ATTN_POOL))) {
            for (Map.Entry<String, Config> e : TIMM_CONFIGS.entrySet()) {
                if (e.getValue().dim() == timm[0]) {
                    return e.getKey();
                }
            }
            return "timm_vit_base"; // another width: heads of 64, as timm's B models
        }
        long[] proj = s.get("conv_proj.weight");
        if (proj == null || proj.length != 4 || !s.containsKey("class_token") || !s.containsKey("encoder.pos_embedding")
                || !s.containsKey("heads.head.weight")) {
            return null;
        }
        long patch = proj[2];
        if (patch == 14) {
            return "vit_h_14";
        }
        if (patch != 16 && patch != 32) {
            return null;
        }
        Config large = CONFIGS.get("vit_l_16");
        boolean l = proj[0] == large.dim() || s.containsKey(PREFIX + (large.layers() - 1) + ".ln_1.weight");
        return (l ? "vit_l_" : "vit_b_") + patch;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        Naming n = naming(name);
        long patch = Family.dim(s, n.proj() + ".weight", 2, config(name).patch());
        long side = side(name, s, n);
        return new ModelOptions((int) Family.dim(s, n.head() + ".weight", 0, 10), 1.0, 0,
                (int) Family.dim(s, n.proj() + ".weight", 1, 3), (int) (side * patch));
    }

    /**
     * The tokens before the patches: the class token (timm's class_token=False has none), DeiT's distillation token,
     * timm's register tokens.
     */
    private record Prefix(boolean classToken, boolean distilled, long registers) {
        /** A new model's: the class token. */
        static final Prefix NEW = new Prefix(true, false, 0);

        /** A checkpoint's, from its shapes. */
        static Prefix of(Map<String, long[]> s, Naming n) {
            return n != TIMM ? NEW : new Prefix(s.containsKey(TIMM.cls()), s.containsKey(DIST), Family.dim(s, REG, 1, 0));
        }

        long count() {
            return (classToken ? 1 : 0) + (distilled ? 1 : 0) + registers;
        }
    }

    /**
     * The side of the square grid of patches the position embedding holds: its positions are the prefix tokens' and
     * the patches' or (timm's no_embed_class) the patches' only.
     */
    private static long side(String name, Map<String, long[]> s, Naming n) {
        long prefix = Prefix.of(s, n).count();
        long positions = Family.dim(s, n.pos(), 1, prefix + 1);
        for (long patches : new long[] {positions - prefix, positions}) {
            long side = Math.round(Math.sqrt(Math.max(0, patches)));
            if (side > 0 && side * side == patches) {
                return side;
            }
        }
        throw LadyException.invalidInput(name + ": the position embedding has " + positions + " positions, neither "
                + prefix + " + a square number of patches nor a square number");
    }

    private Config config(String name) {
        Config c = CONFIGS.containsKey(name) ? CONFIGS.get(name) : TIMM_CONFIGS.get(name);
        if (c == null) {
            throw new LadyException(LadyException.Kind.USAGE, "unknown ViT '" + name + "'; known: " + names());
        }
        return c;
    }

    @Override
    public Architecture build(String name, Dims d) {
        Config c = config(name);
        Naming n = naming(name);
        ModelOptions o = d.options();
        Family.requireNoHidden(name, o);
        String proj = n.proj() + ".weight";
        long patch = d.size(proj, 2, c.patch());
        long side = Math.max(1, o.inputSize() / patch);
        long dim = d.out(proj, c.dim());
        if (dim % c.headDim() != 0) {
            throw LadyException.invalidInput(name + ": width " + dim + " is not a whole number of heads of "
                    + c.headDim() + " (the head dimension of " + name + ")");
        }
        long heads = dim / c.headDim();
        Prefix tokens = d.fromCheckpoint() ? Prefix.of(d.shapes(), n) : Prefix.NEW;
        boolean distilled = tokens.distilled();
        long registers = tokens.registers();
        boolean classToken = tokens.classToken();
        long prefix = tokens.count();
        // timm's no_embed_class: positions for the patches only, added before the prefix tokens
        boolean patchPositions = n == TIMM && d.fromCheckpoint() && d.size(n.pos(), 1, 0) == side * side;
        long positions = side * side + (patchPositions ? 0 : prefix);
        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("input", o.inputChannels(), side * patch, true);
        if (classToken) {
            b.tensor(n.cls(), 1, 1, dim); // PyTorch lists the model's own parameters first
        }
        if (registers > 0) {
            b.tensor(REG, 1, registers, dim);
        }
        if (n == TIMM) {
            b.tensor(n.pos(), 1, positions, dim);
        }
        x = b.conv(n.proj(), x, dim, new long[] {patch, patch}, patch, 0, 1, 1, true);
        x = b.toTokens("tokens", x);
        String pos = b.param(n.pos(), n.pos(), new long[] {1, positions, dim}, null);
        if (patchPositions) {
            x = b.add("encoder.add", x, pos);
        }
        List<String> parts = new java.util.ArrayList<>();
        if (classToken) {
            parts.add(b.param(n.cls(), n.cls(), new long[] {1, 1, dim}, x));
        }
        if (distilled) {
            parts.add(b.param(DIST, DIST, new long[] {1, 1, dim}, x));
        }
        if (registers > 0) {
            parts.add(b.param(REG, REG, new long[] {1, registers, dim}, x));
        }
        parts.add(x);
        x = parts.size() > 1 ? b.concat("cat", parts, 1, false) : x;
        if (!patchPositions) {
            x = b.add("encoder.add", x, pos);
        }
        x = b.dropout("encoder.dropout", x, DROPOUT);
        int layers = 0;
        while (d.fromCheckpoint() ? d.has(n.block() + layers + "." + n.ln1() + ".weight", false) : layers < c.layers()) {
            x = block(b, d, n, n.block() + layers, x, heads, c.mlp());
            layers++;
        }
        boolean fcNorm = n == TIMM && d.fromCheckpoint() && d.has(FC_NORM + ".weight", false);
        if (fcNorm || !classToken) { // global_pool "avg": the patches' mean, through fc_norm or after the final norm
            if (!fcNorm) {
                x = b.layerNorm(n.norm(), x, LN_EPS);
            }
            x = b.meanFrom("patch_mean", x, 1, prefix);
            if (fcNorm) {
                x = b.layerNorm(FC_NORM, x, LN_EPS);
            }
            if (!d.has(n.head() + ".weight", false)) {
                return new Architecture(name, b.build(b.freeChannels(x)), Architecture.Init.PYTORCH_DEFAULT);
            }
            return new Architecture(name, b.build(b.linear(n.head(), x, d.outExact(n.head() + ".weight", o.numClasses()),
                    true)), Architecture.Init.PYTORCH_DEFAULT);
        }
        x = b.layerNorm(n.norm(), x, LN_EPS);
        if (distilled) { // DeiT's two classifiers, on the class and the distillation tokens, averaged
            String y = b.linear(n.head(), b.select("class_output", x, 1, 0), d.outExact(n.head() + ".weight",
                    o.numClasses()), true);
            String z = b.linear(HEAD_DIST, b.select("dist_output", x, 1, 1), d.outExact(HEAD_DIST + ".weight",
                    o.numClasses()), true);
            return new Architecture(name, b.build(b.scale("mean", b.add("heads.add", y, z), 0.5)),
                    Architecture.Init.PYTORCH_DEFAULT);
        }
        x = b.select("class_output", x, 1, 0);
        if (n == TIMM && d.fromCheckpoint() && !d.has(n.head() + ".weight", false)) { // no head: the class token's features
            return new Architecture(name, b.build(b.freeChannels(x)), Architecture.Init.PYTORCH_DEFAULT);
        }
        if (n == TORCHVISION && d.has("heads.pre_logits.weight", false)) {
            x = b.linear("heads.pre_logits", x, d.outExact("heads.pre_logits.weight", dim), true);
            x = b.act("heads.act", x, Op.Activation.TANH);
        }
        x = b.linear(n.head(), x, d.outExact(n.head() + ".weight", o.numClasses()), true);
        return new Architecture(name, b.build(x), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** One encoder block: x + attention(ln_1(x)), then + mlp(ln_2(.)); each branch scaled by timm's LayerScale
     * ({@code ls1.gamma}, {@code ls2.gamma}: one factor per channel) where the checkpoint has it. */
    private static String block(GraphBuilder b, Dims d, Naming n, String p, String x, long heads, long mlp) {
        String y = b.layerNorm(p + "." + n.ln1(), x, LN_EPS);
        y = b.attention(p + "." + n.attn(), y, heads, n.attention(p));
        y = layerScale(b, d, n, p + ".ls1", b.dropout(p + ".dropout", y, DROPOUT));
        x = b.add(p + ".add_1", y, x);
        y = b.layerNorm(p + "." + n.ln2(), x, LN_EPS);
        y = b.linear(p + "." + n.fc1(), y, d.out(p + "." + n.fc1() + ".weight", mlp), true);
        y = b.dropout(p + ".mlp.2", b.act(p + "." + n.act(), y, Op.Activation.GELU), DROPOUT);
        y = b.dropout(p + ".mlp.4", b.linear(p + "." + n.fc2(), y, b.width(x), true), DROPOUT);
        return b.add(p + ".add_2", x, layerScale(b, d, n, p + ".ls2", y));
    }

    /** {@code y} times timm's LayerScale {@code module}.gamma where a checkpoint has it, else {@code y}. */
    private static String layerScale(GraphBuilder b, Dims d, Naming n, String module, String y) {
        String gamma = module + ".gamma";
        if (n != TIMM || !d.fromCheckpoint() || !d.has(gamma, false)) {
            return y;
        }
        return b.mul(module, y, b.param(gamma, gamma, new long[] {b.width(y)}, null));
    }
}
