package lady.model;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * GPT-2, GPT-NeoX (Pythia, GPT-NeoX-20B), OPT, GPT-BigCode, BLOOM, GPT-J, Falcon, MPT and Phi (1, 1.5, 2) as Hugging Face
 * transformers saves them: LayerNorm with a bias around the attention and the MLP, multi-head attention, biases (mostly),
 * a plain MLP (act(fc x) then proj).
 * <ul>
 * <li><b>gpt2</b> (GPT2LMHeadModel under {@code transformer.}, or GPT2Model's names without it, as the hub's gpt2 is
 *     saved): token and learned position embeddings (wte, wpe), per block ln_1, attn (c_attn: q, k, v stacked, c_proj),
 *     residual add, ln_2, mlp (c_fc, act, c_proj), residual add; ln_f; lm_head tied to wte. Every matrix is a Conv1D,
 *     stored [in, out]. No rotary embedding: the dimensions inside a head move (q and k alike, v with c_proj's rows).
 *     Scores by 1 / sqrt(head_dim) when scale_attn_weights (default), also by 1 / (layer + 1) when
 *     scale_attn_by_inverse_layer_idx.</li>
 * <li><b>gpt_neox</b> (GPTNeoXForCausalLM under {@code gpt_neox.}, head embed_out; GPTNeoXModel without either):
 *     embed_in; per layer input_layernorm, attention (query_key_value: head h's q, k and v rows in turn; dense),
 *     post_attention_layernorm, mlp (dense_h_to_4h, act, dense_4h_to_h), with a parallel residual (x + attn(ln1 x) +
 *     mlp(ln2 x), use_parallel_residual, the default) or a sequential one; final_layer_norm; embed_out. Rotary
 *     embedding on the first rotary_pct of each head (Pythia: 1/4), base rotary_emb_base (or rope_theta); the other
 *     dimensions move as GPT-2's do.</li>
 * <li><b>opt</b> (OPTForCausalLM under {@code model.decoder.}, lm_head tied to embed_tokens; OPTModel under {@code
 *     decoder.}, without a head, unless config.json's architectures name OPTForCausalLM, as the released weights
 *     do): embed_tokens (of word_embed_proj_dim; project_in to the width when they differ, as
 *     OPT-350m), plus the learned positions embed_positions (row t + 2 at position t); per layer self_attn (q, k, v,
 *     out_proj, with biases; no rotary embedding) and the MLP (fc1, relu, fc2), with self_attn_layer_norm and
 *     final_layer_norm before each (do_layer_norm_before) or after each residual add (OPT-350m); the final_layer_norm
 *     of the decoder where the checkpoint has it; project_out; lm_head.</li>
 * <li><b>gpt_bigcode</b> (GPTBigCodeForCausalLM: StarCoder, SantaCoder): GPT-2's names and blocks with linear layers
 *     ([out, in]) and gelu_pytorch_tanh; with multi_query (the default) one KV head, whose k and v rows follow the q
 *     rows of c_attn (the query heads then move freely, and the q/k and v dimensions once for all of them), without it
 *     each head's q, k and v rows in turn. Told from GPT-2 by the shape of c_attn.</li>
 * <li><b>bloom</b> (BloomForCausalLM under {@code transformer.}, or BloomModel's names without it, as the released
 *     weights are saved with config.json naming BloomForCausalLM): word_embeddings and their LayerNorm; per block
 *     input_layernorm, self_attention (query_key_value: head h's q, k and v rows in turn; dense; ALiBi: a linear bias
 *     by key position, its slope fixed per head index, so the heads cannot trade places, while the q/k and v
 *     dimensions inside each may move), post_attention_layernorm, mlp (dense_h_to_4h, gelu, dense_4h_to_h); ln_f; the
 *     head tied to word_embeddings. apply_residual_connection_post_layernorm takes the residual from each norm's
 *     output.</li>
 * <li><b>gptj</b> (GPTJForCausalLM under {@code transformer.}): wte; per block one ln_1 read by the attention (q, k, v
 *     without biases, out_proj; the first rotary_dim dimensions of each head rotated in pairs (2i, 2i + 1),
 *     rotate_every_two) and the MLP (fc_in, gelu_new, fc_out), summed into the residual together; ln_f; lm_head with its
 *     bias.</li>
 * <li><b>falcon</b> (FalconForCausalLM under {@code transformer.}): word_embeddings; per block the attention
 *     (query_key_value holding, per KV head, its query heads' rows, its k and its v: Falcon-7B's one KV head,
 *     Falcon-40B's groups, or one query head each; dense; RoPE on whole heads, or ALiBi, which pins the heads and which
 *     Lady's forward does not compute) and the MLP (dense_h_to_4h, gelu, dense_4h_to_h), in parallel on one
 *     input_layernorm (parallel_attn), on ln_attn and ln_mlp (new_decoder_architecture), or in turn with
 *     post_attention_layernorm; ln_f; the head tied to word_embeddings. The KV heads come from the packed rows.</li>
 * <li><b>mpt</b> (MptForCausalLM under {@code transformer.}, or MptModel's names without it): wte; per block norm_1
 *     (a LayerNorm without bias: no_bias), attn (Wqkv: q, k and v rows stacked, no biases; out_proj; ALiBi with
 *     attn_config's alibi_bias_max: the heads stay in place; softmax_scale; clip_qkv), residual add, norm_2, ffn
 *     (up_proj, gelu, down_proj: expansion_ratio x the width), residual add; norm_f; the head tied to wte.</li>
 * <li><b>phi</b> (PhiForCausalLM: Phi-1, Phi-1.5, Phi-2, under {@code model.}; PhiModel without it and without a head):
 *     embed_tokens; per layer one input_layernorm read by both the attention (q, k, v with biases, dense; the first
 *     partial_rotary_factor of each head rotated, grouped-query by num_key_value_heads) and the MLP (fc1, gelu_new,
 *     fc2), added to the residual together; final_layernorm; lm_head with its bias. (qk_layernorm, off in every
 *     released Phi, is not read: its tensors are named as unexpected.)</li>
 * </ul>
 * Buffers older versions saved (a causal mask {@code attn.bias} / {@code attention.bias}, {@code masked_bias}, the
 * rotary frequencies) stay in place; the frequencies are used. Widths come from the shapes, the heads, eps, activation
 * and rotary from config.json (checked against the shapes where both give them).
 */
final class GptFamily implements Family {
    static final String GPT2 = "gpt2";
    static final String NEOX = "gpt_neox";
    static final String OPT = "opt";
    static final String PHI = "phi";
    static final String BIGCODE = "gpt_bigcode";
    static final String BLOOM = "bloom";
    static final String GPTJ = "gptj";
    static final String FALCON = "falcon";
    static final String MPT = "mpt";
    /** MPT's default alibi_bias_max (attn_config). */
    private static final double MPT_ALIBI_BIAS_MAX = 8;
    private static final double DEFAULT_EPS = 1e-5;
    /** GPT-NeoX's default rotary_pct: a quarter of each head rotates. */
    private static final double NEOX_ROTARY_PCT = 0.25;
    /** PhiConfig's default partial_rotary_factor. */
    private static final double PHI_ROTARY = 0.5;
    /** OPT's learned positions start at row 2 (OPTLearnedPositionalEmbedding's offset). */
    private static final long OPT_POSITION_OFFSET = 2;

    /**
     * The names and configuration keys of one variant: its module prefixes (the first that holds its embedding and its
     * first layer's attention), the embedding, the layers' prefix, per layer the norms, the attention (packed {@code
     * qkv} or separate q, k, v under {@code attention}), its output projection, the MLP's two layers; the final norm and
     * the head; config.json's keys of the width, the layers, the heads, eps, the activation (with its default) and the
     * MLP's width; whether the head is tied by default (tie_word_embeddings).
     */
    private record Variant(List<String> prefixes, String embed, String layers, String ln1, String ln2, String attention,
            String qkv, String attnOut, String fc, String proj, String finalNorm, String head, String widthKey,
            String layersKey, String headsKey, String epsKey, String actKey, String defaultAct, String mlpKey,
            boolean tiedByDefault) {
        /** config.json's key of {@code keys} ("a|b": a, or b where only b is given). */
        static String key(java.util.function.Function<String, Object> config, String keys) {
            String[] k = keys.split("\\|");
            for (String x : k) {
                if (config.apply(x) != null) {
                    return x;
                }
            }
            return k[0];
        }

        /** The attention module's first tensor (its presence tells a layer is there). */
        String attentionWeight() {
            return (qkv != null ? qkv : attention + ".q_proj") + ".weight";
        }
    }

    private static final Map<String, Variant> VARIANTS = Map.of(
            GPT2, new Variant(List.of("transformer.", ""), "wte", "h.", ".ln_1", ".ln_2", ".attn", ".attn.c_attn",
                    ".attn.c_proj", ".mlp.c_fc", ".mlp.c_proj", "ln_f", "lm_head", "n_embd", "n_layer", "n_head",
                    "layer_norm_epsilon", "activation_function", "gelu_new", "n_inner", true),
            NEOX, new Variant(List.of("gpt_neox.", ""), "embed_in", "layers.", ".input_layernorm",
                    ".post_attention_layernorm", ".attention", ".attention.query_key_value", ".attention.dense",
                    ".mlp.dense_h_to_4h", ".mlp.dense_4h_to_h", "final_layer_norm", "embed_out", "hidden_size",
                    "num_hidden_layers", "num_attention_heads", "layer_norm_eps", "hidden_act", "gelu",
                    "intermediate_size", false),
            OPT, new Variant(List.of("model.decoder.", "decoder."), "embed_tokens", "layers.", ".self_attn_layer_norm",
                    ".final_layer_norm", ".self_attn", null, ".self_attn.out_proj", ".fc1", ".fc2", "final_layer_norm",
                    "lm_head", "hidden_size", "num_hidden_layers", "num_attention_heads", null, "activation_function",
                    "relu", "ffn_dim", true),
            BIGCODE, new Variant(List.of("transformer.", ""), "wte", "h.", ".ln_1", ".ln_2", ".attn", ".attn.c_attn",
                    ".attn.c_proj", ".mlp.c_fc", ".mlp.c_proj", "ln_f", "lm_head", "n_embd", "n_layer", "n_head",
                    "layer_norm_epsilon", "activation_function", "gelu_pytorch_tanh", "n_inner", true),
            BLOOM, new Variant(List.of("transformer.", ""), "word_embeddings", "h.", ".input_layernorm",
                    ".post_attention_layernorm", ".self_attention", ".self_attention.query_key_value",
                    ".self_attention.dense", ".mlp.dense_h_to_4h", ".mlp.dense_4h_to_h", "ln_f", "lm_head",
                    "hidden_size|n_embed", "n_layer|num_hidden_layers", "n_head|num_attention_heads", "layer_norm_epsilon",
                    "hidden_act", "gelu_pytorch_tanh", null, true),
            GPTJ, new Variant(List.of("transformer.", ""), "wte", "h.", ".ln_1", null, ".attn", null, ".attn.out_proj",
                    ".mlp.fc_in", ".mlp.fc_out", "ln_f", "lm_head", "n_embd", "n_layer", "n_head", "layer_norm_epsilon",
                    "activation_function", "gelu_new", "n_inner", false),
            FALCON, new Variant(List.of("transformer.", ""), "word_embeddings", "h.", ".input_layernorm",
                    ".post_attention_layernorm", ".self_attention", ".self_attention.query_key_value",
                    ".self_attention.dense", ".mlp.dense_h_to_4h", ".mlp.dense_4h_to_h", "ln_f", "lm_head",
                    "hidden_size|n_embed", "num_hidden_layers|n_layer", "num_attention_heads|n_head", "layer_norm_epsilon",
                    "activation", "gelu", "ffn_hidden_size", true),
            MPT, new Variant(List.of("transformer.", ""), "wte", "blocks.", ".norm_1", ".norm_2", ".attn", ".attn.Wqkv",
                    ".attn.out_proj", ".ffn.up_proj", ".ffn.down_proj", "norm_f", "lm_head", "d_model", "n_layers",
                    "n_heads", "layer_norm_epsilon", null, "gelu", null, true),
            PHI, new Variant(List.of("model.", ""), "embed_tokens", "layers.", ".input_layernorm", null, ".self_attn",
                    null, ".self_attn.dense", ".mlp.fc1", ".mlp.fc2", "final_layernorm", "lm_head", "hidden_size",
                    "num_hidden_layers", "num_attention_heads", "layer_norm_eps", "hidden_act", "gelu_new",
                    "intermediate_size", false));

    @Override
    public List<String> modelTypes() {
        return names();
    }

    @Override
    public List<String> names() {
        return List.of(GPT2, NEOX, OPT, PHI, BIGCODE, BLOOM, GPTJ, FALCON, MPT);
    }

    /** Variant {@code name}'s prefix in a checkpoint with these tensors, or null when it is not one of that variant. */
    private static String prefix(String name, java.util.function.Predicate<String> has) {
        Variant v = VARIANTS.get(name);
        for (String p : v.prefixes()) {
            if (has.test(p + v.embed() + ".weight") && has.test(p + v.layers() + "0" + v.attentionWeight())
                    && (!learnedPositions(name) || has.test(p + "wpe.weight"))
                    && (!name.equals(OPT) || has.test(p + "embed_positions.weight") // (BART's decoder: a cross-attention)
                            && !has.test(p + v.layers() + "0.encoder_attn.q_proj.weight"))
                    && (!name.equals(PHI) || has.test(p + v.layers() + "0" + v.attnOut() + ".weight"))
                    && (!name.equals(BLOOM) || has.test(p + "word_embeddings_layernorm.weight"))
                    && (!name.equals(FALCON) || !has.test(p + "word_embeddings_layernorm.weight"))) {
                return p;
            }
        }
        return null;
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        for (String name : names()) {
            String p = prefix(name, s::containsKey);
            if (p != null && (!learnedPositions(name) || conv1d(s, p) == name.equals(GPT2))) {
                return name;
            }
        }
        return null;
    }

    /** Whether variant {@code name} adds GPT-2's learned positions (wpe): GPT-2 and GPT-BigCode, which share names. */
    private static boolean learnedPositions(String name) {
        return name.equals(GPT2) || name.equals(BIGCODE);
    }

    /**
     * Whether GPT-2's names under {@code p} hold Conv1D matrices ([in, out]: GPT-2's c_attn has the width's rows) rather
     * than linear layers ([out, in]: GPT-BigCode's has the width's columns, and more rows).
     */
    private static boolean conv1d(Map<String, long[]> s, String p) {
        long[] attn = s.get(p + "h.0.attn.c_attn.weight");
        long[] wte = s.get(p + "wte.weight");
        return attn.length == 2 && wte.length == 2 && attn[0] == wte[1];
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String p = prefix(name, s::containsKey);
        String embedding = (p == null ? "" : p) + VARIANTS.get(name).embed() + ".weight";
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, embedding, 0, 50257)), 1.0, 0, 1, 1);
    }

    @Override
    public Architecture build(String name, Dims d) {
        LlamaFamily.requireCheckpoint(name, d);
        Variant v = VARIANTS.get(name);
        boolean gpt2 = name.equals(GPT2);
        boolean bigcode = name.equals(BIGCODE);
        boolean opt = name.equals(OPT);
        String found = prefix(name, t -> d.has(t, false));
        String p = found == null ? v.prefixes().get(0) : found;
        String embedding = p + v.embed() + ".weight";
        long vocab = d.size(embedding, 0, 0);
        long embedWidth = d.size(embedding, 1, 0);
        String projectIn = p + "project_in";
        long hidden = opt && d.has(projectIn + ".weight", false) ? d.size(projectIn + ".weight", 0, 0) : embedWidth;
        LlamaFamily.agree(name, d, "vocab_size", vocab, embedding);
        LlamaFamily.agree(name, d, Variant.key(d::config, v.widthKey()), hidden, opt ? p + "embed_positions.weight"
                : embedding);
        long heads = LlamaFamily.heads(name, d, Variant.key(d::config, v.headsKey()), hidden, embedding);
        long headDim = hidden / heads;
        double eps = v.epsKey() == null ? DEFAULT_EPS : LlamaFamily.positive(name, d, v.epsKey(), DEFAULT_EPS);
        Object act = v.actKey() == null ? null : d.config(v.actKey());
        Object fnName = act != null ? act : v.defaultAct();
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        String actUnsupported = fn != null ? null : LlamaFamily.unsupportedActivation("the activation", fnName);
        Map<String, Object> attrs = attentionAttrs(name, d, headDim);
        long kvHeads = name.equals(PHI) ? d.configLong("num_key_value_heads", heads) : heads;
        if (name.equals(FALCON)) { // its KV heads from the packed rows: (heads + 2 KV heads) head_dim
            long rows = d.size(p + v.layers() + "0" + v.attentionWeight(), 0, 3 * hidden);
            kvHeads = rows % headDim == 0 && (rows / headDim - heads) % 2 == 0 && rows / headDim > heads
                    ? (rows / headDim - heads) / 2 : heads;
        }
        if (bigcode) { // multi_query (StarCoder, SantaCoder): one KV head, its k and v rows after the q rows
            long rows = d.size(p + v.layers() + "0" + v.attentionWeight(), 0, 3 * hidden);
            kvHeads = rows == hidden + 2 * headDim && heads > 1 ? 1 : heads;
            if (kvHeads == heads) { // (without multi_query: each head's q, k and v rows in turn)
                attrs.put("qkv_per_head", 1L);
            }
        }
        // GPT-NeoX: the attention and the MLP both read the block's input (each through its own norm; Phi: one norm)
        // Falcon: parallel_attn (one norm), new_decoder_architecture (Falcon-40B: ln_attn and ln_mlp, also parallel)
        boolean twoNorms = name.equals(FALCON) && d.has(p + v.layers() + "0.ln_attn.weight", false);
        boolean parallel = name.equals(PHI) || name.equals(GPTJ) || twoNorms
                || name.equals(NEOX) && !Boolean.FALSE.equals(d.config("use_parallel_residual"))
                || name.equals(FALCON) && !Boolean.FALSE.equals(d.config("parallel_attn"));
        String ln1 = twoNorms ? ".ln_attn" : v.ln1();
        String ln2 = twoNorms ? ".ln_mlp" : name.equals(FALCON) && parallel ? null : v.ln2();
        boolean postNorm = opt && Boolean.FALSE.equals(d.config("do_layer_norm_before")); // OPT-350m
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        String h = b.embedding(p + v.embed(), ids, embedding, vocab, embedWidth);
        if (name.equals(BLOOM)) {
            h = norm(b, d, p + "word_embeddings_layernorm", h, eps, false);
        }
        // BLOOM's apply_residual_connection_post_layernorm: the residual is the norm's output, not its input
        boolean normResidual = name.equals(BLOOM) && Boolean.TRUE.equals(d.config("apply_residual_connection_post_layernorm"));
        if (opt && d.has(projectIn + ".weight", false)) {
            h = b.linear(projectIn, h, hidden, false);
        }
        if (gpt2 || bigcode || opt) { // learned positions, added to the tokens' embeddings
            String positions = p + (opt ? "embed_positions" : "wpe");
            h = b.add(p + "embed_add", h, b.positionEmbedding(positions, ids, positions + ".weight",
                    d.size(positions + ".weight", 0, 0), hidden, opt ? OPT_POSITION_OFFSET : 0));
        }
        Set<Long> widths = new HashSet<>();
        int layers = 0;
        for (; d.has(p + v.layers() + layers + v.attentionWeight(), false); layers++) {
            String l = p + v.layers() + layers;
            Map<String, Object> a = new LinkedHashMap<>(attrs);
            if (gpt2 && Boolean.TRUE.equals(d.config("scale_attn_by_inverse_layer_idx"))) {
                a.put("attn_scale", (double) a.get("attn_scale") / (layers + 1));
            }
            String x = postNorm ? h : norm(b, d, l + ln1, h, eps, false);
            String normed = x;
            x = b.attentionGqa(l + v.attention(), x, attentionNames(b, d, l, v), heads, kvHeads, headDim, a);
            if (parallel) {
                String y = mlp(b, d, l, v, ln2 == null ? normed : norm(b, d, l + ln2, h, eps, false), hidden, fn,
                        actUnsupported, gpt2, widths);
                h = b.add(l + ".residual", h, b.add(l + ".attn_mlp", x, y));
                continue;
            }
            h = b.add(l + ".attn_residual", normResidual ? normed : h, x);
            if (postNorm) {
                h = norm(b, d, l + ln1, h, eps, false);
            }
            String mlpIn = postNorm ? h : norm(b, d, l + ln2, h, eps, false);
            String y = mlp(b, d, l, v, mlpIn, hidden, fn, actUnsupported, gpt2, widths);
            h = b.add(l + ".mlp_residual", normResidual ? mlpIn : h, y);
            if (postNorm) {
                h = norm(b, d, l + ln2, h, eps, false);
            }
        }
        LlamaFamily.agree(name, d, Variant.key(d::config, v.layersKey()), layers, p + v.layers() + "N"
                + v.attentionWeight());
        if (widths.size() == 1 && v.mlpKey() != null) { // (GPT-2's n_inner is null for 4 x n_embd; BLOOM's is 4 x)
            long w = widths.iterator().next();
            LlamaFamily.agree(name, d, v.mlpKey(), w, p + v.layers() + "N" + v.fc() + ".weight");
        }
        String head = v.head() + ".weight";
        // a GPT-NeoX saved without its prefix and without embed_out (GPTNeoXModel), an OPT under decoder. (OPTModel): a
        // base model, whose output is its last hidden state; GPT-2 and GPT-BigCode tie their head to wte whatever their
        // prefix (the hub's gpt2 is saved without it)
        boolean base = !gpt2 && !bigcode && p.equals(v.prefixes().get(1)) && !d.has(head, false) && !languageModel(d);
        String finalNorm = p + v.finalNorm();
        boolean normed = !opt || d.has(finalNorm + ".weight", false); // (OPT-350m has none)
        String projectOut = p + "project_out";
        boolean projected = opt && d.has(projectOut + ".weight", false);
        if (normed) {
            h = norm(b, d, finalNorm, h, eps, base && !projected);
        }
        if (projected) {
            h = b.linear(projectOut, h, embedWidth, false);
        }
        if (base) {
            return new Architecture(name, b.build(h), Architecture.Init.PYTORCH_DEFAULT);
        }
        boolean tied = !d.has(head, false);
        Object tie = d.config("tie_word_embeddings");
        boolean ties = v.tiedByDefault() ? !Boolean.FALSE.equals(tie) : Boolean.TRUE.equals(tie);
        if (tied && !ties) {
            throw LadyException.invalidInput(name + ": the checkpoint has no " + head + ", and config.json does not tie "
                    + "it to the embedding (tie_word_embeddings); a shard missing from the folder?");
        }
        // (a head saved although the configuration ties it reads the embedding's channels: transformers ties them again
        // on load; only OPT-350m's narrower embedding makes that another space than the head's input)
        String bias = d.has(v.head() + ".bias", false) ? v.head() + ".bias" : null; // (Phi's head has a bias)
        String logits = tied ? b.linear(v.head(), h, embedding, null, vocab)
                : b.linear(v.head(), h, head, bias, vocab, ties ? embedding : null, List.of());
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** A LayerNorm, with its bias where the checkpoint has one (MPT's have none). */
    private static String norm(GraphBuilder b, Dims d, String module, String x, double eps, boolean freeChannels) {
        return b.layerNorm(module, x, eps, freeChannels, d.has(module + ".bias", false));
    }

    /**
     * Whether config.json's architectures name a language model with its head (XForCausalLM): OPT's released weights
     * are saved under {@code decoder.} without lm_head, tied to the embedding, though the configuration names
     * OPTForCausalLM.
     */
    private static boolean languageModel(Dims d) {
        return d.config("architectures") instanceof List<?> a && a.stream().anyMatch(x -> x instanceof String s
                && (s.endsWith("ForCausalLM") || s.endsWith("LMHeadModel")));
    }

    /**
     * The attention's attributes ({@link Op#ATTENTION_GQA}): GPT-2's Conv1D layout and scale, GPT-NeoX's packed rows per
     * head and its rotary embedding, OPT's plain projections; GPT-2 and OPT have no rotary embedding (rotary_dim 0).
     */
    private static Map<String, Object> attentionAttrs(String name, Dims d, long headDim) {
        Map<String, Object> a = new LinkedHashMap<>();
        if (name.equals(MPT)) { // stacked q, k, v; ALiBi (the heads stay); attn_config's scale and clip
            Map<?, ?> c = d.config("attn_config") instanceof Map<?, ?> m ? m : Map.of();
            a.put("rotary_dim", 0L);
            a.put("attn_scale", c.get("softmax_scale") instanceof Number x ? x.doubleValue() : 1 / Math.sqrt(headDim));
            if (c.get("clip_qkv") instanceof Number x) {
                a.put("clip_qkv", x.doubleValue());
            }
            if (!Boolean.FALSE.equals(c.get("alibi"))) {
                a.put("alibi", 1L);
                a.put("alibi_bias_max", c.get("alibi_bias_max") instanceof Number x ? x.doubleValue()
                        : MPT_ALIBI_BIAS_MAX);
            }
            return a;
        }
        if (name.equals(FALCON)) { // per KV head: its query heads' rows, its k, its v; RoPE on whole heads, or ALiBi
            a.put("qkv_per_head", 1L);
            a.put("attn_scale", 1 / Math.sqrt(headDim));
            if (Boolean.TRUE.equals(d.config("alibi"))) { // (Falcon-RW: the heads stay, as BLOOM's)
                a.put("alibi", 1L);
                a.put("rotary_dim", 0L);
                a.put(Op.FORWARD_UNSUPPORTED, "Falcon's ALiBi (scaled with the scores, unlike BLOOM's) is not computed by "
                        + "Lady's forward pass");
                return a;
            }
            LlamaRope r = LlamaRope.of(d);
            a.putAll(r.attrs());
            if (r.unsupported(headDim) != null) {
                a.put(Op.FORWARD_UNSUPPORTED, r.unsupported(headDim));
            }
            return a;
        }
        if (!name.equals(NEOX) && !name.equals(PHI) && !name.equals(GPTJ)) {
            a.put("rotary_dim", 0L);
            if (name.equals(GPT2)) {
                a.put("transposed", 1L);
            }
            if (name.equals(BLOOM)) { // ALiBi: a bias per head by its index, so the heads keep their places
                a.put("qkv_per_head", 1L);
                a.put("alibi", 1L);
            }
            boolean scaled = !name.equals(GPT2) || !Boolean.FALSE.equals(d.config("scale_attn_weights"));
            a.put("attn_scale", scaled ? 1 / Math.sqrt(headDim) : 1.0);
            return a;
        }
        if (name.equals(NEOX)) {
            a.put("qkv_per_head", 1L);
        }
        double pct = d.configDouble(d.config("rotary_pct") != null ? "rotary_pct" : "partial_rotary_factor",
                name.equals(NEOX) ? NEOX_ROTARY_PCT : PHI_ROTARY);
        long rd = (long) (headDim * pct);
        if (name.equals(GPTJ)) { // GPT-J: rotary_dim dimensions of each head (all when null), in pairs (2i, 2i + 1)
            rd = d.configLong("rotary_dim", headDim);
            pct = (double) rd / headDim;
            a.put("rope_interleaved", 1L);
        }
        LlamaRope r = LlamaRope.of(d);
        if (d.config("rope_theta") == null && d.config("rotary_emb_base") != null) {
            r = r.withTheta(d.configDouble("rotary_emb_base", LlamaRope.DEFAULT_THETA));
        }
        a.putAll(r.attrs());
        a.put("rotary_dim", rd);
        if (!(pct >= 0 && pct <= 1) || rd % 2 != 0) { // (none rotated is computed: no rotary embedding)
            String given = name.equals(GPTJ) ? "rotary_dim " + rd
                    : (name.equals(NEOX) ? "rotary_pct " : "partial_rotary_factor ") + pct;
            a.put(Op.FORWARD_UNSUPPORTED, given + " (" + rd + " of a head's " + headDim + " dimensions rotated: not an even "
                    + "number within the head) is not computed by Lady's forward pass");
        } else if (r.unsupported(rd) != null) {
            a.put(Op.FORWARD_UNSUPPORTED, r.unsupported(rd));
        }
        return a;
    }

    /** The attention's tensors by role ({@link GraphBuilder#attentionGqa}), its buffers declared. */
    private static Map<String, String> attentionNames(GraphBuilder b, Dims d, String l, Variant v) {
        Map<String, String> names = new LinkedHashMap<>();
        if (v.qkv() != null) {
            names.put("qkv_weight", l + v.qkv() + ".weight");
            if (d.has(l + v.qkv() + ".bias", false)) {
                names.put("qkv_bias", l + v.qkv() + ".bias");
            }
        } else {
            for (String x : List.of("q", "k", "v")) {
                String t = l + v.attention() + "." + x + "_proj";
                names.put(x + "_weight", t + ".weight");
                if (d.has(t + ".bias", false)) {
                    names.put(x + "_bias", t + ".bias");
                }
            }
        }
        names.put("o_weight", l + v.attnOut() + ".weight");
        if (d.has(l + v.attnOut() + ".bias", false)) {
            names.put("o_bias", l + v.attnOut() + ".bias");
        }
        String freq = l + v.attention() + ".rotary_emb.inv_freq";
        if (d.has(freq, false)) {
            names.put("rope_inv_freq", freq);
        }
        for (String buffer : List.of("bias", "masked_bias")) { // a causal mask and its fill value (older versions)
            String t = l + v.attention() + "." + buffer;
            if (d.has(t, false)) {
                b.tensor(t, d.shape(t));
                names.put(GraphBuilder.BUFFER + buffer, t);
            }
        }
        return names;
    }

    /** The MLP (fc, act, proj; Conv1D [in, out] for GPT-2) on {@code x}; its width added to {@code widths}. */
    private static String mlp(GraphBuilder b, Dims d, String l, Variant v, String x, long hidden, Op.Activation fn,
            String actUnsupported, boolean conv1d, Set<Long> widths) {
        String fc = l + v.fc();
        long inter = d.size(fc + ".weight", conv1d ? 1 : 0, 4 * hidden);
        widths.add(inter);
        boolean fcBias = d.has(fc + ".bias", false);
        boolean projBias = d.has(l + v.proj() + ".bias", false);
        String y = conv1d ? b.linearTransposed(fc, x, inter, fcBias) : b.linear(fc, x, inter, fcBias);
        y = actUnsupported == null ? b.act(fc + ".act", y, fn) : b.act(fc + ".act", y, Op.Activation.GELU, actUnsupported);
        return conv1d ? b.linearTransposed(l + v.proj(), y, hidden, projBias) : b.linear(l + v.proj(), y, hidden, projBias);
    }

    /**
     * config.json with the widths of {@code shapes}: the width, vocabulary and layer count where it gives them, and the
     * MLP's width (GPT-2's n_inner, GPT-NeoX's intermediate_size, OPT's ffn_dim), which structural edits change, when
     * every layer has the same.
     */
    @Override
    public Map<String, Object> configFor(String name, Map<String, long[]> shapes, Map<String, Object> config) {
        Map<String, Object> c = new LinkedHashMap<>(config);
        boolean gpt2 = name.equals(GPT2);
        String p = prefix(name, shapes::containsKey);
        if (p == null) {
            return c;
        }
        Variant v = VARIANTS.get(name);
        long[] embedding = shapes.get(p + v.embed() + ".weight");
        c.computeIfPresent("vocab_size", (k, x) -> embedding[0]);
        long[] projectIn = shapes.get(p + "project_in.weight");
        long hidden = projectIn != null ? projectIn[0] : embedding[1];
        c.computeIfPresent(Variant.key(c::get, v.widthKey()), (k, x) -> hidden);
        Set<Long> widths = new HashSet<>();
        long layers = 0;
        for (; shapes.containsKey(p + v.layers() + layers + v.attentionWeight()); layers++) {
            long[] fc = shapes.get(p + v.layers() + layers + v.fc() + ".weight");
            if (fc != null) {
                widths.add(fc[gpt2 ? 1 : 0]);
            }
        }
        long count = layers;
        c.computeIfPresent(Variant.key(c::get, v.layersKey()), (k, x) -> count);
        if (widths.size() == 1 && name.equals(MPT) && widths.iterator().next() % hidden == 0) { // MPT: a ratio to the
            // width (a width that is not a multiple of it cannot be written: transformers then cannot load it)
            c.put("expansion_ratio", widths.iterator().next() / hidden);
        }
        if (widths.size() == 1 && v.mlpKey() != null) { // (BLOOM's configuration has no MLP width: 4 x the width)
            long w = widths.iterator().next();
            if (v.mlpKey().equals("n_inner") || name.equals(FALCON)) { // null means 4 x the width (transformers')
                if (w == 4 * hidden) {
                    c.replace(v.mlpKey(), null);
                } else {
                    c.put(v.mlpKey(), w);
                }
            } else {
                c.computeIfPresent(v.mlpKey(), (k, x) -> w);
            }
        }
        return c;
    }
}
