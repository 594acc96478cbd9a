package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * Hugging Face's DINOv2 backbone ({@code Dinov2Model}, model type {@code dinov2}: facebook/dinov2-small .. -giant; its
 * names, or under {@code dinov2.}): {@code embeddings.patch_embeddings.projection} (a convolution of patch_size into
 * tokens), {@code embeddings.cls_token} before them, {@code embeddings.position_embeddings} added (images of the size
 * they hold: no interpolation), {@code embeddings.mask_token} (saved, read only for masked pre-training: it moves with
 * the channels); per layer {@code encoder.layer.i}: {@code norm1}, the attention ({@code attention.attention.query / key
 * / value}, {@code attention.output.dense}; every token sees every token), {@code layer_scale1.lambda1}, the residual
 * sum, {@code norm2}, the MLP ({@code mlp.fc1}, hidden_act, {@code mlp.fc2}; or giant's SwiGLU {@code mlp.weights_in}
 * (SiLU of the first half times the second) and {@code mlp.weights_out}), {@code layer_scale2.lambda1}, the residual
 * sum; {@code layernorm}. Outputs: the last hidden state and the class token's (pooled) features, their channel orders
 * free (a backbone is compared by its features' inner products); Dinov2ForImageClassification (under {@code dinov2.})
 * adds {@code classifier} on the class token and the patch tokens' mean side by side, its logits the output. LayerNorm
 * eps config.json's layer_norm_eps (1e-6), heads config.json's num_attention_heads (else heads of 64, as every DINOv2
 * has). Named by width: dinov2_small (384), _base (768), _large (1024), _giant (1536); {@code dinov2} for others.
 */
final class Dinov2Family implements Family {
    private static final Map<Long, String> BY_WIDTH = Map.of(384L, "dinov2_small", 768L, "dinov2_base", 1024L,
            "dinov2_large", 1536L, "dinov2_giant");
    private static final String ANY = "dinov2";
    private static final String EMB = "embeddings.";
    /** Dinov2ForImageClassification's classifier (on the class token and the patches' mean, side by side). */
    private static final String HEAD = "classifier";
    private static final String PROJECTION = EMB + "patch_embeddings.projection";
    private static final String LAYERS = "encoder.layer.";
    private static final long HEAD_DIM = 64;
    private static final double EPS = 1e-6;

    @Override
    public List<String> names() {
        return List.of("dinov2_small", "dinov2_base", "dinov2_large", "dinov2_giant", ANY);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("dinov2");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        String p = prefix(s);
        if (p == null) {
            return null;
        }
        return BY_WIDTH.getOrDefault(Family.dim(s, p + PROJECTION + ".weight", 0, 0), ANY);
    }

    /** The checkpoint's prefix ("" or "dinov2."), or null when it is no DINOv2 backbone. */
    private static String prefix(Map<String, long[]> s) {
        for (String p : List.of("", "dinov2.")) {
            if (s.containsKey(p + EMB + "mask_token") && s.containsKey(p + PROJECTION + ".weight")
                    && s.containsKey(p + LAYERS + "0.layer_scale1.lambda1") && s.containsKey(p + "layernorm.weight")
                    && (p.isEmpty() ? !s.containsKey(HEAD + ".weight") : s.containsKey(HEAD + ".weight"))) {
                return p;
            }
        }
        return null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String p = prefix(s);
        if (p == null) {
            throw LadyException.invalidInput(name + " is read from a DINOv2 checkpoint (Dinov2Model's tensors)");
        }
        long patch = Family.dim(s, p + PROJECTION + ".weight", 2, 14);
        long positions = Family.dim(s, p + EMB + "position_embeddings", 1, 2);
        long side = Math.round(Math.sqrt(positions - 1));
        if (side < 1 || side * side != positions - 1) {
            throw LadyException.invalidInput(name + ": the position embeddings hold " + positions + " positions, not 1 + a "
                    + "square number of patches");
        }
        return new ModelOptions((int) Family.dim(s, HEAD + ".weight", 0, ModelOptions.defaults().numClasses()), 1.0, 0,
                (int) Family.dim(s, p + PROJECTION + ".weight", 1, 3), (int) (side * patch));
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " is read from DINOv2 checkpoints (Hugging Face's "
                    + "Dinov2Model), not created new");
        }
        String p = prefix(d.shapes());
        ModelOptions o = d.options();
        long patch = d.size(p + PROJECTION + ".weight", 2, 14);
        long dim = d.size(p + PROJECTION + ".weight", 0, 0);
        long side = o.inputSize() / patch;
        long heads = d.config("num_attention_heads") != null
                ? LlamaFamily.heads(name, d, "num_attention_heads", dim, p + PROJECTION + ".weight") : dim / HEAD_DIM;
        if (heads < 1 || dim % heads != 0) {
            throw LadyException.invalidInput(name + ": width " + dim + " is not a whole number of heads of " + HEAD_DIM
                    + "; give the folder's config.json (num_attention_heads)");
        }
        double eps = LlamaFamily.positive(name, d, "layer_norm_eps", EPS);
        Object act = d.config("hidden_act") != null ? d.config("hidden_act") : "gelu";
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(act);
        if (fn == null) {
            throw LadyException.invalidInput(name + ": config.json's hidden_act " + lady.util.Text.quote(String.valueOf(act))
                    + " is not an activation Lady runs (" + String.join(", ", new java.util.TreeSet<>(
                    LlamaFamily.ACTIVATIONS.keySet())) + ")");
        }
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", 0L);
        attrs.put("attn_scale", 1 / Math.sqrt((double) dim / heads));

        GraphBuilder b = new GraphBuilder(name);
        String x = b.image("pixel_values", o.inputChannels(), side * patch, true);
        String cls = p + EMB + "cls_token";
        String mask = p + EMB + "mask_token";
        String pos = p + EMB + "position_embeddings";
        b.tensor(cls, 1, 1, dim); // the embeddings' own parameters first, as PyTorch lists them
        b.tensor(mask, 1, dim);
        b.tensor(pos, 1, side * side + 1, dim);
        x = b.conv(p + PROJECTION, x, dim, new long[] {patch, patch}, patch, 0, 1, 1, d.has(p + PROJECTION + ".bias", false));
        x = b.withFollower(x, "weight", 0, mask); // (the mask token moves with the channels, never read here)
        x = b.toTokens(p + EMB + "tokens", x);
        x = b.concat(p + EMB + "cat", List.of(b.param(cls, cls, new long[] {1, 1, dim}, x), x), 1, false);
        x = b.add(p + EMB + "add_positions", x, b.param(pos, pos, new long[] {1, side * side + 1, dim}, null));
        for (int i = 0; d.has(p + LAYERS + i + ".norm1.weight", false); i++) {
            String l = p + LAYERS + i;
            Map<String, String> names = new LinkedHashMap<>();
            for (String[] role : new String[][] {{"q", ".attention.attention.query"}, {"k", ".attention.attention.key"},
                {"v", ".attention.attention.value"}, {"o", ".attention.output.dense"}}) {
                names.put(role[0] + "_weight", l + role[1] + ".weight");
                if (d.has(l + role[1] + ".bias", false)) {
                    names.put(role[0] + "_bias", l + role[1] + ".bias");
                }
            }
            String y = b.attentionGqa(l + ".attention", b.layerNorm(l + ".norm1", x, eps), names, heads, heads, dim / heads,
                    attrs);
            x = b.add(l + ".attention_residual", x, scale(b, l + ".layer_scale1", y));
            y = b.layerNorm(l + ".norm2", x, eps);
            if (d.has(l + ".mlp.weights_in.weight", false)) { // SwiGLU: SiLU of the first half times the second
                y = b.gatedLinear(l + ".mlp.weights_in", y, d.size(l + ".mlp.weights_in.weight", 0, 0) / 2,
                        d.has(l + ".mlp.weights_in.bias", false), Op.Activation.SILU, null);
                y = b.linear(l + ".mlp.weights_out", y, dim, d.has(l + ".mlp.weights_out.bias", false));
            } else {
                y = b.linear(l + ".mlp.fc1", y, d.size(l + ".mlp.fc1.weight", 0, 4 * dim), true);
                y = b.linear(l + ".mlp.fc2", b.act(l + ".mlp.activation", y, fn), dim, true);
            }
            x = b.add(l + ".mlp_residual", x, scale(b, l + ".layer_scale2", y));
        }
        if (d.has(HEAD + ".weight", false)) { // Dinov2ForImageClassification: the class token beside the patches' mean
            x = b.layerNorm(p + "layernorm", x, eps);
            String both = b.concat(HEAD + ".input", List.of(b.select(HEAD + ".class_token", x, 1, 0),
                    b.meanFrom(HEAD + ".patch_mean", x, 1, 1)), 1, true);
            return new Architecture(name, b.build(b.linear(HEAD, both, d.size(HEAD + ".weight", 0, 1), true)),
                    Architecture.Init.PYTORCH_DEFAULT);
        }
        x = b.layerNorm(p + "layernorm", x, eps, true);
        String pooled = b.freeChannels(b.select(p + "pooler", x, 1, 0));
        return new Architecture(name, b.build(x, pooled), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** {@code y} times the layer scale {@code module}.lambda1 (one factor per channel). */
    private static String scale(GraphBuilder b, String module, String y) {
        String lambda = module + ".lambda1";
        return b.mul(module, y, b.param(lambda, lambda, new long[] {b.width(y)}, null));
    }
}
