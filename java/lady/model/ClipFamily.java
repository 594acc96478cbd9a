package lady.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * Hugging Face's dual encoders of images and text: CLIP ({@code CLIPModel}, model type {@code clip}: openai/clip-vit-*,
 * LAION's) and SigLIP ({@code SiglipModel}, {@code siglip}: google/siglip-*), and their towers on their own: {@code
 * CLIPTextModel} / {@code CLIPTextModelWithProjection} (Stable Diffusion's text encoders), {@code CLIPVisionModel} /
 * {@code CLIPVisionModelWithProjection}, {@code SiglipTextModel} and {@code SiglipVisionModel} (the vision tower of
 * PaliGemma and other vision-language models).
 * <ul>
 *   <li>The text tower {@code text_model.}: {@code embeddings.token_embedding} plus {@code position_embedding} (row t
 *       at position t; older versions saved {@code position_ids}), pre-norm layers {@code encoder.layers.i}
 *       ({@code layer_norm1}, the attention {@code self_attn.q_proj / k_proj / v_proj / out_proj}, causal in CLIP, the
 *       residual sum, {@code layer_norm2}, {@code mlp.fc1}, hidden_act, {@code mlp.fc2}, the residual sum), {@code
 *       final_layer_norm}; CLIP's {@code text_projection} (no bias), SigLIP's {@code text_model.head} (a bias), on every
 *       token (CLIP reads the end-of-text token's, SigLIP the last).</li>
 *   <li>The vision tower {@code vision_model.}: {@code embeddings.patch_embedding} (a convolution of patch size; CLIP's
 *       without a bias) into tokens, CLIP's after {@code embeddings.class_embedding}, {@code position_embedding} added;
 *       CLIP's {@code pre_layrnorm}; the same layers, every token seeing every token; {@code post_layernorm}, CLIP's on
 *       the class token then {@code visual_projection} (no bias), SigLIP's on every token then its attention pooling
 *       {@code head} (a learned {@code probe}'s query over the tokens in {@code attention}, an nn.MultiheadAttention;
 *       {@code layernorm}, {@code mlp} and the residual sum).</li>
 *   <li>{@code logit_scale} (and SigLIP's {@code logit_bias}) stay.</li>
 * </ul>
 * Heads and activations come from config.json ({@code text_config} and {@code vision_config} of a dual encoder's); the
 * heads cannot be told from the shapes. Layer norms' eps is layer_norm_eps (CLIP 1e-5, SigLIP 1e-6).
 *
 * <p>Outputs, every one with its channel order free (compared by inner products, as every encoder's features are): a
 * dual encoder's image embeddings, its text tower's embedded tokens, and their products channel by channel at the
 * first token, which its logits sum: they tie the two towers' embedding spaces (CLIP's projections' rows, SigLIP's
 * vision stream and text head's rows), one permutation for both; a tower alone: its projection's output, or its last
 * hidden state and pooled features. (A diffusion pipeline reads its text encoder's hidden states in their order: a text
 * encoder permuted alone needs its U-Net's cross-attention columns moved with it, which Lady does not do.) What moves:
 * each tower's residual stream, every layer's attention heads (with their query, key and value dimensions) and MLP
 * units, and the shared embedding space.
 *
 * <p>Lady's forward takes the images; a dual encoder's text tower runs on a fixed seeded sequence of token ids
 * (lady.model.GraphNetwork's second input), so that {@code --verify} sees both towers.
 */
final class ClipFamily implements Family {
    static final String CLIP = "clip";
    static final String CLIP_TEXT = "clip_text";
    static final String CLIP_VISION = "clip_vision";
    static final String SIGLIP = "siglip";
    static final String SIGLIP_TEXT = "siglip_text";
    static final String SIGLIP_VISION = "siglip_vision";
    /** OpenAI's CLIP and open_clip's (LAION's) in their own names: {@link OpenClip}. */
    static final String OPEN_CLIP = "open_clip";
    private static final String TEXT = "text_model.";
    private static final String VISION = "vision_model.";
    private static final String TOKEN_EMBEDDING = TEXT + "embeddings.token_embedding.weight";
    private static final String TEXT_POSITIONS = TEXT + "embeddings.position_embedding.weight";
    private static final String CLASS_EMBEDDING = VISION + "embeddings.class_embedding";
    private static final String PATCHES = VISION + "embeddings.patch_embedding";
    private static final String VISION_POSITIONS = VISION + "embeddings.position_embedding.weight";
    private static final String POSITION_IDS = "embeddings.position_ids";
    private static final String TEXT_PROJECTION = "text_projection";
    private static final String TEXT_HEAD = TEXT + "head";
    private static final String VISUAL_PROJECTION = "visual_projection";
    private static final String VISION_HEAD = VISION + "head";
    private static final String LOGIT_SCALE = "logit_scale";
    private static final String LOGIT_BIAS = "logit_bias";
    private static final String LAYERS = "encoder.layers.";

    /** A family member's defaults (a new model's sizes: openai/clip-vit-base-patch32's, google/siglip-base-patch16-224's). */
    private record Kind(boolean siglip, double eps, String act, long textWidth, long visionWidth, long vocab,
            long textPositions, long patch, int image) {}

    private static final Kind CLIP_KIND = new Kind(false, 1e-5, "quick_gelu", 512, 768, 49408, 77, 32, 224);
    private static final Kind SIGLIP_KIND = new Kind(true, 1e-6, "gelu_pytorch_tanh", 768, 768, 32000, 64, 16, 224);
    private static final long NEW_LAYERS = 12;
    private static final long NEW_HEAD_DIM = 64;

    @Override
    public List<String> names() {
        return List.of(CLIP, CLIP_TEXT, CLIP_VISION, SIGLIP, SIGLIP_TEXT, SIGLIP_VISION, OPEN_CLIP);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("clip", "clip_text_model", "clip_vision_model", "siglip", "siglip_text_model", "siglip_vision_model");
    }

    private static Kind kind(String name) {
        return name.startsWith(SIGLIP) ? SIGLIP_KIND : CLIP_KIND;
    }

    private static boolean readsText(String name) {
        return !name.endsWith("_vision");
    }

    private static boolean readsImages(String name) {
        return !name.endsWith("_text");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (OpenClip.recognizes(s)) {
            return OPEN_CLIP;
        }
        boolean text = s.containsKey(TOKEN_EMBEDDING) && s.containsKey(TEXT + "final_layer_norm.weight");
        boolean vision = s.containsKey(PATCHES + ".weight") && s.containsKey(VISION + "post_layernorm.weight");
        if (!text && !vision) {
            return null;
        }
        // SigLIP: the text tower's head, no class embedding
        boolean siglip = text ? s.containsKey(TEXT_HEAD + ".weight") : !s.containsKey(CLASS_EMBEDDING);
        String base = siglip ? SIGLIP : CLIP;
        return text && vision ? base : text ? base + "_text" : base + "_vision";
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        if (name.equals(OPEN_CLIP)) {
            return OpenClip.options(name, s);
        }
        Kind k = kind(name);
        if (!readsImages(name)) { // (a language model's options: its vocabulary as the classes)
            return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, TOKEN_EMBEDDING, 0, k.vocab())), 1.0,
                    0, 1, 1);
        }
        long patch = Family.dim(s, PATCHES + ".weight", 2, k.patch());
        long prefix = k.siglip() ? 0 : 1; // CLIP's class token has a position
        long grid = k.image() / k.patch();
        long positions = Family.dim(s, VISION_POSITIONS, 0, grid * grid + prefix);
        long side = Math.round(Math.sqrt(positions - prefix));
        if (side < 1 || side * side != positions - prefix) {
            throw LadyException.invalidInput(name + ": " + VISION_POSITIONS + " holds " + positions + " positions, not "
                    + (prefix > 0 ? prefix + " + " : "") + "a square number of patches");
        }
        return new ModelOptions(1, 1.0, 0, (int) Family.dim(s, PATCHES + ".weight", 1, 3), Math.toIntExact(side * patch));
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        if (name.equals(OPEN_CLIP)) {
            return OpenClip.build(name, d);
        }
        Kind k = kind(name);
        ModelOptions o = d.options();
        GraphBuilder b = new GraphBuilder(name);
        boolean text = readsText(name);
        boolean vision = readsImages(name);
        boolean dual = text && vision;
        // the image first: Lady's forward takes it (a dual encoder's token ids are its second input)
        String pixels = vision ? b.image("pixel_values", d.size(PATCHES + ".weight", 1, o.inputChannels()), o.inputSize(),
                true) : null;
        String ids = text ? b.tokens("input_ids") : null;
        List<String> outputs = new ArrayList<>();
        // PyTorch lists the text tower's tensors, then the vision tower's, then the projections and the logit scale
        String textOut = text ? textTower(b, d, name, k, ids, dual) : null;
        String image = vision ? visionTower(b, d, name, k, pixels, outputs) : null;
        if (vision && !k.siglip() && d.has(VISUAL_PROJECTION + ".weight", dual)) {
            image = b.linear(VISUAL_PROJECTION, image, d.size(VISUAL_PROJECTION + ".weight", 0, k.textWidth()), false);
        }
        if (text && !k.siglip() && d.has(TEXT_PROJECTION + ".weight", dual)) {
            textOut = b.linear(TEXT_PROJECTION, textOut, d.size(TEXT_PROJECTION + ".weight", 0, k.textWidth()), false);
        }
        embeddings(b, name, image, textOut, outputs);
        if (d.has(LOGIT_SCALE, dual)) {
            outputs.add(b.param(LOGIT_SCALE, LOGIT_SCALE, d.has(LOGIT_SCALE, false) ? d.shape(LOGIT_SCALE)
                    : k.siglip() ? new long[] {1} : new long[0], null));
        }
        if (d.has(LOGIT_BIAS, dual && k.siglip())) {
            outputs.add(b.param(LOGIT_BIAS, LOGIT_BIAS, d.has(LOGIT_BIAS, false) ? d.shape(LOGIT_BIAS) : new long[] {1},
                    null));
        }
        return new Architecture(name, b.build(outputs.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /**
     * The outputs {@code image_embeds} and {@code text_embeds} (either may be null: a tower alone), their channel orders
     * free, and for a dual encoder their products channel by channel at the text's first token, which the logits sum:
     * one embedding space for both towers.
     */
    static void embeddings(GraphBuilder b, String name, String image, String text, List<String> outputs) {
        if (image != null) {
            outputs.add(b.act("image_embeds", image, Op.Activation.IDENTITY, true));
        }
        if (text != null) {
            outputs.add(b.act("text_embeds", text, Op.Activation.IDENTITY, true));
        }
        if (image != null && text != null) {
            if (b.width(image) != b.width(text)) {
                throw LadyException.invalidInput(name + ": the image embeddings have " + b.width(image) + " channels, the "
                        + "text embeddings " + b.width(text) + "; a dual encoder compares them channel by channel");
            }
            outputs.add(b.freeProduct("logits_products", image, b.select("text_embeds.first", text, 1, 0)));
        }
    }

    /**
     * The text tower on {@code ids}: every token's features after final_layer_norm, through SigLIP's head. A tower alone
     * ({@code dual} false) reads the configuration's top level, as a dual encoder's text_config is (Models.textConfig).
     */
    private static String textTower(GraphBuilder b, Dims d, String name, Kind k, String ids, boolean dual) {
        long vocab = d.size(TOKEN_EMBEDDING, 0, k.vocab());
        long width = d.size(TOKEN_EMBEDDING, 1, k.textWidth());
        long positions = d.size(TEXT_POSITIONS, 0, k.textPositions());
        LlamaFamily.agree(name, d, "vocab_size", vocab, TOKEN_EMBEDDING);
        LlamaFamily.agree(name, d, "hidden_size", width, TOKEN_EMBEDDING);
        String h = b.embedding(TEXT + "embeddings.token_embedding", ids, TOKEN_EMBEDDING, vocab, width);
        Map<String, long[]> buffers = new LinkedHashMap<>();
        if (d.has(TEXT + POSITION_IDS, false)) { // (older versions saved it)
            buffers.put(TEXT + POSITION_IDS, d.shape(TEXT + POSITION_IDS));
        }
        h = b.add(TEXT + "embeddings.add_positions", h, b.positionEmbedding(TEXT + "embeddings.position_embedding", ids,
                TEXT_POSITIONS, positions, width, 0, -1, buffers));
        h = layers(b, d, name, k, TEXT, h, width, !k.siglip(), null);
        h = b.layerNorm(TEXT + "final_layer_norm", h, eps(name, d, k));
        return k.siglip() ? b.linear(TEXT_HEAD, h, d.size(TEXT_HEAD + ".weight", 0, width), true) : h;
    }

    /**
     * The vision tower on {@code pixels}: CLIP's class token after post_layernorm, SigLIP's attention pooling (or, without
     * a head, its last hidden state); a tower alone adds its last hidden state to {@code outputs} too.
     */
    private static String visionTower(GraphBuilder b, Dims top, String name, Kind k, String pixels, List<String> outputs) {
        Dims d = readsText(name) && top.config("vision_config") instanceof Map<?, ?> m
                ? Dims.of(top.shapes(), top.options(), stringKeys(m)) : top;
        String weight = PATCHES + ".weight";
        long width = d.size(weight, 0, k.visionWidth());
        long patch = d.size(weight, 2, k.patch());
        long channels = d.size(weight, 1, 3);
        long prefix = k.siglip() ? 0 : 1;
        long side = top.options().inputSize() / patch;
        long[] positions = d.has(VISION_POSITIONS, false) ? d.shape(VISION_POSITIONS)
                : new long[] {side * side + prefix, width};
        LlamaFamily.agree(name, d, "hidden_size", width, weight);
        LlamaFamily.agree(name, d, "patch_size", patch, weight);
        LlamaFamily.agree(name, d, "image_size", side * patch, VISION_POSITIONS);
        LlamaFamily.agree(name, d, "num_channels", channels, weight);
        String ids = d.has(VISION + POSITION_IDS, false) ? VISION + POSITION_IDS : null; // (older versions saved it)
        if (!k.siglip()) {
            b.tensor(CLASS_EMBEDDING, width); // the embeddings' own parameter and buffer first, as PyTorch lists them
        }
        if (ids != null) {
            b.tensor(ids, d.shape(ids));
        }
        String x = b.conv(PATCHES, pixels, width, new long[] {patch, patch}, patch, 0, 1, 1, k.siglip());
        x = b.toTokens(VISION + "embeddings.tokens", x);
        if (!k.siglip()) {
            x = b.concat(VISION + "embeddings.cat", List.of(b.param(CLASS_EMBEDDING, CLASS_EMBEDDING, new long[] {width}, x),
                    x), 1, false);
        }
        x = b.add(VISION + "embeddings.add_positions", x, b.param(VISION_POSITIONS, VISION_POSITIONS, positions, null));
        double eps = eps(name, d, k);
        if (!k.siglip()) {
            x = b.layerNorm(VISION + "pre_layrnorm", x, eps);
        }
        x = layers(b, d, name, k, VISION, x, width, false, ids);
        boolean alone = !readsText(name);
        if (!k.siglip()) {
            if (alone && !d.has(VISUAL_PROJECTION + ".weight", false)) {
                outputs.add(b.act(VISION + "last_hidden_state", x, Op.Activation.IDENTITY, true));
            }
            return b.layerNorm(VISION + "post_layernorm", b.select(VISION + "pooled", x, 1, 0), eps);
        }
        x = b.layerNorm(VISION + "post_layernorm", x, eps);
        if (!d.has(VISION_HEAD + ".probe", true)) { // (vision_use_head false: the last hidden state only)
            return x;
        }
        if (alone) {
            outputs.add(b.act(VISION + "last_hidden_state", x, Op.Activation.IDENTITY, true));
        }
        return b.select(VISION_HEAD + ".pooled", pooling(b, d, name, k, x, width, eps), 1, 0);
    }

    /** SigLIP's attention pooling: the probe's query over the tokens, then a layer norm and an MLP with a residual sum. */
    private static String pooling(GraphBuilder b, Dims d, String name, Kind k, String x, long width, double eps) {
        String probe = b.param(VISION_HEAD + ".probe", VISION_HEAD + ".probe", new long[] {1, 1, width}, x);
        String r = b.crossAttention(VISION_HEAD + ".attention", probe, x, heads(name, d, width, VISION_HEAD + ".attention"));
        String y = mlp(b, d, name, k, VISION_HEAD + ".mlp", b.layerNorm(VISION_HEAD + ".layernorm", r, eps), width);
        return b.add(VISION_HEAD + ".residual", r, y);
    }

    /**
     * A tower's pre-norm layers on {@code x}; {@code causal}: CLIP's text mask. {@code buffer}: a saved tensor no node
     * reads (the vision tower's position_ids), held by the first attention as a buffer.
     */
    private static String layers(GraphBuilder b, Dims d, String name, Kind k, String tower, String x, long width,
            boolean causal, String buffer) {
        long heads = heads(name, d, width, tower + LAYERS + "0.self_attn.q_proj.weight");
        double eps = eps(name, d, k);
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", causal ? 1L : 0L);
        attrs.put("attn_scale", 1 / Math.sqrt(width / heads));
        int n = 0;
        for (; d.has(tower + LAYERS + n + ".self_attn.q_proj.weight", n < NEW_LAYERS); n++) {
            String l = tower + LAYERS + n;
            Map<String, String> names = new LinkedHashMap<>();
            for (String[] role : new String[][] {{"q", "q_proj"}, {"k", "k_proj"}, {"v", "v_proj"}, {"o", "out_proj"}}) {
                names.put(role[0] + "_weight", l + ".self_attn." + role[1] + ".weight");
                names.put(role[0] + "_bias", l + ".self_attn." + role[1] + ".bias");
            }
            if (n == 0 && buffer != null) {
                names.put(GraphBuilder.BUFFER + "position_ids", buffer);
            }
            String a = b.attentionGqa(l + ".self_attn", b.layerNorm(l + ".layer_norm1", x, eps), names, heads, heads,
                    width / heads, attrs);
            x = b.add(l + ".attention_residual", x, a);
            x = b.add(l + ".mlp_residual", x, mlp(b, d, name, k, l + ".mlp", b.layerNorm(l + ".layer_norm2", x, eps), width));
        }
        LlamaFamily.agree(name, d, "num_hidden_layers", n, tower + LAYERS + "N.self_attn.q_proj.weight");
        return x;
    }

    /** An MLP {@code module} ({@code fc1}, hidden_act, {@code fc2}) on {@code x}. */
    private static String mlp(GraphBuilder b, Dims d, String name, Kind k, String module, String x, long width) {
        Object fnName = d.config("hidden_act") != null ? d.config("hidden_act") : k.act();
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        String fc = module + ".fc1";
        String y = b.linear(fc, x, d.size(fc + ".weight", 0, 4 * width), true);
        y = fn != null ? b.act(module + ".act", y, fn) : b.act(module + ".act", y, Op.Activation.GELU,
                LlamaFamily.unsupportedActivation("the activation", fnName));
        return b.linear(module + ".fc2", y, width, true);
    }

    /** A tower's heads: its configuration's (a new model: heads of 64). */
    private static long heads(String name, Dims d, long width, String tensor) {
        return d.fromCheckpoint() ? LlamaFamily.heads(name, d, "num_attention_heads", width, tensor) : width / NEW_HEAD_DIM;
    }

    private static double eps(String name, Dims d, Kind k) {
        return LlamaFamily.positive(name, d, "layer_norm_eps", k.eps());
    }

    private static Map<String, Object> stringKeys(Map<?, ?> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((key, v) -> out.put(String.valueOf(key), v));
        return out;
    }
}
