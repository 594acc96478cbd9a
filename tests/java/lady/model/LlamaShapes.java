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
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("model.embed_tokens.weight", new long[] {VOCAB, HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String l = "model.layers." + i;
            s.put(l + ".self_attn.q_proj.weight", new long[] {HEADS * HEAD_DIM, HIDDEN});
            s.put(l + ".self_attn.k_proj.weight", new long[] {KV * HEAD_DIM, HIDDEN});
            s.put(l + ".self_attn.v_proj.weight", new long[] {KV * HEAD_DIM, HIDDEN});
            if (biases) {
                s.put(l + ".self_attn.q_proj.bias", new long[] {HEADS * HEAD_DIM});
                s.put(l + ".self_attn.k_proj.bias", new long[] {KV * HEAD_DIM});
                s.put(l + ".self_attn.v_proj.bias", new long[] {KV * HEAD_DIM});
            }
            s.put(l + ".self_attn.o_proj.weight", new long[] {HIDDEN, HEADS * HEAD_DIM});
            s.put(l + ".mlp.gate_proj.weight", new long[] {INTER, HIDDEN});
            s.put(l + ".mlp.up_proj.weight", new long[] {INTER, HIDDEN});
            s.put(l + ".mlp.down_proj.weight", new long[] {HIDDEN, INTER});
            if (llamaBiases) {
                s.put(l + ".self_attn.o_proj.bias", new long[] {HIDDEN});
                s.put(l + ".mlp.gate_proj.bias", new long[] {INTER});
                s.put(l + ".mlp.up_proj.bias", new long[] {INTER});
                s.put(l + ".mlp.down_proj.bias", new long[] {HIDDEN});
            }
            s.put(l + ".input_layernorm.weight", new long[] {HIDDEN});
            s.put(l + ".post_attention_layernorm.weight", new long[] {HIDDEN});
        }
        s.put("model.norm.weight", new long[] {HIDDEN});
        if (!tied) {
            s.put("lm_head.weight", new long[] {VOCAB, HIDDEN});
        }
        return s;
    }

    public static final Map<String, Object> CONFIG = Map.of("num_attention_heads", HEADS, "num_key_value_heads", KV,
            "rms_norm_eps", 1e-5, "rope_theta", 10000.0);

    /** The untied model without biases. */
    public static Map<String, long[]> shapes() {
        return shapes(false, false);
    }
}
