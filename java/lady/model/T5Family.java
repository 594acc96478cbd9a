package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * Hugging Face's T5 ({@code T5ForConditionalGeneration}, model types {@code t5}, {@code mt5} and {@code umt5}: t5-*,
 * flan-t5-*, t5-v1_1-*, mT5, UMT5), read as {@code t5}, and its encoder alone ({@code T5EncoderModel}: the text
 * encoders of Stable Diffusion 3 and FLUX, sentence-T5), read as {@code t5_encoder}.
 * <ul>
 *   <li>{@code shared} (the token embedding of both stacks; a checkpoint that also saved its ties {@code
 *       encoder.embed_tokens}, {@code decoder.embed_tokens} reads each stack's two as one, their mean);</li>
 *   <li>the encoder, per block {@code encoder.block.i}: {@code layer.0.layer_norm} (T5's RMS norm), {@code
 *       layer.0.SelfAttention} ({@code q}, {@code k}, {@code v}, {@code o} without biases, heads of d_kv, scores not
 *       scaled, every token seeing every token, plus block 0's {@code relative_attention_bias} [buckets, heads]: the
 *       row of each query-key distance's bucket, for every block; UMT5's: each block's own), the residual sum, {@code
 *       layer.1.layer_norm}, {@code layer.1.DenseReluDense} ({@code wi}, ReLU, {@code wo}; or T5 v1.1's gated {@code
 *       wi_0} through the activation times {@code wi_1}, then {@code wo}), the residual sum; {@code
 *       encoder.final_layer_norm};</li>
 *   <li>the decoder (a whole T5), per block {@code decoder.block.i}: the same self-attention, causal, its buckets
 *       one-sided ({@code layer.0}); {@code layer.1.EncDecAttention} (the same projections, its keys and values from the
 *       encoder's output, no position bias) after {@code layer.1.layer_norm}, the residual sum; the feed-forward
 *       ({@code layer.2}); {@code decoder.final_layer_norm};</li>
 *   <li>{@code lm_head} on the decoder's output, which is first scaled by d_model^-1/2 when the embeddings are tied
 *       (config.json's tie_word_embeddings, true by default: t5-*; the embedding matrix then when lm_head is not
 *       saved).</li>
 * </ul>
 * Lady's forward runs the decoder on a fixed seeded sequence of token ids ({@link GraphNetwork}'s second input).
 * The encoder's output, the last hidden state, has a free channel order (compared by its inner products, as every
 * encoder's features are; a diffusion model reads its text encoder's features in their order, so an encoder permuted
 * alone needs the reader's columns moved with it, which Lady does not do). What moves: the residual stream (one for both
 * stacks: the embedding and the cross-attention's keys tie them), the heads of each stack's self-attention (one order
 * for every block: the bias table's columns are shared; UMT5's per block), each block's cross-attention heads, each
 * head's query-key and value dimensions, each block's MLP units. Heads, d_kv, the buckets, their maximum distance, the
 * activation and the norm's eps come from config.json. A T5Model (no head) reads as the tied T5: it has the same
 * symmetries.
 */
final class T5Family implements Family {
    static final String ENCODER = "t5_encoder";
    static final String WHOLE = "t5";
    private static final String SHARED = "shared.weight";
    private static final String ENC = "encoder.";
    private static final String DEC = "decoder.";
    private static final String SELF = ".layer.0.SelfAttention";
    private static final String BIAS = ".relative_attention_bias.weight";
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
        return List.of(ENCODER, WHOLE);
    }

    @Override
    public List<String> modelTypes() {
        return List.of("t5", "mt5", "umt5");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        boolean encoder = s.containsKey(q(ENC, 0)) && (s.containsKey(SHARED) || s.containsKey(embed(ENC)));
        if (encoder && s.containsKey(q(DEC, 0))) {
            return WHOLE;
        }
        return encoder ? ENCODER : null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String emb = s.containsKey(SHARED) ? SHARED : embed(ENC);
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, emb, 0, NEW_VOCAB)), 1.0, 0, 1, 1);
    }

    /** Block {@code i}'s self-attention q weight in {@code stack} (encoder. or decoder.). */
    private static String q(String stack, int i) {
        return stack + "block." + i + SELF + ".q.weight";
    }

    /** A stack's own name for the shared embedding. */
    private static String embed(String stack) {
        return stack + "embed_tokens.weight";
    }

    /** The sizes and attributes every block of a T5 shares. */
    private record Shape(long width, long heads, long headDim, long buckets, long maxDistance, double eps, boolean gated,
            Op.Activation act) {}

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        boolean whole = WHOLE.equals(name);
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        String decoderIds = whole ? b.tokens("decoder_input_ids") : null;
        boolean shared = !d.fromCheckpoint() || d.has(SHARED, true);
        String emb = shared ? SHARED : embed(ENC);
        long vocab = d.size(emb, 0, NEW_VOCAB);
        long width = d.size(emb, 1, NEW_WIDTH);
        LlamaFamily.agree(name, d, "vocab_size", vocab, emb);
        LlamaFamily.agree(name, d, "d_model", width, emb);
        long inner = d.size(q(ENC, 0), 0, NEW_HEADS * NEW_HEAD_DIM); // the heads' rows: heads x d_kv
        long heads = d.fromCheckpoint() ? LlamaFamily.heads(name, d, "num_heads", inner, q(ENC, 0)) : NEW_HEADS;
        long headDim = inner / heads;
        LlamaFamily.agree(name, d, "d_kv", headDim, q(ENC, 0));
        String bias0 = ENC + "block.0" + SELF + BIAS;
        long buckets = d.size(bias0, 0, d.configLong("relative_attention_num_buckets", BUCKETS));
        LlamaFamily.agree(name, d, "relative_attention_num_buckets", buckets, bias0);
        double eps = LlamaFamily.positive(name, d, "layer_norm_epsilon", EPS);
        Object proj = d.config("feed_forward_proj");
        String ffProj = proj instanceof String p ? p : "relu";
        boolean gated = d.fromCheckpoint() ? d.has(ENC + "block.0.layer.1.DenseReluDense.wi_0.weight", false)
                : ffProj.startsWith("gated-");
        String actName = ffProj.startsWith("gated-") ? ffProj.substring("gated-".length()) : ffProj;
        Op.Activation act = "gelu".equals(actName) ? Op.Activation.GELU_TANH // (T5 v1.1's gated-gelu: gelu_new)
                : LlamaFamily.ACTIVATIONS.getOrDefault(actName, null);
        if (act == null) {
            throw LadyException.invalidInput(name + ": config.json's feed_forward_proj " + lady.util.Text.quote(ffProj)
                    + " is not one Lady's forward computes (relu, gated-gelu, gated-silu)");
        }
        Shape t = new Shape(width, heads, headDim, buckets, d.configLong("relative_attention_max_distance", MAX_DISTANCE),
                eps, gated, act);
        String encoded = stack(b, d, name, t, ENC, embedding(b, d, ENC, ids, shared, vocab, width), null);
        if (!whole) {
            return new Architecture(name, b.build(encoded), Architecture.Init.PYTORCH_DEFAULT);
        }
        String h = stack(b, d, name, t, DEC, embedding(b, d, DEC, decoderIds, shared, vocab, width), encoded);
        boolean hasHead = d.has("lm_head.weight", false);
        boolean tied = !Boolean.FALSE.equals(d.config("tie_word_embeddings"));
        if (!tied && !hasHead) {
            throw LadyException.invalidInput(name + ": config.json says tie_word_embeddings is false, but the checkpoint "
                    + "has no lm_head.weight (a shard missing from the folder?)");
        }
        if (tied) { // T5 rescales before projecting on the vocabulary with the embedding matrix
            h = b.scale("lm_head.rescale", h, 1 / Math.sqrt(width));
        }
        String logits = hasHead ? b.linear("lm_head", h, vocab, false) : b.linear("lm_head", h, emb, null, vocab);
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT);
    }

    /**
     * The token embedding of {@code stack}: {@code shared}, or the stack's own name where the checkpoint has no shared;
     * the tie saved under both names (torch.save) is one tensor, read as their mean.
     */
    private static String embedding(GraphBuilder b, Dims d, String stack, String ids, boolean shared, long vocab,
            long width) {
        String own = embed(stack);
        if (!shared) {
            return b.embedding(stack + "embed_tokens", ids, own, vocab, width);
        }
        String node = ENC.equals(stack) ? "" : stack; // (the encoder's nodes keep the names of T5EncoderModel's)
        String h = b.embedding(node + "shared", ids, SHARED, vocab, width);
        if (d.has(own, false)) {
            h = b.meanWithTie(node, h, ids, own, vocab, width, 1);
        }
        return h;
    }

    /**
     * The blocks of {@code stack} on {@code h} and its final norm: the encoder's ({@code memory} null), or the decoder's,
     * whose cross-attention reads {@code memory}.
     */
    private static String stack(GraphBuilder b, Dims d, String name, Shape t, String stack, String h, String memory) {
        boolean decoder = memory != null;
        String bias0 = stack + "block.0" + SELF + BIAS;
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", decoder ? 1L : 0L);
        attrs.put("attn_scale", 1.0); // (T5 folds the scaling into its weights' initialization)
        attrs.put("head_bias_axis", 1L);
        attrs.put(LlamaAttention.T5_BUCKETS, t.buckets());
        attrs.put(LlamaAttention.T5_MAX_DISTANCE, t.maxDistance());
        Map<String, Object> crossAttrs = new LinkedHashMap<>();
        crossAttrs.put("rotary_dim", 0L);
        crossAttrs.put("causal", 0L);
        crossAttrs.put("attn_scale", 1.0);
        b.tensor(bias0, t.buckets(), t.heads());
        int ffLayer = decoder ? 2 : 1;
        int n = 0;
        for (; d.has(q(stack, n), n < NEW_LAYERS); n++) {
            String l = stack + "block." + n + ".layer.";
            String a = l + "0.SelfAttention";
            String bias = a + BIAS;
            if (n > 0 && d.has(bias, false)) { // UMT5: each block's own table, its heads in their own order
                b.tensor(bias, t.buckets(), t.heads());
            }
            Map<String, String> names = projections(a);
            names.put("head_bias", n > 0 && d.has(bias, false) ? bias : bias0);
            h = b.add(l + "0.residual", h, b.attentionGqa(a, b.rmsNorm(l + "0.layer_norm", h, t.eps(), 0, false), names,
                    t.heads(), t.heads(), t.headDim(), attrs));
            if (decoder) {
                String c = l + "1.EncDecAttention";
                h = b.add(l + "1.residual", h, b.crossAttentionGqa(c, b.rmsNorm(l + "1.layer_norm", h, t.eps(), 0, false),
                        memory, projections(c), t.heads(), t.heads(), t.headDim(), crossAttrs));
            }
            String ff = l + ffLayer + ".DenseReluDense";
            String x = b.rmsNorm(l + ffLayer + ".layer_norm", h, t.eps(), 0, false);
            long units = d.size(ff + (t.gated() ? ".wi_0" : ".wi") + ".weight", 0, NEW_FF);
            String y;
            if (t.gated()) {
                y = b.mul(ff + ".gate", b.act(ff + ".act", b.linear(ff + ".wi_0", x, units, false), t.act()),
                        b.linear(ff + ".wi_1", x, units, false));
            } else {
                y = b.act(ff + ".act", b.linear(ff + ".wi", x, units, false), t.act());
            }
            h = b.add(l + ffLayer + ".residual", h, b.linear(ff + ".wo", y, t.width(), false));
        }
        LlamaFamily.agree(name, d, decoder ? "num_decoder_layers" : "num_layers", n, stack + "block.N" + SELF + ".q.weight");
        // an encoder's output alone is its last hidden state, whose order is free; a whole T5's feeds the decoder
        return b.rmsNorm(stack + "final_layer_norm", h, t.eps(), 0, !decoder && !WHOLE.equals(name));
    }

    /** The q, k, v and o weights of attention module {@code a}. */
    private static Map<String, String> projections(String a) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String role : List.of("q", "k", "v", "o")) {
            names.put(role + "_weight", a + "." + role + ".weight");
        }
        return names;
    }
}
