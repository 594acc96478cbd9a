package lady.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * OpenAI's CLIP and open_clip's (LAION's ViT models: {@code open_clip_pytorch_model.bin}; OpenAI's own {@code
 * ViT-B-32.pt}, a TorchScript archive Lady reads), in their own names, read by {@link ClipFamily} as {@code open_clip}.
 * <ul>
 *   <li>Text: {@code token_embedding} plus {@code positional_embedding} [positions, D] (row t at position t), the
 *       residual blocks {@code transformer.resblocks.i} ({@code ln_1}, causal {@code attn}, an nn.MultiheadAttention,
 *       open_clip's {@code ls_1.gamma} where it has one, the residual sum, {@code ln_2}, {@code mlp.c_fc}, the
 *       activation, {@code mlp.c_proj}, {@code ls_2.gamma}, the residual sum), {@code ln_final}, {@code text_projection}
 *       [D, E] (x W) on every token (CLIP reads the end-of-text token's).</li>
 *   <li>Vision: {@code visual.conv1} (no bias) into tokens after {@code visual.class_embedding}, {@code
 *       visual.positional_embedding} added, {@code visual.ln_pre}, the same blocks without the mask under {@code
 *       visual.transformer.resblocks}, {@code visual.ln_post} on the class token, {@code visual.proj} [D, E] (x W).</li>
 *   <li>{@code logit_scale} (and a SigLIP-trained model's {@code logit_bias}) stay.</li>
 * </ul>
 * No configuration comes with these weights: every head is 64 wide (OpenAI's and open_clip's head_width; their text
 * heads are width / 64 too), layer norms' eps is 1e-5, and the activation is GELU (open_clip's default; OpenAI's and
 * open_clip's "-quickgelu" models use quick_gelu, which the weights do not tell: Lady's forward then differs from theirs,
 * and a permutation that keeps one keeps the other). Outputs and what moves: {@link ClipFamily}'s.
 */
final class OpenClip {
    private OpenClip() {}

    private static final String VISUAL = "visual.";
    private static final String BLOCKS = "transformer.resblocks.";
    private static final String TOKENS = "token_embedding.weight";
    private static final String POSITIONS = "positional_embedding";
    private static final String CONV = VISUAL + "conv1";
    private static final long HEAD_WIDTH = 64;
    private static final double EPS = 1e-5;
    private static final String LOGIT_SCALE = "logit_scale";
    private static final String LOGIT_BIAS = "logit_bias";

    static boolean recognizes(Map<String, long[]> s) {
        return s.containsKey(VISUAL + "class_embedding") && s.containsKey(TOKENS) && s.containsKey(POSITIONS)
                && s.containsKey(BLOCKS + "0.attn.in_proj_weight") && s.containsKey(VISUAL + "proj");
    }

    static ModelOptions options(String name, Map<String, long[]> s) {
        long patch = Family.dim(s, CONV + ".weight", 2, 32);
        long positions = Family.dim(s, VISUAL + POSITIONS, 0, 50);
        long side = Math.round(Math.sqrt(positions - 1));
        if (side < 1 || side * side != positions - 1) {
            throw LadyException.invalidInput(name + ": " + VISUAL + POSITIONS + " holds " + positions + " positions, not 1 + "
                    + "a square number of patches");
        }
        return new ModelOptions(1, 1.0, 0, (int) Family.dim(s, CONV + ".weight", 1, 3), Math.toIntExact(side * patch));
    }

    static Architecture build(String name, Dims d) {
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " is read from a checkpoint (OpenAI's or open_clip's "
                    + "weights); a new CLIP is 'clip'");
        }
        ModelOptions o = d.options();
        GraphBuilder b = new GraphBuilder(name);
        String pixels = b.image("image", d.size(CONV + ".weight", 1, 3), o.inputSize(), true);
        String ids = b.tokens("text");
        long width = d.size(TOKENS, 1, 0);
        long[] vp = d.shape(VISUAL + POSITIONS);
        long vWidth = vp[1];
        long patch = d.size(CONV + ".weight", 2, 0);
        // vision
        b.tensor(VISUAL + "class_embedding", vWidth);
        String x = b.conv(CONV, pixels, vWidth, new long[] {patch, patch}, patch, 0, 1, 1, false);
        x = b.toTokens(VISUAL + "tokens", x);
        x = b.concat(VISUAL + "cat", List.of(b.param(VISUAL + "class_embedding", VISUAL + "class_embedding",
                new long[] {vWidth}, x), x), 1, false);
        x = b.add(VISUAL + "add_positions", x, b.param(VISUAL + POSITIONS, VISUAL + POSITIONS, vp, null));
        x = b.layerNorm(VISUAL + "ln_pre", x, EPS);
        x = blocks(b, d, name, VISUAL + BLOCKS, x, vWidth, false);
        x = b.layerNorm(VISUAL + "ln_post", b.select(VISUAL + "pooled", x, 1, 0), EPS);
        String image = b.projection(VISUAL + "proj", x, VISUAL + "proj", d.size(VISUAL + "proj", 1, 0));
        // text
        String h = b.embedding("token_embedding", ids, TOKENS, d.size(TOKENS, 0, 0), width);
        h = b.add("add_positions", h, b.positionEmbedding(POSITIONS, ids, POSITIONS, d.size(POSITIONS, 0, 0), width, 0));
        h = blocks(b, d, name, BLOCKS, h, width, true);
        h = b.layerNorm("ln_final", h, EPS);
        String text = b.projection("text_projection", h, "text_projection", d.size("text_projection", 1, 0));
        List<String> outputs = new ArrayList<>();
        ClipFamily.embeddings(b, name, image, text, outputs);
        for (String scalar : List.of(LOGIT_SCALE, LOGIT_BIAS)) {
            if (d.has(scalar, false)) {
                outputs.add(b.param(scalar, scalar, d.shape(scalar), null));
            }
        }
        return new Architecture(name, b.build(outputs.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** The residual blocks under {@code prefix} ("transformer.resblocks."), with the causal mask for the text. */
    private static String blocks(GraphBuilder b, Dims d, String name, String prefix, String x, long width, boolean causal) {
        if (width % HEAD_WIDTH != 0) {
            throw LadyException.invalidInput(name + ": width " + width + " (" + prefix + ") is not a whole number of heads "
                    + "of " + HEAD_WIDTH + ", OpenAI's and open_clip's head width");
        }
        long heads = width / HEAD_WIDTH;
        for (int i = 0; d.has(prefix + i + ".attn.in_proj_weight", false); i++) {
            String l = prefix + i;
            String a = l + ".attn";
            Map<String, String> names = Map.of("in_proj_weight", a + ".in_proj_weight", "in_proj_bias", a
                    + ".in_proj_bias", "out_proj_weight", a + ".out_proj.weight", "out_proj_bias", a + ".out_proj.bias");
            String n1 = b.layerNorm(l + ".ln_1", x, EPS);
            String y = causal ? b.causalAttention(a, n1, heads, names) : b.attention(a, n1, heads, names);
            x = b.add(l + ".attention_residual", x, layerScale(b, d, l + ".ls_1", y));
            String fc = l + ".mlp.c_fc";
            y = b.act(l + ".mlp.gelu", b.linear(fc, b.layerNorm(l + ".ln_2", x, EPS), d.size(fc + ".weight", 0, 4 * width),
                    true), Op.Activation.GELU);
            y = b.linear(l + ".mlp.c_proj", y, width, true);
            x = b.add(l + ".mlp_residual", x, layerScale(b, d, l + ".ls_2", y));
        }
        return x;
    }

    /** open_clip's LayerScale ({@code module.gamma}) where the checkpoint has one. */
    private static String layerScale(GraphBuilder b, Dims d, String module, String x) {
        return d.has(module + ".gamma", false) ? b.scaleChannels(module, x, module + ".gamma", 0, 1) : x;
    }
}
