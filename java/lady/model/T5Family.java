package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * Hugging Face's T5 encoder ({@code T5EncoderModel}, model type {@code t5}: the text encoders of Stable Diffusion 3 and
 * FLUX, sentence-T5; t5-*, flan-t5-*, t5-v1_1-* encoders), read as {@code t5_encoder}.
 * <ul>
 *   <li>{@code shared} (the token embedding; a checkpoint that also saved its tie {@code encoder.embed_tokens} reads
 *       the two as one, their mean);</li>
 *   <li>per block {@code encoder.block.i}: {@code layer.0.layer_norm} (T5's RMS norm), {@code layer.0.SelfAttention}
 *       ({@code q}, {@code k}, {@code v}, {@code o} without biases, heads of d_kv, scores not scaled, every token seeing
 *       every token, plus block 0's {@code relative_attention_bias} [buckets, heads]: the row of each query-key
 *       distance's bucket, for every block), the residual sum, {@code layer.1.layer_norm}, {@code
 *       layer.1.DenseReluDense} ({@code wi}, ReLU, {@code wo}; or T5 v1.1's gated {@code wi_0} through the activation
 *       times {@code wi_1}, then {@code wo}), the residual sum;</li>
 *   <li>{@code encoder.final_layer_norm}.</li>
 * </ul>
 * The output, the last hidden state, has a free channel order (compared by its inner products, as every encoder's
 * features are; a diffusion model reads its text encoder's features in their order, so an encoder permuted alone needs
 * the reader's columns moved with it, which Lady does not do). What moves: the residual stream, the heads (one order for
 * every block: the bias table's columns are shared), each head's query-key and value dimensions, each block's MLP
 * units. Heads, d_kv, the buckets, their maximum distance, the activation and the norm's eps come from config.json.
 * The decoder of a whole T5 (T5ForConditionalGeneration) is not read.
 */
final class T5Family implements Family {
    static final String ENCODER = "t5_encoder";
    private static final String SHARED = "shared.weight";
    private static final String EMBED = "encoder.embed_tokens.weight";
    private static final String BLOCK = "encoder.block.";
    private static final String BIAS = BLOCK + "0.layer.0.SelfAttention.relative_attention_bias.weight";
    private static final String DECODER = "decoder.block.0.layer.0.SelfAttention.q.weight";
    private static final long BUCKETS = 32;
    /** transformers' relative_attention_max_distance when config.json gives none. */
    static final long MAX_DISTANCE = 128;
    private static final double EPS = 1e-6;
    /** A new model's sizes: t5-small's. */
    private static final long NEW_WIDTH = 512;
    private static final long NEW_VOCAB = 32128;
    private static final long NEW_HEADS = 8;
    private static final long NEW_HEAD_DIM = 64;
    private static final long NEW_FF = 2048;
    private static final int NEW_LAYERS = 6;

    @Override
    public List<String> names() {
        return List.of(ENCODER);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("t5");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        boolean encoder = s.containsKey(BLOCK + "0.layer.0.SelfAttention.q.weight")
                && (s.containsKey(SHARED) || s.containsKey(EMBED));
        if (encoder && s.containsKey(DECODER)) {
            throw LadyException.invalidInput("a whole T5 (T5ForConditionalGeneration: encoder and decoder): Lady reads T5's "
                    + "encoder (T5EncoderModel), not its decoder yet; save the encoder alone to compare it");
        }
        return encoder ? ENCODER : null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String emb = s.containsKey(SHARED) ? SHARED : EMBED;
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, emb, 0, NEW_VOCAB)), 1.0, 0, 1, 1);
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        boolean shared = !d.fromCheckpoint() || d.has(SHARED, true);
        String emb = shared ? SHARED : EMBED;
        long vocab = d.size(emb, 0, NEW_VOCAB);
        long width = d.size(emb, 1, NEW_WIDTH);
        LlamaFamily.agree(name, d, "vocab_size", vocab, emb);
        LlamaFamily.agree(name, d, "d_model", width, emb);
        String h = b.embedding("shared", ids, emb, vocab, width);
        if (shared && d.has(EMBED, false)) { // the tie saved under both names (torch.save): one tensor, read as their mean
            h = b.scale("embeddings.mean", b.add("embeddings.both", h, b.embedding("encoder.embed_tokens", ids, EMBED,
                    vocab, width)), 0.5);
        }
        String q = BLOCK + "0.layer.0.SelfAttention.q.weight";
        long inner = d.size(q, 0, NEW_HEADS * NEW_HEAD_DIM); // the heads' rows: heads x d_kv
        long heads = d.fromCheckpoint() ? LlamaFamily.heads(name, d, "num_heads", inner, q) : NEW_HEADS;
        long headDim = inner / heads;
        LlamaFamily.agree(name, d, "d_kv", headDim, q);
        long buckets = d.size(BIAS, 0, d.configLong("relative_attention_num_buckets", BUCKETS));
        LlamaFamily.agree(name, d, "relative_attention_num_buckets", buckets, BIAS);
        b.tensor(BIAS, buckets, heads);
        double eps = LlamaFamily.positive(name, d, "layer_norm_epsilon", EPS);
        Object proj = d.config("feed_forward_proj");
        String ffProj = proj instanceof String p ? p : "relu";
        boolean gated = d.fromCheckpoint() ? d.has(BLOCK + "0.layer.1.DenseReluDense.wi_0.weight", false)
                : ffProj.startsWith("gated-");
        String actName = ffProj.startsWith("gated-") ? ffProj.substring("gated-".length()) : ffProj;
        Op.Activation act = "gelu".equals(actName) ? Op.Activation.GELU_TANH // (T5 v1.1's gated-gelu: gelu_new)
                : LlamaFamily.ACTIVATIONS.getOrDefault(actName, null);
        if (act == null) {
            throw LadyException.invalidInput(name + ": config.json's feed_forward_proj " + lady.util.Text.quote(ffProj)
                    + " is not one Lady's forward computes (relu, gated-gelu, gated-silu)");
        }
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", 0L);
        attrs.put("attn_scale", 1.0); // (T5 folds the scaling into its weights' initialization)
        attrs.put("head_bias_axis", 1L);
        attrs.put(LlamaAttention.T5_BUCKETS, buckets);
        attrs.put(LlamaAttention.T5_MAX_DISTANCE, d.configLong("relative_attention_max_distance", MAX_DISTANCE));
        int n = 0;
        for (; d.has(BLOCK + n + ".layer.0.SelfAttention.q.weight", n < NEW_LAYERS); n++) {
            String l = BLOCK + n + ".layer.";
            String a = l + "0.SelfAttention";
            Map<String, String> names = new LinkedHashMap<>();
            for (String role : List.of("q", "k", "v", "o")) {
                names.put(role + "_weight", a + "." + role + ".weight");
            }
            names.put("head_bias", BIAS);
            h = b.add(l + "0.residual", h, b.attentionGqa(a, b.rmsNorm(l + "0.layer_norm", h, eps, 0, false), names, heads,
                    heads, headDim, attrs));
            String ff = l + "1.DenseReluDense";
            String x = b.rmsNorm(l + "1.layer_norm", h, eps, 0, false);
            long units = d.size(ff + (gated ? ".wi_0" : ".wi") + ".weight", 0, NEW_FF);
            String y;
            if (gated) {
                y = b.mul(ff + ".gate", b.act(ff + ".act", b.linear(ff + ".wi_0", x, units, false), act),
                        b.linear(ff + ".wi_1", x, units, false));
            } else {
                y = b.act(ff + ".act", b.linear(ff + ".wi", x, units, false), act);
            }
            h = b.add(l + "1.residual", h, b.linear(ff + ".wo", y, width, false));
        }
        LlamaFamily.agree(name, d, "num_layers", n, BLOCK + "N.layer.0.SelfAttention.q.weight");
        h = b.rmsNorm("encoder.final_layer_norm", h, eps, 0, true);
        return new Architecture(name, b.build(h), Architecture.Init.PYTORCH_DEFAULT);
    }
}
