package lady.model;

import java.util.LinkedHashMap;
import java.util.Map;

/** The tensor shapes and config.json of a tiny Llama-family model (2 layers, GQA 4/2), for tests. */
public final class LlamaShapes {
    private LlamaShapes() {}

    public static final long VOCAB = 40, HIDDEN = 16, HEADS = 4, KV = 2, HEAD_DIM = 4, INTER = 24;
    public static final int LAYERS = 2;

    public static Map<String, long[]> shapes(boolean tied, boolean biases) {
        return shapes(tied, biases, false);
    }

    /**
     * With {@code biases} the q/k/v biases (Qwen2); with {@code llamaBiases} also Llama's attention_bias on o and
     * mlp_bias on gate/up/down.
     */
    public static Map<String, long[]> shapes(boolean tied, boolean biases, boolean llamaBiases) {
        return shapes(VOCAB, HIDDEN, HEADS, KV, HEAD_DIM, INTER, LAYERS, tied, biases, llamaBiases);
    }

    /** As {@link #shapes(boolean, boolean, boolean)} with other widths (its config: {@link #config}). */
    public static Map<String, long[]> shapes(long vocab, long hidden, long heads, long kv, long headDim, long inter,
            int layers, boolean tied, boolean biases, boolean llamaBiases) {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("model.embed_tokens.weight", new long[] {vocab, hidden});
        for (int i = 0; i < layers; i++) {
            String l = "model.layers." + i;
            s.put(l + ".self_attn.q_proj.weight", new long[] {heads * headDim, hidden});
            s.put(l + ".self_attn.k_proj.weight", new long[] {kv * headDim, hidden});
            s.put(l + ".self_attn.v_proj.weight", new long[] {kv * headDim, hidden});
            if (biases) {
                s.put(l + ".self_attn.q_proj.bias", new long[] {heads * headDim});
                s.put(l + ".self_attn.k_proj.bias", new long[] {kv * headDim});
                s.put(l + ".self_attn.v_proj.bias", new long[] {kv * headDim});
            }
            s.put(l + ".self_attn.o_proj.weight", new long[] {hidden, heads * headDim});
            s.put(l + ".mlp.gate_proj.weight", new long[] {inter, hidden});
            s.put(l + ".mlp.up_proj.weight", new long[] {inter, hidden});
            s.put(l + ".mlp.down_proj.weight", new long[] {hidden, inter});
            if (llamaBiases) {
                s.put(l + ".self_attn.o_proj.bias", new long[] {hidden});
                s.put(l + ".mlp.gate_proj.bias", new long[] {inter});
                s.put(l + ".mlp.up_proj.bias", new long[] {inter});
                s.put(l + ".mlp.down_proj.bias", new long[] {hidden});
            }
            s.put(l + ".input_layernorm.weight", new long[] {hidden});
            s.put(l + ".post_attention_layernorm.weight", new long[] {hidden});
        }
        s.put("model.norm.weight", new long[] {hidden});
        if (!tied) {
            s.put("lm_head.weight", new long[] {vocab, hidden});
        }
        return s;
    }

    public static final Map<String, Object> CONFIG = config(HEADS, KV);

    /** The config.json of a model with {@code heads} query heads and {@code kv} KV heads. */
    public static Map<String, Object> config(long heads, long kv) {
        return Map.of("num_attention_heads", heads, "num_key_value_heads", kv, "rms_norm_eps", 1e-5, "rope_theta",
                10000.0);
    }

    /** The untied model without biases. */
    public static Map<String, long[]> shapes() {
        return shapes(false, false);
    }
}
