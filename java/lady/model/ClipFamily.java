package lady.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;
import lady.report.Json;

/**
 * Hugging Face's CLIP ({@code CLIPModel}, model type {@code clip}: openai/clip-vit-*, LAION's), and its towers on their
 * own: {@code CLIPTextModel} / {@code CLIPTextModelWithProjection} (Stable Diffusion's text encoders, model type {@code
 * clip_text_model}) and {@code CLIPVisionModel} / {@code CLIPVisionModelWithProjection} ({@code clip_vision_model}).
 * <ul>
 *   <li>The text tower {@code text_model.}: {@code embeddings.token_embedding} plus {@code position_embedding} (row t
 *       at position t; older versions saved {@code position_ids}), pre-norm layers {@code encoder.layers.i}
 *       ({@code layer_norm1}, causal attention {@code self_attn.q_proj / k_proj / v_proj / out_proj}, the residual sum,
 *       {@code layer_norm2}, {@code mlp.fc1}, hidden_act, {@code mlp.fc2}, the residual sum), {@code final_layer_norm};
 *       {@code text_projection} (no bias) on every token (CLIP reads the end-of-text token's).</li>
 *   <li>The vision tower {@code vision_model.}: {@code embeddings.patch_embedding} (a convolution of patch size, no
 *       bias) into tokens after {@code embeddings.class_embedding}, {@code position_embedding} added, {@code
 *       pre_layrnorm}, the same layers without the causal mask, {@code post_layernorm} on the class token, {@code
 *       visual_projection} (no bias).</li>
 *   <li>{@code logit_scale}, a scalar, stays.</li>
 * </ul>
 * Heads and activations come from config.json ({@code text_config} and {@code vision_config} of a CLIPModel's); the heads
 * cannot be told from the shapes. Every layer norm's eps is layer_norm_eps (1e-5).
 *
 * <p>Outputs: the image embeddings, the text tower's projected tokens and the logit scale (CLIPModel); a tower alone:
 * its projection's output, whose channels stay in place (the two projections' shared space is left in place too), or
 * without a projection its last hidden state (and the vision tower's pooled class token), whose channel order is free
 * as every headless encoder's is (compared by their inner products: a diffusion pipeline reads its text encoder's
 * hidden states in their order, so a permuted text encoder needs its U-Net's cross-attention columns moved with it).
 * What moves: each tower's residual stream, every layer's attention heads (with their query, key and value dimensions)
 * and MLP units.
 *
 * <p>Lady's forward takes the images; a CLIPModel's text tower runs on a fixed seeded sequence of token ids
 * (lady.model.GraphNetwork's second input), so that {@code --verify} sees both towers.
 */
final class ClipFamily implements Family {
    static final String CLIP = "clip";
    static final String TEXT_ONLY = "clip_text";
    static final String VISION_ONLY = "clip_vision";
    private static final String TEXT = "text_model.";
    private static final String VISION = "vision_model.";
    private static final String TOKEN_EMBEDDING = TEXT + "embeddings.token_embedding.weight";
    private static final String TEXT_POSITIONS = TEXT + "embeddings.position_embedding.weight";
    private static final String CLASS_EMBEDDING = VISION + "embeddings.class_embedding";
    private static final String PATCHES = VISION + "embeddings.patch_embedding.weight";
    private static final String VISION_POSITIONS = VISION + "embeddings.position_embedding.weight";
    private static final String POSITION_IDS = "embeddings.position_ids";
    private static final String TEXT_PROJECTION = "text_projection";
    private static final String VISUAL_PROJECTION = "visual_projection";
    private static final String LOGIT_SCALE = "logit_scale";
    private static final String LAYERS = "encoder.layers.";
    private static final double EPS = 1e-5;
    private static final String DEFAULT_ACT = "quick_gelu";
    /** A new model's sizes: openai/clip-vit-base-patch32's. */
    private static final long NEW_TEXT_WIDTH = 512;
    private static final long NEW_VISION_WIDTH = 768;
    private static final long NEW_LAYERS = 12;
    private static final long NEW_VOCAB = 49408;
    private static final long NEW_TEXT_POSITIONS = 77;
    private static final long NEW_PATCH = 32;
    private static final long NEW_HEAD_DIM = 64;
    private static final int NEW_IMAGE = 224;

    @Override
    public List<String> names() {
        return List.of(CLIP, TEXT_ONLY, VISION_ONLY);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("clip", "clip_text_model", "clip_vision_model");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        boolean text = s.containsKey(TOKEN_EMBEDDING) && s.containsKey(TEXT + "final_layer_norm.weight");
        boolean vision = s.containsKey(CLASS_EMBEDDING) && s.containsKey(VISION + "post_layernorm.weight");
        return text && vision ? CLIP : text ? TEXT_ONLY : vision ? VISION_ONLY : null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        if (name.equals(TEXT_ONLY)) { // (a language model's options: its vocabulary as the classes)
            return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, TOKEN_EMBEDDING, 0, NEW_VOCAB)), 1.0, 0,
                    1, 1);
        }
        long patch = Family.dim(s, PATCHES, 2, NEW_PATCH);
        long positions = Family.dim(s, VISION_POSITIONS, 0, (NEW_IMAGE / NEW_PATCH) * (NEW_IMAGE / NEW_PATCH) + 1);
        long side = Math.round(Math.sqrt(positions - 1));
        if (side < 1 || side * side != positions - 1) {
            throw LadyException.invalidInput(name + ": " + VISION_POSITIONS + " holds " + positions + " positions, not 1 + a "
                    + "square number of patches");
        }
        return new ModelOptions(1, 1.0, 0, (int) Family.dim(s, PATCHES, 1, 3), Math.toIntExact(side * patch));
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        ModelOptions o = d.options();
        GraphBuilder b = new GraphBuilder(name);
        boolean text = !name.equals(VISION_ONLY);
        boolean vision = !name.equals(TEXT_ONLY);
        // the image first: Lady's forward takes it (a CLIPModel's token ids are its second input)
        String pixels = vision ? b.image("pixel_values", d.size(PATCHES, 1, o.inputChannels()), o.inputSize(), true) : null;
        String ids = text ? b.tokens("input_ids") : null;
        List<String> outputs = new ArrayList<>();
        // PyTorch lists the text tower's tensors, then the vision tower's, then the projections and the logit scale
        String textOut = text ? textTower(b, d, name, ids) : null;
        String visionOut = vision ? visionTower(b, d, name, pixels, outputs) : null;
        if (vision && d.has(VISUAL_PROJECTION + ".weight", name.equals(CLIP))) {
            outputs.add(b.linear(VISUAL_PROJECTION, visionOut, d.size(VISUAL_PROJECTION + ".weight", 0, NEW_TEXT_WIDTH),
                    false));
        } else if (vision) {
            outputs.add(visionOut);
        }
        if (text && d.has(TEXT_PROJECTION + ".weight", name.equals(CLIP))) {
            outputs.add(b.linear(TEXT_PROJECTION, textOut, d.size(TEXT_PROJECTION + ".weight", 0, NEW_TEXT_WIDTH), false));
        } else if (text) {
            outputs.add(textOut);
        }
        if (d.has(LOGIT_SCALE, name.equals(CLIP))) {
            outputs.add(b.param(LOGIT_SCALE, LOGIT_SCALE, new long[0], null));
        }
        return new Architecture(name, b.build(outputs.toArray(String[]::new)), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** The text tower on {@code ids}: its last hidden state (after final_layer_norm). */
    private static String textTower(GraphBuilder b, Dims top, String name, String ids) {
        Dims d = top; // a CLIPModel's text_config is read at the top (Models.textConfig)
        long vocab = d.size(TOKEN_EMBEDDING, 0, NEW_VOCAB);
        long width = d.size(TOKEN_EMBEDDING, 1, NEW_TEXT_WIDTH);
        long positions = d.size(TEXT_POSITIONS, 0, NEW_TEXT_POSITIONS);
        LlamaFamily.agree(name, d, "vocab_size", vocab, TOKEN_EMBEDDING);
        LlamaFamily.agree(name, d, "hidden_size", width, TOKEN_EMBEDDING);
        String h = b.embedding(TEXT + "embeddings.token_embedding", ids, TOKEN_EMBEDDING, vocab, width);
        Map<String, long[]> buffers = new LinkedHashMap<>();
        if (d.has(TEXT + POSITION_IDS, false)) { // (older versions saved it)
            buffers.put(TEXT + POSITION_IDS, d.shape(TEXT + POSITION_IDS));
        }
        h = b.add(TEXT + "embeddings.add_positions", h, b.positionEmbedding(TEXT + "embeddings.position_embedding", ids,
                TEXT_POSITIONS, positions, width, 0, -1, buffers));
        h = layers(b, d, name, TEXT, h, width, true, null);
        boolean headless = name.equals(TEXT_ONLY) && !d.has(TEXT_PROJECTION + ".weight", false);
        return b.layerNorm(TEXT + "final_layer_norm", h, eps(name, d), headless);
    }

    /**
     * The vision tower on {@code pixels}: its pooled class token (after post_layernorm); without a projection its last
     * hidden state is an output too (added to {@code outputs}).
     */
    private static String visionTower(GraphBuilder b, Dims top, String name, String pixels, List<String> outputs) {
        Dims d = name.equals(CLIP) && top.config("vision_config") instanceof Map<?, ?> m
                ? Dims.of(top.shapes(), top.options(), stringKeys(m)) : top;
        long width = d.size(PATCHES, 0, NEW_VISION_WIDTH);
        long patch = d.size(PATCHES, 2, NEW_PATCH);
        long channels = d.size(PATCHES, 1, 3);
        long[] positions = d.shape(VISION_POSITIONS);
        if (positions == null || positions.length != 2) {
            long side = top.options().inputSize() / patch;
            positions = new long[] {side * side + 1, width};
        }
        long side = Math.round(Math.sqrt(positions[0] - 1));
        LlamaFamily.agree(name, d, "hidden_size", width, PATCHES);
        LlamaFamily.agree(name, d, "patch_size", patch, PATCHES);
        LlamaFamily.agree(name, d, "image_size", side * patch, VISION_POSITIONS);
        LlamaFamily.agree(name, d, "num_channels", channels, PATCHES);
        String ids = d.has(VISION + POSITION_IDS, false) ? VISION + POSITION_IDS : null; // (older versions saved it)
        b.tensor(CLASS_EMBEDDING, width); // the embeddings' own parameter and buffer first, as PyTorch lists them
        if (ids != null) {
            b.tensor(ids, d.shape(ids));
        }
        String x = b.conv(VISION + "embeddings.patch_embedding", pixels, width, new long[] {patch, patch}, patch, 0, 1, 1,
                false);
        x = b.toTokens(VISION + "embeddings.tokens", x);
        x = b.concat(VISION + "embeddings.cat", List.of(b.param(CLASS_EMBEDDING, CLASS_EMBEDDING, new long[] {width}, x),
                x), 1, false);
        x = b.add(VISION + "embeddings.add_positions", x, b.param(VISION_POSITIONS, VISION_POSITIONS, positions, null));
        double eps = eps(name, d);
        x = b.layerNorm(VISION + "pre_layrnorm", x, eps);
        x = layers(b, d, name, VISION, x, width, false, ids);
        boolean headless = !d.has(VISUAL_PROJECTION + ".weight", name.equals(CLIP));
        if (headless) {
            outputs.add(b.act(VISION + "last_hidden_state", x, Op.Activation.IDENTITY, true));
        }
        return b.layerNorm(VISION + "post_layernorm", b.select(VISION + "pooled", x, 1, 0), eps, headless);
    }

    /**
     * A tower's pre-norm layers on {@code x}; {@code causal}: the text's mask. {@code buffer}: a saved tensor no node
     * reads (the vision tower's position_ids), held by the first attention as a buffer.
     */
    private static String layers(GraphBuilder b, Dims d, String name, String tower, String x, long width, boolean causal,
            String buffer) {
        long heads = d.fromCheckpoint() ? LlamaFamily.heads(name, d, "num_attention_heads", width, tower + LAYERS
                + "0.self_attn.q_proj.weight") : width / NEW_HEAD_DIM;
        if (width % heads != 0) {
            throw LadyException.invalidInput(name + ": width " + width + " is not a whole number of " + heads + " heads");
        }
        long headDim = width / heads;
        Object fnName = d.config("hidden_act") != null ? d.config("hidden_act") : DEFAULT_ACT;
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        String unsupported = fn != null ? null : "the activation " + Json.write(fnName) + " is not computed by Lady's "
                + "forward pass (" + String.join(", ", new TreeSet<>(LlamaFamily.ACTIVATIONS.keySet())) + " are)";
        double eps = eps(name, d);
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", causal ? 1L : 0L);
        attrs.put("attn_scale", 1 / Math.sqrt(headDim));
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
                    headDim, attrs);
            x = b.add(l + ".attention_residual", x, a);
            String fc = l + ".mlp.fc1";
            String y = b.linear(fc, b.layerNorm(l + ".layer_norm2", x, eps), d.size(fc + ".weight", 0, 4 * width), true);
            y = unsupported == null ? b.act(l + ".mlp.act", y, fn) : b.act(l + ".mlp.act", y, Op.Activation.GELU, unsupported);
            x = b.add(l + ".mlp_residual", x, b.linear(l + ".mlp.fc2", y, width, true));
        }
        LlamaFamily.agree(name, d, "num_hidden_layers", n, tower + LAYERS + "N.self_attn.q_proj.weight");
        return x;
    }

    private static double eps(String name, Dims d) {
        return LlamaFamily.positive(name, d, "layer_norm_eps", EPS);
    }

    private static Map<String, Object> stringKeys(Map<?, ?> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }
}
