package lady.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lady.LadyException;
import lady.graph.GraphBuilder;
import lady.graph.Op;

/**
 * The Llama family of Hugging Face transformers (also Mistral, and Qwen2 with q/k/v biases), with
 * Hugging Face's tensor names: model.embed_tokens, per layer input_layernorm (RMS), self_attn (q_proj,
 * k_proj, v_proj, o_proj: grouped-query attention with rotary embeddings, {@link Op#ATTENTION_GQA}),
 * residual add, post_attention_layernorm, mlp (down_proj(silu(gate_proj x) * up_proj x)), residual add;
 * model.norm, lm_head (or the embedding matrix when the embeddings are tied). Widths come from the
 * shapes; heads, KV heads, head dimension, RMS eps and RoPE base from config.json ({@code
 * num_attention_heads}, {@code num_key_value_heads}, {@code head_dim} (default hidden / heads),
 * {@code rms_norm_eps}, {@code rope_theta}). Lady's forward covers the plain rotary embedding (no
 * rope_scaling), enough for function checks on small configurations; a layer's {@code
 * self_attn.rotary_emb.inv_freq} (saved by older transformers versions) is accepted, kept in place and used.
 */
final class LlamaFamily implements Family {
    private static final double DEFAULT_EPS = 1e-6;
    private static final double DEFAULT_THETA = 10000.0;

    @Override
    public List<String> names() {
        return List.of("llama", "mistral", "qwen2");
    }

    @Override
    public String recognize(Map<String, long[]> s) {
        if (!s.containsKey("model.embed_tokens.weight") || !s.containsKey("model.layers.0.self_attn.q_proj.weight")
                || !s.containsKey("model.layers.0.mlp.gate_proj.weight")) {
            return null;
        }
        return s.containsKey("model.layers.0.self_attn.q_proj.bias") ? "qwen2" : "llama";
    }

    /** config.json's {@code model_type} names the variant when it is one of {@link #names()}; else the shapes do. */
    @Override
    public String recognize(Map<String, long[]> s, Map<String, ?> config) {
        String byShapes = recognize(s);
        if (byShapes != null && config.get("model_type") instanceof String type && names().contains(type)) {
            return type;
        }
        return byShapes;
    }

    @Override
    public ModelOptions options(String name, Map<String, long[]> s) {
        return new ModelOptions((int) Math.min(Integer.MAX_VALUE, Family.dim(s, "model.embed_tokens.weight", 0, 32000)),
                1.0, 0, 1, 1);
    }

    @Override
    public Architecture build(String name, Dims d) {
        if (!d.fromCheckpoint()) {
            throw new LadyException(LadyException.Kind.USAGE, name + " models are read from Hugging Face folders "
                    + "(config.json + safetensors), not created new");
        }
        long vocab = d.size("model.embed_tokens.weight", 0, 0);
        long hidden = d.size("model.embed_tokens.weight", 1, 0);
        long heads = d.configLong("num_attention_heads", 0);
        if (heads < 1) {
            throw LadyException.invalidInput(name + ": config.json gives no num_attention_heads; the attention heads "
                    + "cannot be told from the shapes");
        }
        long kvHeads = d.configLong("num_key_value_heads", heads);
        long headDim = d.configLong("head_dim", hidden / heads);
        double eps = d.configDouble("rms_norm_eps", DEFAULT_EPS);
        double theta = d.configDouble("rope_theta", DEFAULT_THETA);
        GraphBuilder b = new GraphBuilder(name);
        String h = b.embedding("model.embed_tokens", b.tokens("input_ids"), "model.embed_tokens.weight", vocab, hidden);
        for (int i = 0; d.has("model.layers." + i + ".self_attn.q_proj.weight", false); i++) {
            String layer = "model.layers." + i;
            String attn = layer + ".self_attn";
            String x = b.rmsNorm(layer + ".input_layernorm", h, eps);
            Map<String, String> names = new LinkedHashMap<>();
            for (String p : List.of("q", "k", "v", "o")) {
                names.put(p + "_weight", attn + "." + p + "_proj.weight");
                if (d.has(attn + "." + p + "_proj.bias", false)) {
                    names.put(p + "_bias", attn + "." + p + "_proj.bias");
                }
            }
            if (d.has(attn + ".rotary_emb.inv_freq", false)) { // a buffer older transformers versions saved
                names.put("rope_inv_freq", attn + ".rotary_emb.inv_freq");
            }
            x = b.attentionGqa(attn, x, names, heads, kvHeads, headDim, theta);
            h = b.add(layer + ".attn_residual", h, x);
            String y = b.rmsNorm(layer + ".post_attention_layernorm", h, eps);
            long inter = d.size(layer + ".mlp.gate_proj.weight", 0, 0);
            String gate = b.act(layer + ".mlp.act", b.linear(layer + ".mlp.gate_proj", y, inter, false), Op.Activation.SILU);
            String up = b.linear(layer + ".mlp.up_proj", y, inter, false);
            String down = b.linear(layer + ".mlp.down_proj", b.mul(layer + ".mlp.gated", gate, up), hidden, false);
            h = b.add(layer + ".mlp_residual", h, down);
        }
        h = b.rmsNorm("model.norm", h, eps);
        boolean tied = !d.has("lm_head.weight", false);
        if (tied && Boolean.FALSE.equals(d.config("tie_word_embeddings"))) {
            throw LadyException.invalidInput(name + ": config.json says tie_word_embeddings is false, but the checkpoint "
                    + "has no lm_head.weight (a shard missing from the folder?)");
        }
        String logits = tied ? b.linear("lm_head", h, "model.embed_tokens.weight", null, vocab)
                : b.linear("lm_head", h, vocab, false);
        return new Architecture(name, b.build(logits), Architecture.Init.PYTORCH_DEFAULT);
    }
}
