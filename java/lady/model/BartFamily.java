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
 * {@code blenderbot}: Blenderbot, PEGASUS's layout; {@code whisper}: Whisper, whose encoder reads log-mel frames;
 * {@code m2m100}: M2M100 and NLLB, PEGASUS's layout with sinusoidal positions computed, not saved, counted from
 * pad_token_id + 1 as RoBERTa's: they fix the stream's order, which then stays while the rest moves),
 * read under their model type's name. Under {@code model.} with {@code lm_head} and {@code final_logits_bias}
 * (…ForConditionalGeneration, MarianMTModel; Whisper's {@code proj_out}, no bias), or without a prefix (BartModel,
 * WhisperModel: no head).
 * <ul>
 *   <li>{@code shared} (the token embedding of both stacks; a checkpoint that also saved its ties {@code
 *       encoder.embed_tokens}, {@code decoder.embed_tokens} reads each stack's two as one, their mean; Marian's
 *       unshared embeddings, each stack its own), times sqrt(d_model) where config.json's scale_embedding says so;</li>
 *   <li>{@code embed_positions} per stack, added: learned rows from row 2 (BART, mBART), or from row 0 (Marian's and
 *       PEGASUS's sinusoids, Blenderbot's learned rows): saved with the weights, they move with the stream; Lady refuses
 *       a checkpoint that left them out (newer transformers versions do not save sinusoids);</li>
 *   <li>BART and mBART: {@code layernorm_embedding} after the sum;</li>
 *   <li>Whisper's encoder: the log-mel frames (num_mel_bins x 2 max_source_positions) through {@code conv1} (kernel 3)
 *       and GELU, {@code conv2} (kernel 3, stride 2) and GELU, as tokens, plus every row of its saved sinusoids {@code
 *       embed_positions}; its decoder's learned positions from row 0; its k projections without bias;</li>
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
 * What moves: the residual stream (one for both stacks where they share the embedding, else one per stack: Marian's
 * unshared embeddings, Whisper's; the cross-attention's keys read the encoder's), Whisper's first convolution's
 * channels, every attention's heads (the encoder's, the decoder's self- and cross-attention's, per layer), each
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
    static final String WHISPER = "whisper";
    static final String M2M100 = "m2m100";
    /** M2M100's default pad_token_id: its positions start at row pad + 1. */
    private static final long M2M100_PAD = 1;
    private static final String HEADED = "model.";
    private static final String ENC = "encoder.";
    private static final String DEC = "decoder.";
    private static final String Q0 = "layers.0.self_attn.q_proj.weight";
    private static final String CROSS0 = DEC + "layers.0.encoder_attn.q_proj.weight";
    private static final String LM_HEAD = "lm_head.weight";
    /** BartForSequenceClassification's head (not read). */
    private static final String CLASSIFICATION_HEAD = "classification_head.";
    /** Whisper's audio convolutions (conv1, conv2) and its head. */
    private static final String AUDIO = ENC + "conv";
    private static final String PROJ_OUT = "proj_out.weight";
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
    /** A new Whisper's sizes: whisper-tiny's (its width, heads, MLP and layers; 80 mel bins, 1500 frames after the
     * convolutions, 448 decoder positions, 51865 tokens). */
    private static final long WHISPER_WIDTH = 384;
    private static final long WHISPER_HEADS = 6;
    private static final long WHISPER_FF = 1536;
    private static final int WHISPER_LAYERS = 4;
    private static final long WHISPER_MELS = 80;
    private static final long WHISPER_FRAMES = 1500;
    private static final long WHISPER_POSITIONS = 448;
    private static final long WHISPER_VOCAB = 51865;
    /** Whisper's audio convolutions: kernel 3, padding 1; the second one's stride halves the frames. */
    private static final long AUDIO_KERNEL = 3;
    private static final long AUDIO_STRIDE = 2;

    @Override
    public List<String> names() {
        return List.of(BART, MBART, MARIAN, PEGASUS, BLENDERBOT, WHISPER, M2M100);
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
        if (p != null && s.containsKey(p + CROSS0) && s.containsKey(p + AUDIO + "1.weight")) {
            return WHISPER;
        }
        if (p == null || !s.containsKey(p + CROSS0)
                || !s.containsKey(p + "shared.weight") && !s.containsKey(p + ENC + "embed_tokens.weight")) {
            return null;
        }
        if (s.keySet().stream().anyMatch(t -> t.startsWith(CLASSIFICATION_HEAD) || t.startsWith(p + CLASSIFICATION_HEAD))) {
            throw LadyException.invalidInput("a BART-like sequence classifier (" + CLASSIFICATION_HEAD + "*: "
                    + "BartForSequenceClassification, bart-large-mnli): Lady does not read its head, which reads the last "
                    + "end-of-sequence token; drop the head's tensors to compare the rest (its encoder and decoder)");
        }
        if (config.get("model_type") instanceof String type) {
            return names().contains(type) ? type : null;
        }
        if (!s.containsKey(p + ENC + "embed_positions.weight")) { // computed positions, not saved: M2M100's, NLLB's
            return M2M100;
        }
        // without config.json, the layout's name (its heads, which only config.json gives, are then refused)
        boolean embeddingNorm = s.containsKey(p + ENC + "layernorm_embedding.weight");
        boolean preNorm = s.containsKey(p + ENC + "layer_norm.weight");
        return embeddingNorm ? preNorm ? MBART : BART : preNorm ? PEGASUS : MARIAN;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String p = s.containsKey(HEADED + ENC + Q0) ? HEADED : "";
        String emb = s.containsKey(p + "shared.weight") ? p + "shared.weight" : p + (name.equals(WHISPER) ? DEC : ENC)
                + "embed_tokens.weight";
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, emb, 0, name.equals(WHISPER)
                ? WHISPER_VOCAB : NEW_VOCAB)), 1.0, 0, 1, 1);
    }

    /** What one model type computes: where it normalizes, its embedding norm, its positions' first row. */
    private record Layout(boolean preNorm, boolean embeddingNorm, long positionOffset) {
        static Layout of(String name) {
            return switch (name) {
                case BART -> new Layout(false, true, BART_OFFSET);
                case MBART -> new Layout(true, true, BART_OFFSET);
                case MARIAN -> new Layout(false, false, 0);
                case M2M100 -> new Layout(true, false, M2M100_PAD + 1); // (its positions: RoBERTa's, from pad + 1)
                default -> new Layout(true, false, 0); // PEGASUS, Blenderbot, Whisper
            };
        }
    }

    /** The sizes and functions both stacks share; a new model's sizes. */
    private record Shape(Layout layout, long width, long vocab, double embedScale, Op.Activation act, String actUnsupported,
            double eps, boolean whisper) {
        long newHeads() {
            return whisper ? WHISPER_HEADS : NEW_HEADS;
        }

        long newFf() {
            return whisper ? WHISPER_FF : NEW_FF;
        }

        int newLayers() {
            return whisper ? WHISPER_LAYERS : NEW_LAYERS;
        }
    }

    @Override
    public Architecture build(String name, Dims d) {
        requireKnown(name);
        String p = d.fromCheckpoint() && !d.has(HEADED + ENC + Q0, false) ? "" : HEADED;
        boolean headed = !p.isEmpty();
        GraphBuilder b = new GraphBuilder(name);
        boolean whisper = name.equals(WHISPER);
        String shared = p + "shared.weight";
        boolean isShared = !whisper && (!d.fromCheckpoint() || d.has(shared, true));
        String emb = isShared ? shared : p + (whisper ? DEC : ENC) + "embed_tokens.weight";
        long vocab = d.size(emb, 0, whisper ? WHISPER_VOCAB : NEW_VOCAB);
        long width = d.size(emb, 1, whisper ? WHISPER_WIDTH : NEW_WIDTH);
        LlamaFamily.agree(name, d, "vocab_size", vocab, emb);
        LlamaFamily.agree(name, d, "d_model", width, emb);
        Object fnName = d.config("activation_function") != null ? d.config("activation_function") : "gelu";
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        double scale = Boolean.TRUE.equals(d.config("scale_embedding")) ? Math.sqrt(width) : 1;
        Shape t = new Shape(Layout.of(name), width, vocab, scale, fn, fn != null ? null
                : LlamaFamily.unsupportedActivation("activation_function", fnName), EPS, whisper);
        String encoded = layers(b, d, name, t, p + ENC, whisper ? audio(b, d, name, t, p + ENC)
                : tokens(b, d, name, t, p, ENC, b.tokens("input_ids"), isShared), null, false);
        String h = layers(b, d, name, t, p + DEC, tokens(b, d, name, t, p, DEC, b.tokens("decoder_input_ids"), isShared),
                encoded, !headed);
        if (!headed) { // BartModel: the decoder's last hidden state, its order free
            return new Architecture(name, b.build(h), Architecture.Init.PYTORCH_DEFAULT);
        }
        String saved = whisper ? PROJ_OUT : LM_HEAD;
        String head = d.has(saved, false) ? saved : isShared ? shared : p + DEC + "embed_tokens.weight";
        String logits = b.linear(whisper ? "proj_out" : "lm_head", h, head, null, vocab);
        if (d.has(LOGITS_BIAS, !whisper && !name.equals(M2M100))) {
            logits = b.add("final_logits_bias.add", logits, b.param(LOGITS_BIAS, LOGITS_BIAS, new long[] {1, vocab}, null));
        }
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT);
    }

    /**
     * The token embedding of stack {@code p + stack} on {@code ids}: the shared embedding (its tie saved under the
     * stack's name too read as their mean) or the stack's own, scaled; its positions added; BART's embedding norm.
     */
    private static String tokens(GraphBuilder b, Dims d, String name, Shape t, String p, String stack, String ids,
            boolean shared) {
        String s = p + stack;
        String own = s + "embed_tokens.weight";
        String h;
        if (!shared) {
            h = b.embedding(s + "embed_tokens", ids, own, t.vocab(), t.width(), t.embedScale());
        } else {
            h = b.embedding(s + "shared", ids, p + "shared.weight", t.vocab(), t.width(), t.embedScale());
            if (d.has(own, false)) { // the tie saved under both names (torch.save): one tensor, read as their mean
                h = b.meanWithTie(s, h, ids, own, t.vocab(), t.width(), t.embedScale());
            }
        }
        String positions = s + "embed_positions.weight";
        long offset = t.layout().positionOffset();
        if (name.equals(M2M100)) { // the sinusoids are computed: the stream's order is fixed by them
            long pad = d.configLong("pad_token_id", M2M100_PAD);
            long rows = d.configLong("max_position_embeddings", NEW_POSITIONS) + pad + 1;
            return b.add(s + "embed_positions.add", h, b.sinusoids(s + "embed_positions", ids, rows, t.width(), pad));
        }
        if (d.fromCheckpoint() && !d.has(positions, false)) {
            throw LadyException.invalidInput(name + ": the checkpoint has no " + positions + " (sinusoidal positions, "
                    + "which newer transformers versions do not save); Lady needs them saved with the weights: they move "
                    + "with the residual stream");
        }
        long rows = d.size(positions, 0, (t.whisper() ? WHISPER_POSITIONS : NEW_POSITIONS) + offset);
        LlamaFamily.agree(name, d, t.whisper() ? "max_target_positions" : "max_position_embeddings", rows - offset,
                positions);
        h = b.add(s + "embed_positions.add", h, b.positionEmbedding(s + "embed_positions", ids, positions, rows,
                t.width(), offset));
        return t.layout().embeddingNorm() ? b.layerNorm(s + "layernorm_embedding", h, t.eps()) : h;
    }

    /**
     * Whisper's encoder input under {@code s}: the log-mel frames (num_mel_bins x twice max_source_positions), conv1
     * and GELU, conv2 (stride 2) and GELU, as tokens, plus every row of the saved sinusoids embed_positions.
     */
    private static String audio(GraphBuilder b, Dims d, String name, Shape t, String s) {
        String conv1 = s + "conv1.weight";
        String positions = s + "embed_positions.weight";
        long mels = d.size(conv1, 1, WHISPER_MELS);
        long frames = d.size(positions, 0, WHISPER_FRAMES);
        LlamaFamily.agree(name, d, "num_mel_bins", mels, conv1);
        LlamaFamily.agree(name, d, "max_source_positions", frames, positions);
        String x = b.sequence("input_features", mels, frames * AUDIO_STRIDE);
        long hidden = d.size(conv1, 0, t.width()); // (its own group: a structural edit widens it alone)
        x = b.act(s + "conv1.gelu", b.conv1d(s + "conv1", x, hidden, AUDIO_KERNEL, 1, AUDIO_KERNEL / 2, true),
                Op.Activation.GELU);
        x = b.act(s + "conv2.gelu", b.conv1d(s + "conv2", x, t.width(), AUDIO_KERNEL, AUDIO_STRIDE, AUDIO_KERNEL / 2,
                true), Op.Activation.GELU);
        return b.add(s + "embed_positions.add", b.toTokens(s + "frames", x), b.param(s + "embed_positions", positions,
                new long[] {frames, t.width()}, null));
    }

    /**
     * The layers of stack {@code s} on {@code h} and its closing norm: the encoder's ({@code memory} null) or the
     * decoder's, whose cross-attention reads {@code memory}; {@code free}: its output's channel order is free (a model
     * without head).
     */
    private static String layers(GraphBuilder b, Dims d, String name, Shape t, String s, String h, String memory,
            boolean free) {
        boolean decoder = memory != null;
        String q0 = s + Q0;
        long heads = d.fromCheckpoint() ? LlamaFamily.heads(name, d, decoder ? "decoder_attention_heads"
                : "encoder_attention_heads", d.size(q0, 0, 0), q0) : t.newHeads();
        long headDim = t.width() / heads;
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("rotary_dim", 0L);
        attrs.put("causal", decoder ? 1L : 0L);
        attrs.put("attn_scale", 1 / Math.sqrt(headDim));
        Map<String, Object> crossAttrs = new LinkedHashMap<>(attrs);
        crossAttrs.put("causal", 0L);
        boolean pre = t.layout().preNorm();
        int n = 0;
        for (; d.has(s + "layers." + n + ".self_attn.q_proj.weight", n < t.newLayers()); n++) {
            String l = s + "layers." + n + ".";
            boolean last = !d.has(s + "layers." + (n + 1) + ".self_attn.q_proj.weight", n + 1 < t.newLayers());
            h = sublayer(b, t, l + "self_attn_layer_norm", h, x -> b.attentionGqa(l + "self_attn", x,
                    projections(d, t, l + "self_attn"), heads, heads, headDim, attrs), false);
            if (decoder) {
                h = sublayer(b, t, l + "encoder_attn_layer_norm", h, x -> b.crossAttentionGqa(l + "encoder_attn", x,
                        memory, projections(d, t, l + "encoder_attn"), heads, heads, headDim, crossAttrs), false);
            }
            long units = d.size(l + "fc1.weight", 0, t.newFf());
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

    /** The q, k, v and out projections of attention module {@code a}, with their biases (Whisper's k has none). */
    private static Map<String, String> projections(Dims d, Shape t, String a) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String[] role : new String[][] {{"q", "q_proj"}, {"k", "k_proj"}, {"v", "v_proj"}, {"o", "out_proj"}}) {
            names.put(role[0] + "_weight", a + "." + role[1] + ".weight");
            String bias = a + "." + role[1] + ".bias";
            if (d.has(bias, !role[0].equals("k") || !t.whisper())) {
                names.put(role[0] + "_bias", bias);
            }
        }
        return names;
    }
}
