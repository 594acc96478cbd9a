package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * The encoder-decoders of transformers' BART lineage, as Hugging Face saves them (model types {@code bart}: BART,
 * DistilBART; {@code mbart}: mBART; {@code marian}: the opus-mt translation models; {@code pegasus}: PEGASUS;
 * {@code blenderbot}: Blenderbot, PEGASUS's layout), read under their model type's name. Under {@code model.} with
 * {@code lm_head} and {@code final_logits_bias} (…ForConditionalGeneration, MarianMTModel), or without a prefix (BartModel:
 * no head).
 * <ul>
 *   <li>{@code shared} (the token embedding of both stacks; a checkpoint that also saved its ties {@code
 *       encoder.embed_tokens}, {@code decoder.embed_tokens} reads each stack's two as one, their mean; Marian's
 *       unshared embeddings, each stack its own), times sqrt(d_model) where config.json's scale_embedding says so;</li>
 *   <li>{@code embed_positions} per stack, added: learned rows from row 2 (BART, mBART), or from row 0 (Marian's and
 *       PEGASUS's sinusoids, Blenderbot's learned rows): saved with the weights, they move with the stream; Lady refuses
 *       a checkpoint that left them out (newer transformers versions do not save sinusoids);</li>
 *   <li>BART and mBART: {@code layernorm_embedding} after the sum;</li>
 *   <li>per layer {@code layers.i}: {@code self_attn} (q, k, v and out projections with biases, scores scaled by
 *       head_dim^-1/2; the decoder's causal), {@code self_attn_layer_norm}; in the decoder {@code encoder_attn} (its keys
 *       and values from the encoder's output) and {@code encoder_attn_layer_norm}; {@code fc1}, the activation
 *       (activation_function), {@code fc2}, {@code final_layer_norm}. BART and Marian normalize after each residual sum
 *       (x = LN(x + f(x))), mBART, PEGASUS and Blenderbot before (x = x + f(LN(x))), closing each stack with its {@code
 *       layer_norm};</li>
 *   <li>{@code lm_head} on the decoder's output (the embedding matrix, the decoder's for Marian's unshared ones, when
 *       not saved) plus {@code final_logits_bias} [1, vocab]; a model without a head outputs the decoder's last hidden
 *       state, whose channel order is free.</li>
 * </ul>
 * What moves: the residual stream (one for both stacks where they share the embedding; the cross-attention's keys read
 * the encoder's), every attention's heads (the encoder's, the decoder's self- and cross-attention's, per layer), each
 * head's query-key and value dimensions, each layer's MLP units. Lady's forward runs the decoder on a fixed seeded
 * sequence of token ids and compares the logits. Heads come from config.json (encoder_attention_heads,
 * decoder_attention_heads).
 */
final class BartFamily implements Family {
    static final String BART = "bart";
    static final String MBART = "mbart";
    static final String MARIAN = "marian";
    static final String PEGASUS = "pegasus";
    static final String BLENDERBOT = "blenderbot";
    private static final String HEADED = "model.";
    private static final String ENC = "encoder.";
    private static final String DEC = "decoder.";
    private static final String Q0 = "layers.0.self_attn.q_proj.weight";
    private static final String CROSS0 = DEC + "layers.0.encoder_attn.q_proj.weight";
    private static final String LM_HEAD = "lm_head.weight";
    private static final String LOGITS_BIAS = "final_logits_bias";
    /** BART's learned positions start at row 2 (BartLearnedPositionalEmbedding's offset). */
    private static final long BART_OFFSET = 2;
    /** nn.LayerNorm's default eps, which these models keep. */
    private static final double EPS = 1e-5;
    /** A new model's sizes: bart-base's. */
    private static final long NEW_WIDTH = 768;
    private static final long NEW_VOCAB = 50265;
    private static final long NEW_HEADS = 12;
    private static final long NEW_FF = 3072;
    private static final long NEW_POSITIONS = 1024;
    private static final int NEW_LAYERS = 6;

    @Override
    public List<String> names() {
        return List.of(BART, MBART, MARIAN, PEGASUS, BLENDERBOT);
    }

    @Override
    public List<String> modelTypes() {
        return names();
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        return recognize(s, Map.of());
    }

    @Override
    public String recognize(Map<String, long[]> s, Map<String, ?> config) {
        String p = s.containsKey(HEADED + ENC + Q0) ? HEADED : s.containsKey(ENC + Q0) ? "" : null;
        if (p == null || !s.containsKey(p + CROSS0) || !s.containsKey(p + ENC + "embed_positions.weight")
                || !s.containsKey(p + "shared.weight") && !s.containsKey(p + ENC + "embed_tokens.weight")) {
            return null; // (Whisper's encoder reads audio: no token embedding)
        }
        if (config.get("model_type") instanceof String type) {
            return names().contains(type) ? type : null;
        }
        // without config.json, the layout's name (its heads, which only config.json gives, are then refused)
        boolean embeddingNorm = s.containsKey(p + ENC + "layernorm_embedding.weight");
        boolean preNorm = s.containsKey(p + ENC + "layer_norm.weight");
        return embeddingNorm ? preNorm ? MBART : BART : preNorm ? PEGASUS : MARIAN;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String p = s.containsKey(HEADED + ENC + Q0) ? HEADED : "";
        String emb = s.containsKey(p + "shared.weight") ? p + "shared.weight" : p + ENC + "embed_tokens.weight";
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, emb, 0, NEW_VOCAB)), 1.0, 0, 1, 1);
    }

    /** What one model type computes: where it normalizes, its embedding norm, its positions' first row. */
    private record Layout(boolean preNorm, boolean embeddingNorm, long positionOffset) {
        static Layout of(String name) {
            return switch (name) {
                case BART -> new Layout(false, true, BART_OFFSET);
                case MBART -> new Layout(true, true, BART_OFFSET);
                case MARIAN -> new Layout(false, false, 0);
                default -> new Layout(true, false, 0); // PEGASUS, Blenderbot
            };
        }
    }

    /** The sizes and functions both stacks share. */
    private record Shape(Layout layout, long width, long vocab, double embedScale, Op.Activation act, String actUnsupported,
            double eps) {}

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        String p = d.fromCheckpoint() && !d.has(HEADED + ENC + Q0, false) ? "" : HEADED;
        boolean headed = !p.isEmpty();
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        String decoderIds = b.tokens("decoder_input_ids");
        String shared = p + "shared.weight";
        boolean isShared = !d.fromCheckpoint() || d.has(shared, true);
        String emb = isShared ? shared : p + ENC + "embed_tokens.weight";
        long vocab = d.size(emb, 0, NEW_VOCAB);
        long width = d.size(emb, 1, NEW_WIDTH);
        LlamaFamily.agree(name, d, "vocab_size", vocab, emb);
        LlamaFamily.agree(name, d, "d_model", width, emb);
        Object fnName = d.config("activation_function") != null ? d.config("activation_function") : "gelu";
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        double scale = Boolean.TRUE.equals(d.config("scale_embedding")) ? Math.sqrt(width) : 1;
        Shape t = new Shape(Layout.of(name), width, vocab, scale, fn, fn != null ? null
                : LlamaFamily.unsupportedActivation("activation_function", fnName), EPS);
        String encoded = stack(b, d, name, t, p, ENC, ids, isShared, null, false);
        String h = stack(b, d, name, t, p, DEC, decoderIds, isShared, encoded, !headed);
        if (!headed) { // BartModel: the decoder's last hidden state, its order free
            return new Architecture(name, b.build(h), Architecture.Init.PYTORCH_DEFAULT);
        }
        String head = d.has(LM_HEAD, false) ? LM_HEAD : isShared ? shared : p + DEC + "embed_tokens.weight";
        String logits = b.linear("lm_head", h, head, null, vocab);
        if (d.has(LOGITS_BIAS, true)) {
            logits = b.add("final_logits_bias.add", logits, b.param(LOGITS_BIAS, LOGITS_BIAS, new long[] {1, vocab}, null));
        }
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT);
    }

    /**
     * The stack under {@code p + stack} on token ids {@code ids}: the encoder ({@code memory} null) or the decoder, whose
     * cross-attention reads {@code memory}; {@code free}: its output's channel order is free (a model without head).
     */
    private static String stack(GraphBuilder b, Dims d, String name, Shape t, String p, String stack, String ids,
            boolean shared, String memory, boolean free) {
        boolean decoder = memory != null;
        String s = p + stack;
        String own = s + "embed_tokens.weight";
        String h;
        if (!shared) {
            h = b.embedding(s + "embed_tokens", ids, own, t.vocab(), t.width(), t.embedScale());
        } else {
            h = b.embedding(s + "shared", ids, p + "shared.weight", t.vocab(), t.width(), t.embedScale());
            if (d.has(own, false)) { // the tie saved under both names (torch.save): one tensor, read as their mean
                h = b.scale(s + "embeddings.mean", b.add(s + "embeddings.both", h, b.embedding(s + "embed_tokens", ids,
                        own, t.vocab(), t.width(), t.embedScale())), 0.5);
            }
        }
        String positions = s + "embed_positions.weight";
        if (d.fromCheckpoint() && !d.has(positions, false)) {
            throw LadyException.invalidInput(name + ": the checkpoint has no " + positions + " (sinusoidal positions, "
                    + "which newer transformers versions do not save); Lady needs them saved with the weights: they move "
                    + "with the residual stream");
        }
        long offset = t.layout().positionOffset();
        long rows = d.size(positions, 0, NEW_POSITIONS + offset);
        h = b.add(s + "embed_positions.add", h, b.positionEmbedding(s + "embed_positions", ids, positions, rows,
                t.width(), offset));
        if (t.layout().embeddingNorm()) {
            h = b.layerNorm(s + "layernorm_embedding", h, t.eps());
        }
        String q0 = s + Q0;
        long heads = d.fromCheckpoint() ? LlamaFamily.heads(name, d, decoder ? "decoder_attention_heads"
                : "encoder_attention_heads", d.size(q0, 0, 0), q0) : NEW_HEADS;
        long headDim = t.width() / heads;
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", decoder ? 1L : 0L);
        attrs.put("attn_scale", 1 / Math.sqrt(headDim));
        Map<String, Object> crossAttrs = new LinkedHashMap<>(attrs);
        crossAttrs.put("causal", 0L);
        boolean pre = t.layout().preNorm();
        int n = 0;
        for (; d.has(s + "layers." + n + ".self_attn.q_proj.weight", n < NEW_LAYERS); n++) {
            String l = s + "layers." + n + ".";
            boolean last = !d.has(s + "layers." + (n + 1) + ".self_attn.q_proj.weight", n + 1 < NEW_LAYERS);
            h = sublayer(b, t, l + "self_attn_layer_norm", h, x -> b.attentionGqa(l + "self_attn", x,
                    projections(l + "self_attn"), heads, heads, headDim, attrs), false);
            if (decoder) {
                h = sublayer(b, t, l + "encoder_attn_layer_norm", h, x -> b.crossAttentionGqa(l + "encoder_attn", x,
                        memory, projections(l + "encoder_attn"), heads, heads, headDim, crossAttrs), false);
            }
            long units = d.size(l + "fc1.weight", 0, NEW_FF);
            h = sublayer(b, t, l + "final_layer_norm", h, x -> {
                String y = b.linear(l + "fc1", x, units, true);
                y = t.act() != null ? b.act(l + "activation", y, t.act()) : b.act(l + "activation", y, Op.Activation.GELU,
                        t.actUnsupported());
                return b.linear(l + "fc2", y, t.width(), true);
            }, free && last && !pre);
        }
        LlamaFamily.agree(name, d, decoder ? "decoder_layers" : "encoder_layers", n, s + "layers.N.self_attn.q_proj.weight");
        return pre ? b.layerNorm(s + "layer_norm", h, t.eps(), free) : h;
    }

    /**
     * A residual sublayer {@code f} with its norm {@code norm}: x + f(LN(x)) before, LN(x + f(x)) after ({@code free}:
     * the norm's output is the model's, its order free).
     */
    private static String sublayer(GraphBuilder b, Shape t, String norm, String x,
            java.util.function.UnaryOperator<String> f, boolean free) {
        if (t.layout().preNorm()) {
            return b.add(norm + ".residual", x, f.apply(b.layerNorm(norm, x, t.eps())));
        }
        return b.layerNorm(norm, b.add(norm + ".residual", x, f.apply(x)), t.eps(), free);
    }

    /** The q, k, v and out projections of attention module {@code a}, with their biases. */
    private static Map<String, String> projections(String a) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String[] role : new String[][] {{"q", "q_proj"}, {"k", "k_proj"}, {"v", "v_proj"}, {"o", "out_proj"}}) {
            names.put(role[0] + "_weight", a + "." + role[1] + ".weight");
            names.put(role[0] + "_bias", a + "." + role[1] + ".bias");
        }
        return names;
    }
}
