package lady.model;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;
import lady.report.Json;

/**
 * GPT-2 and GPT-NeoX (Pythia, GPT-NeoX-20B) as Hugging Face transformers saves them: LayerNorm with a bias before the
 * attention and the MLP, multi-head attention from one packed tensor, biases everywhere, a plain MLP (act(fc x) then
 * proj).
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
 * </ul>
 * Buffers older versions saved (a causal mask {@code attn.bias} / {@code attention.bias}, {@code masked_bias}, the
 * rotary frequencies) stay in place; the frequencies are used. Widths come from the shapes, the heads, eps, activation
 * and rotary from config.json (checked against the shapes where both give them).
 */
final class GptFamily implements Family {
    static final String GPT2 = "gpt2";
    static final String NEOX = "gpt_neox";
    private static final double DEFAULT_EPS = 1e-5;
    /** GPT-NeoX's default rotary_pct: a quarter of each head rotates. */
    private static final double NEOX_ROTARY_PCT = 0.25;

    @Override
    public List<String> names() {
        return List.of(GPT2, NEOX);
    }

    /** GPT-2's prefix (GPT2LMHeadModel's {@code transformer.}, or none), or null. */
    private static String gpt2Prefix(java.util.function.Predicate<String> has) {
        for (String p : List.of("transformer.", "")) {
            if (has.test(p + "wte.weight") && has.test(p + "wpe.weight") && has.test(p + "h.0.attn.c_attn.weight")) {
                return p;
            }
        }
        return null;
    }

    /** GPT-NeoX's prefix (GPTNeoXForCausalLM's {@code gpt_neox.}, or none), or null. */
    private static String neoxPrefix(java.util.function.Predicate<String> has) {
        for (String p : List.of("gpt_neox.", "")) {
            if (has.test(p + "embed_in.weight") && has.test(p + "layers.0.attention.query_key_value.weight")) {
                return p;
            }
        }
        return null;
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        return gpt2Prefix(s::containsKey) != null ? GPT2 : neoxPrefix(s::containsKey) != null ? NEOX : null;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        String p = name.equals(GPT2) ? gpt2Prefix(s::containsKey) : neoxPrefix(s::containsKey);
        String embedding = (p == null ? "" : p) + (name.equals(GPT2) ? "wte.weight" : "embed_in.weight");
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, embedding, 0, 50257)), 1.0, 0, 1, 1);
    }

    /** The names of one family's tensors, by prefix (the parts every block and the model have). */
    private record Names(String embedding, String layers, String finalNorm, String head, String ln1, String ln2,
            String qkv, String attnOut, String fc, String proj, String attention) {
        static Names of(String name, String p) {
            return name.equals(GPT2)
                    ? new Names(p + "wte.weight", p + "h.", p + "ln_f", "lm_head", ".ln_1", ".ln_2", ".attn.c_attn",
                            ".attn.c_proj", ".mlp.c_fc", ".mlp.c_proj", ".attn")
                    : new Names(p + "embed_in.weight", p + "layers.", p + "final_layer_norm", "embed_out",
                            ".input_layernorm", ".post_attention_layernorm", ".attention.query_key_value",
                            ".attention.dense", ".mlp.dense_h_to_4h", ".mlp.dense_4h_to_h", ".attention");
        }
    }

    /** config.json's first key of {@code keys} that it gives (GPT-2's n_embd, n_head, ... or their standard names). */
    private static String key(Dims d, String... keys) {
        for (String k : keys) {
            if (d.config(k) != null) {
                return k;
            }
        }
        return keys[0];
    }

    @Override
    public Architecture build(String name, Dims d) {
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " models are read from Hugging Face folders "
                    + "(config.json + safetensors), not created new");
        }
        boolean gpt2 = name.equals(GPT2);
        String found = gpt2 ? gpt2Prefix(t -> d.has(t, false)) : neoxPrefix(t -> d.has(t, false));
        String p = found == null ? (gpt2 ? "transformer." : "gpt_neox.") : found;
        Names n = Names.of(name, p);
        long vocab = d.size(n.embedding(), 0, 0);
        long hidden = d.size(n.embedding(), 1, 0);
        LlamaFamily.agree(name, d, "vocab_size", vocab, n.embedding());
        LlamaFamily.agree(name, d, key(d, "n_embd", "hidden_size"), hidden, n.embedding());
        String headsKey = key(d, "n_head", "num_attention_heads");
        long heads = d.configLong(headsKey, 0);
        if (heads < 1) {
            throw LadyException.invalidInput(name + ": " + (d.hasConfig() ? "config.json gives no " + headsKey
                    : "no config.json came with these weights") + "; the attention heads cannot be told from the shapes; "
                    + "give the Hugging Face folder with its config.json");
        }
        if (hidden % heads != 0) {
            throw LadyException.invalidInput(name + ": config.json gives " + heads + " attention heads, which do not "
                    + "divide the width " + hidden + " (" + n.embedding() + "); the folder's config.json and weights "
                    + "disagree (a config.json from another model?)");
        }
        long headDim = hidden / heads;
        double eps = LlamaFamily.positive(name, d, key(d, "layer_norm_epsilon", "layer_norm_eps"), DEFAULT_EPS);
        Object act = d.config(key(d, "activation_function", "hidden_act"));
        Object fnName = act != null ? act : gpt2 ? "gelu_new" : "gelu";
        Op.Activation fn = LlamaFamily.ACTIVATIONS.get(fnName);
        String actUnsupported = fn != null ? null : "the activation " + Json.write(fnName) + " is not computed by "
                + "Lady's forward pass (" + String.join(", ", new TreeSet<>(LlamaFamily.ACTIVATIONS.keySet())) + " are)";
        Map<String, Object> rope = new LinkedHashMap<>();
        if (gpt2) {
            rope.put("transposed", 1L);
            rope.put("rotary_dim", 0L);
        } else {
            rope.put("qkv_per_head", 1L);
            double pct = d.configDouble(d.config("rotary_pct") != null ? "rotary_pct" : "partial_rotary_factor",
                    NEOX_ROTARY_PCT);
            long rd = (long) (headDim * pct);
            LlamaRope r = LlamaRope.of(d);
            if (d.config("rope_theta") == null && d.config("rotary_emb_base") != null) {
                r = r.withTheta(d.configDouble("rotary_emb_base", LlamaRope.DEFAULT_THETA));
            }
            rope.putAll(r.attrs());
            rope.put("rotary_dim", rd);
            if (!(pct > 0 && pct <= 1) || rd < 2 || rd % 2 != 0) {
                rope.put(Op.FORWARD_UNSUPPORTED, "rotary_pct " + pct + " (" + rd + " of " + headDim + " dimensions "
                        + "rotated, not a positive even number) is not computed by Lady's forward pass");
            } else if (r.unsupported(rd) != null) {
                rope.put(Op.FORWARD_UNSUPPORTED, r.unsupported(rd));
            }
        }
        boolean parallel = !gpt2 && !Boolean.FALSE.equals(d.config("use_parallel_residual"));
        GraphBuilder b = new GraphBuilder(name);
        String ids = b.tokens("input_ids");
        String h = b.embedding(gpt2 ? p + "wte" : p + "embed_in", ids, n.embedding(), vocab, hidden);
        if (gpt2) {
            String wpe = p + "wpe.weight";
            h = b.add(p + "embed_add", h, b.positionEmbedding(p + "wpe", ids, wpe, d.size(wpe, 0, 0), hidden, 0));
        }
        Set<Long> widths = new HashSet<>();
        int layers = 0;
        for (; d.has(n.layers() + layers + n.qkv() + ".weight", false); layers++) {
            String l = n.layers() + layers;
            Map<String, Object> attrs = new LinkedHashMap<>(rope);
            if (gpt2) {
                boolean scaled = !Boolean.FALSE.equals(d.config("scale_attn_weights"));
                boolean byLayer = Boolean.TRUE.equals(d.config("scale_attn_by_inverse_layer_idx"));
                attrs.put("attn_scale", (scaled ? 1 / Math.sqrt(headDim) : 1.0) / (byLayer ? layers + 1 : 1));
            }
            String x = b.layerNorm(l + n.ln1(), h, eps);
            x = b.attentionGqa(l + n.attention(), x, attentionNames(b, d, l, n), heads, heads, headDim, attrs);
            String y;
            if (parallel) { // GPT-NeoX: both read the block's input
                y = mlp(b, d, l, n, b.layerNorm(l + n.ln2(), h, eps), hidden, fn, actUnsupported, gpt2, widths);
                h = b.add(l + ".residual", h, b.add(l + ".attn_mlp", x, y));
            } else {
                h = b.add(l + ".attn_residual", h, x);
                y = mlp(b, d, l, n, b.layerNorm(l + n.ln2(), h, eps), hidden, fn, actUnsupported, gpt2, widths);
                h = b.add(l + ".mlp_residual", h, y);
            }
        }
        LlamaFamily.agree(name, d, key(d, "n_layer", "num_hidden_layers"), layers, n.layers() + "N" + n.qkv() + ".weight");
        if (widths.size() == 1) { // (GPT-2's n_inner is null for 4 x n_embd)
            long w = widths.iterator().next();
            LlamaFamily.agree(name, d, key(d, "n_inner", "intermediate_size"), w, n.layers() + "N" + n.fc() + ".weight");
        }
        String head = n.head() + ".weight";
        // GPT-2 ties its head to wte (also when the weights are saved without the "transformer." prefix, as the hub's
        // gpt2 is); a GPT-NeoX saved without its prefix and without embed_out is a base model (GPTNeoXModel)
        boolean base = !gpt2 && p.isEmpty() && !d.has(head, false);
        h = b.layerNorm(n.finalNorm(), h, eps, base);
        if (base) {
            return new Architecture(name, b.build(h), Architecture.Init.PYTORCH_DEFAULT);
        }
        boolean tied = !d.has(head, false);
        if (tied && (gpt2 ? Boolean.FALSE.equals(d.config("tie_word_embeddings"))
                : !Boolean.TRUE.equals(d.config("tie_word_embeddings")))) {
            throw LadyException.invalidInput(name + ": the checkpoint has no " + head + ", and config.json does not tie "
                    + "it to the embedding (tie_word_embeddings); a shard missing from the folder?");
        }
        String logits = tied ? b.linear(n.head(), h, n.embedding(), null, vocab) : b.linear(n.head(), h, vocab, false);
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT);
    }

    /** The attention's tensors by role ({@link GraphBuilder#attentionGqa}), its buffers declared. */
    private static Map<String, String> attentionNames(GraphBuilder b, Dims d, String l, Names n) {
        Map<String, String> names = new LinkedHashMap<>();
        names.put("qkv_weight", l + n.qkv() + ".weight");
        if (d.has(l + n.qkv() + ".bias", false)) {
            names.put("qkv_bias", l + n.qkv() + ".bias");
        }
        names.put("o_weight", l + n.attnOut() + ".weight");
        if (d.has(l + n.attnOut() + ".bias", false)) {
            names.put("o_bias", l + n.attnOut() + ".bias");
        }
        String freq = l + n.attention() + ".rotary_emb.inv_freq";
        if (d.has(freq, false)) {
            names.put("rope_inv_freq", freq);
        }
        for (String buffer : List.of("bias", "masked_bias")) { // a causal mask and its fill value (older versions)
            String t = l + n.attention() + "." + buffer;
            if (d.has(t, false)) {
                b.tensor(t, d.shape(t));
                names.put(GraphBuilder.BUFFER + buffer, t);
            }
        }
        return names;
    }

    /** The MLP (fc, act, proj; Conv1D [in, out] for GPT-2) on {@code x}; its width added to {@code widths}. */
    private static String mlp(GraphBuilder b, Dims d, String l, Names n, String x, long hidden, Op.Activation fn,
            String actUnsupported, boolean gpt2, Set<Long> widths) {
        String fc = l + n.fc();
        long inter = d.size(fc + ".weight", gpt2 ? 1 : 0, 4 * hidden);
        widths.add(inter);
        boolean fcBias = d.has(fc + ".bias", false);
        boolean projBias = d.has(l + n.proj() + ".bias", false);
        String y = gpt2 ? b.linearTransposed(fc, x, inter, fcBias) : b.linear(fc, x, inter, fcBias);
        y = actUnsupported == null ? b.act(fc + ".act", y, fn) : b.act(fc + ".act", y, Op.Activation.GELU, actUnsupported);
        return gpt2 ? b.linearTransposed(l + n.proj(), y, hidden, projBias) : b.linear(l + n.proj(), y, hidden, projBias);
    }

    /**
     * config.json with the widths of {@code shapes}: the width, vocabulary and layer count where it gives them, and the
     * MLP's width (GPT-2's n_inner, GPT-NeoX's intermediate_size), which structural edits change, when every layer has
     * the same.
     */
    @Override
    public Map<String, Object> configFor(String name, Map<String, long[]> shapes, Map<String, Object> config) {
        Map<String, Object> c = new LinkedHashMap<>(config);
        boolean gpt2 = name.equals(GPT2);
        String p = gpt2 ? gpt2Prefix(shapes::containsKey) : neoxPrefix(shapes::containsKey);
        if (p == null) {
            return c;
        }
        Names n = Names.of(name, p);
        long[] embedding = shapes.get(n.embedding());
        c.computeIfPresent("vocab_size", (k, v) -> embedding[0]);
        c.computeIfPresent(gpt2 ? "n_embd" : "hidden_size", (k, v) -> embedding[1]);
        Set<Long> widths = new HashSet<>();
        long layers = 0;
        for (; shapes.containsKey(n.layers() + layers + n.qkv() + ".weight"); layers++) {
            long[] fc = shapes.get(n.layers() + layers + n.fc() + ".weight");
            if (fc != null) {
                widths.add(fc[gpt2 ? 1 : 0]);
            }
        }
        long count = layers;
        c.computeIfPresent(gpt2 ? "n_layer" : "num_hidden_layers", (k, v) -> count);
        if (widths.size() == 1) {
            long w = widths.iterator().next();
            if (gpt2) { // n_inner null means 4 x n_embd (transformers' default)
                if (w == 4 * embedding[1]) {
                    c.replace("n_inner", null);
                } else {
                    c.put("n_inner", w);
                }
            } else {
                c.computeIfPresent("intermediate_size", (k, v) -> w);
            }
        }
        return c;
    }
}
