package lady.model;

import java.util.Map;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import lady.graph.Node;
import lady.tensor.HostTensor;
import lady.torch.TorchTensors;

/**
 * Causal self-attention of the Llama family as Hugging Face transformers computes it: separate q, k, v
 * projections (optional biases: Qwen2's q/k/v, Llama's attention_bias on all four), Qwen3's and Gemma 3's RMSNorm of
 * each q and k head over its dimensions (q_norm, k_norm: one weight of head_dim, shared by the heads; Gemma's scales
 * by 1 + weight), or OLMo 2's and OLMoE's RMSNorm of the whole q and k projections (q_norm_full, k_norm_full),
 * rotary position embedding on
 * q and k (rotate_half: dimension i pairs with i + d/2 at frequency theta^(-2i/d), or as rope_scaling makes it:
 * {@link LlamaRope}), grouped-query heads (each KV head serves
 * heads / kv_heads query heads), scores scaled by attn_scale (default 1 / sqrt(head_dim); Gemma 2 and 3:
 * query_pre_attn_scalar^-1/2) and soft-capped by logit_softcap (Gemma 2), causal, within sliding_window on a sliding
 * layer, softmax in float32, o projection. Positions are 0..S-1. The GPT family's attentions too ({@link GptFamily}):
 * weights stored [in, out] (GPT-2's Conv1D: attr transposed), q, k and v rows per head (GPT-NeoX, BLOOM:
 * qkv_per_head), no rotary embedding (rotary_dim 0: GPT-2, OPT, BLOOM) or a part of each head rotated, and BLOOM's
 * ALiBi (attr alibi: + slope(head) * key position).
 */
final class LlamaAttention {
    private LlamaAttention() {}

    /**
     * The attention of node {@code n} on {@code x}, its keys and values from {@code memory} ({@code x} itself but in a
     * cross-attention: T5's EncDecAttention over the encoder's output, separate projections, no rotary embedding).
     */
    static Tensor forward(Node n, Tensor x, Tensor memory, Map<String, Tensor> params) {
        long[] s = x.sizes().vec().get();
        long batch = s[0];
        long seq = s[1];
        long keys = memory.size(1); // (the encoder's tokens in a cross-attention)
        long heads = n.longAttr("heads", 1);
        long kv = n.longAttr("kv_heads", heads);
        long hd = n.longAttr("head_dim", 1);
        Tensor q;
        Tensor k;
        Tensor v;
        boolean transposed = n.longAttr("transposed", 0) == 1; // GPT-2's Conv1D: weights [in, out]
        if (n.has("qkv_weight") && n.longAttr("qkv_per_head", 0) == 1) { // per KV head: its query heads, its k, its v
            // (GPT-NeoX, BLOOM: one query head each; Falcon)
            long rep = heads / kv;
            Tensor qkv = GraphNetwork.linear(x, params.get(n.param("qkv_weight")), bias(n, params, "qkv_bias"), transposed)
                    .reshape(batch, seq, kv, (rep + 2) * hd);
            q = qkv.narrow(-1, 0, rep * hd).reshape(batch, seq, heads * hd);
            k = qkv.narrow(-1, rep * hd, hd).reshape(batch, seq, kv * hd);
            v = qkv.narrow(-1, (rep + 1) * hd, hd).reshape(batch, seq, kv * hd);
        } else if (n.has("qkv_weight")) { // Phi-3's qkv_proj, GPT-2's c_attn, MPT's Wqkv: the q, k and v rows stacked
            Tensor qkv = GraphNetwork.linear(x, params.get(n.param("qkv_weight")), bias(n, params, "qkv_bias"), transposed);
            double clip = n.doubleAttr("clip_qkv", 0);
            if (clip > 0) { // MPT's clip_qkv: every value within [-clip, clip]
                qkv = qkv.clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(-clip)),
                        new org.bytedeco.pytorch.ScalarOptional(new Scalar(clip)));
            }
            q = qkv.narrow(-1, 0, heads * hd);
            k = qkv.narrow(-1, heads * hd, kv * hd);
            v = qkv.narrow(-1, (heads + kv) * hd, kv * hd);
        } else {
            q = project(x, params, n, "q");
            k = project(memory, params, n, "k");
            v = project(memory, params, n, "v");
        }
        q = qkNorm(n, q, params, "q_norm_full"); // OLMo 2, OLMoE: the whole projection RMS-normalized
        k = qkNorm(n, k, params, "k_norm_full");
        q = q.reshape(batch, seq, heads, hd).transpose(1, 2);
        k = k.reshape(batch, keys, kv, hd).transpose(1, 2);
        v = v.reshape(batch, keys, kv, hd).transpose(1, 2);
        q = qkNorm(n, q, params, "q_norm"); // Qwen3, Gemma 3: each head RMS-normalized over its dimensions, before RoPE
        k = qkNorm(n, k, params, "k_norm");
        String stored = n.param("rope_inv_freq");
        long rd = n.longAttr("rotary_dim", hd); // the first rd dimensions of a head rotate (Phi-4-mini: 3/4), the rest pass
        if (rd > 0) { // (GPT-2 has no rotary embedding: rotary_dim 0)
            boolean interleaved = n.longAttr("rope_interleaved", 0) == 1; // GPT-J: pairs (2i, 2i + 1)
            Tensor[] cs = rotary(seq, rd, stored == null ? null : params.get(stored), LlamaRope.of(n), interleaved);
            q = rotate(q, cs, rd, hd, interleaved);
            k = rotate(k, cs, rd, hd, interleaved);
        }
        long rep = heads / kv;
        if (rep > 1) {
            k = k.repeat_interleave(rep, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
            v = v.repeat_interleave(rep, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
        }
        Tensor scores = torch.matmul(q, k.transpose(-2, -1)).mul(new Scalar(n.doubleAttr("attn_scale", 1.0 / Math.sqrt(hd))));
        if (n.longAttr("alibi", 0) == 1) { // BLOOM, MPT: + slope(h) * key position
            double max = n.doubleAttr("alibi_bias_max", 0);
            double[] slopes = max > 0 ? mptSlopes(heads, max) : alibiSlopes(heads);
            float[] alibi = new float[Math.toIntExact(heads * seq)];
            for (int h = 0; h < heads; h++) {
                for (int j = 0; j < seq; j++) {
                    alibi[(int) (h * seq + j)] = (float) (slopes[h] * j);
                }
            }
            scores = scores.add(TorchTensors.copy(HostTensor.ofFloats(alibi, heads, 1, seq)).to(scores.scalar_type()));
        }
        long buckets = n.longAttr(T5_BUCKETS, 0);
        if (buckets > 0) { // T5: + the bias table's row of each query-key distance's bucket, per head
            scores = scores.add(t5Bias(params.get(n.param("head_bias")), seq, buckets, n.longAttr(T5_MAX_DISTANCE, T5Family.MAX_DISTANCE),
                    n.longAttr("causal", 1) == 0).to(scores.scalar_type()));
        }
        double cap = n.doubleAttr("logit_softcap", 0);
        if (cap > 0) { // Gemma 2: cap * tanh(scores / cap)
            scores = torch.tanh(scores.mul(new Scalar(1 / cap))).mul(new Scalar(cap));
        }
        // causal (BERT's encoders: every token sees every token)
        Tensor mask = torch.ones(seq, keys).triu(n.longAttr("causal", 1) == 1 ? 1 : keys).to(torch.ScalarType.Bool);
        long window = n.longAttr("sliding_window", 0);
        if (window > 0) { // a sliding layer's: key j is seen from query i when i - window < j <= i
            mask = mask.logical_or(torch.ones(seq, seq).tril(-window).to(torch.ScalarType.Bool));
        }
        scores = scores.masked_fill(mask, new Scalar(Double.NEGATIVE_INFINITY));
        Tensor attn = torch.softmax(scores.to(torch.ScalarType.Float), -1).to(q.scalar_type());
        Tensor o = torch.matmul(attn, v).transpose(1, 2).reshape(batch, seq, heads * hd);
        return GraphNetwork.linear(o, params.get(n.param("o_weight")), bias(n, params, "o_bias"),
                n.longAttr("o_transposed", transposed ? 1 : 0) == 1);
    }

    /** The attributes of T5's relative position bias (a node with param head_bias [buckets, heads]). */
    static final String T5_BUCKETS = "t5_buckets";
    static final String T5_MAX_DISTANCE = "t5_max_distance";

    /**
     * T5's position bias [1, heads, seq, seq] (transformers' T5Attention.compute_bias): the table's row of the bucket
     * of key position minus query position; {@code bidirectional} (an encoder's) halves the buckets by the sign; the
     * first half of a side's buckets are exact distances, the rest logarithmic up to {@code maxDistance} (computed
     * with the same float32 operations).
     */
    static Tensor t5Bias(Tensor table, long seq, long buckets, long maxDistance, boolean bidirectional) {
        Tensor pos = torch.arange(new Scalar(seq)).to(torch.ScalarType.Long);
        Tensor rel = pos.unsqueeze(0).sub(pos.unsqueeze(1)); // memory - context
        long n = buckets;
        Tensor bucket = torch.zeros_like(rel);
        if (bidirectional) {
            n /= 2;
            bucket = bucket.add(rel.gt(new Scalar(0)).to(torch.ScalarType.Long).mul(new Scalar(n)));
            rel = rel.abs();
        } else {
            rel = rel.clamp_max(new Scalar(0)).neg();
        }
        long exact = n / 2;
        Tensor small = rel.lt(new Scalar(exact));
        Tensor large = torch.log(rel.to(torch.ScalarType.Float).div(new Scalar((float) exact)))
                .div(new Scalar((float) Math.log((double) maxDistance / exact))).mul(new Scalar((float) (n - exact)))
                .to(torch.ScalarType.Long).add(new Scalar(exact)).clamp_max(new Scalar(n - 1));
        bucket = bucket.add(torch.where(small, rel, large));
        long heads = table.size(1);
        return table.index_select(0, bucket.flatten()).reshape(seq, seq, heads).permute(2, 0, 1).unsqueeze(0);
    }

    /**
     * ALiBi's slope of each of {@code heads} heads (transformers' build_alibi_tensor): 2^(-8 (i + 1) / p) for the first p,
     * the largest power of two not above the count, then the odd multiples of 2^(-4 / p) for the rest.
     */
    static double[] alibiSlopes(long heads) {
        long p = Long.highestOneBit(heads);
        double log2p = Math.log(p) / Math.log(2);
        double base = Math.pow(2, -Math.pow(2, -(log2p - 3)));
        double[] out = new double[Math.toIntExact(heads)];
        for (int i = 0; i < p; i++) {
            out[i] = Math.pow(base, i + 1);
        }
        double extra = Math.pow(2, -Math.pow(2, -(log2p + 1 - 3)));
        for (int i = 0; i < Math.min(p, heads - p); i++) {
            out[(int) p + i] = Math.pow(extra, 2 * i + 1);
        }
        return out;
    }

    /**
     * MPT's ALiBi slopes (transformers' build_mpt_alibi_tensor): for the next power of two p of the heads, 2^-(i max / p)
     * for i = 1 .. p, the odd-indexed ones first, then the even-indexed, the first {@code heads} kept.
     */
    static double[] mptSlopes(long heads, double max) {
        long p = Long.highestOneBit(heads) == heads ? heads : Long.highestOneBit(heads) * 2;
        double[] all = new double[Math.toIntExact(p)];
        for (int i = 0; i < p; i++) {
            all[i] = 1 / Math.pow(2, (i + 1) * (max / p));
        }
        if (p == heads) {
            return all;
        }
        double[] out = new double[Math.toIntExact(heads)];
        int k = 0;
        for (int i = 1; i < p && k < heads; i += 2) {
            out[k++] = all[i];
        }
        for (int i = 0; i < p && k < heads; i += 2) {
            out[k++] = all[i];
        }
        return out;
    }

    /** The node's bias {@code role}, or null. */
    private static Tensor bias(Node n, Map<String, Tensor> params, String role) {
        return n.has(role) ? params.get(n.param(role)) : null;
    }

    /**
     * {@code x} RMS-normalized over its last axis by the node's {@code role} weight, if it has one: each head's
     * dimensions ([batch, heads, seq, head_dim]: q_norm, k_norm) or a whole projection's rows ([batch, seq, rows]:
     * q_norm_full, k_norm_full); scaled by 1 + weight where qk_norm_offset says so (Gemma 3).
     */
    private static Tensor qkNorm(Node n, Tensor x, Map<String, Tensor> params, String role) {
        if (!n.has(role)) {
            return x;
        }
        return GraphNetwork.rmsNorm(x, params.get(n.param(role)), n.doubleAttr("qk_norm_offset", 0),
                n.doubleAttr("qk_norm_eps", 1e-6)).to(x.scalar_type());
    }

    private static Tensor project(Tensor x, Map<String, Tensor> params, Node n, String which) {
        return GraphNetwork.linear(x, params.get(n.param(which + "_weight")), bias(n, params, which + "_bias"), false);
    }


    /**
     * cos and sin of the rotary angles, [S, d] each (frequencies repeated for both halves): the checkpoint's stored
     * frequencies when it has them, else theta^(-2i/d); then the configuration's scaling ({@link LlamaRope}).
     */
    private static Tensor[] rotary(long seq, long hd, Tensor stored, LlamaRope rope, boolean interleaved) {
        double[] base = null;
        if (stored != null) {
            Tensor f = stored.to(torch.ScalarType.Double).contiguous();
            base = new double[Math.toIntExact(f.numel())];
            f.data_ptr_double().get(base);
        }
        double[] inv = rope.invFreq(hd, seq, base);
        float[] values = new float[inv.length];
        for (int i = 0; i < inv.length; i++) {
            values[i] = (float) inv[i];
        }
        Tensor invFreq = TorchTensors.copy(HostTensor.ofFloats(values, values.length));
        Tensor pos = torch.arange(new Scalar(seq)).to(torch.ScalarType.Float);
        Tensor freqs = torch.outer(pos, invFreq);
        // each frequency for both dimensions of its pair: i and i + d/2 (rotate_half), or 2i and 2i + 1 (GPT-J)
        Tensor emb = interleaved ? freqs.repeat_interleave(2, new org.bytedeco.pytorch.LongOptional(-1),
                new org.bytedeco.pytorch.LongOptional()) : torch.cat(new TensorVector(freqs, freqs), -1);
        double scale = rope.cosSinScale(); // LongRoPE's attention factor
        return scale == 1 ? new Tensor[] {emb.cos(), emb.sin()}
                : new Tensor[] {emb.cos().mul(new Scalar(scale)), emb.sin().mul(new Scalar(scale))};
    }

    /** RoPE on the first {@code rd} of the {@code hd} dimensions of each head of {@code x}; the others as they are. */
    private static Tensor rotate(Tensor x, Tensor[] cs, long rd, long hd, boolean interleaved) {
        Tensor r = rd == hd ? x : x.narrow(-1, 0, rd);
        Tensor y = r.mul(cs[0]).add((interleaved ? rotateEveryTwo(r) : rotateHalf(r, rd)).mul(cs[1]));
        return rd == hd ? y : torch.cat(new TensorVector(y, x.narrow(-1, rd, hd - rd)), -1);
    }

    /** GPT-J's rotate_every_two: (x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...). */
    private static Tensor rotateEveryTwo(Tensor x) {
        long[] s = x.sizes().vec().get();
        long[] pairs = java.util.Arrays.copyOf(s, s.length + 1);
        pairs[s.length - 1] = s[s.length - 1] / 2;
        pairs[s.length] = 2;
        Tensor p = x.reshape(pairs);
        Tensor even = p.select(-1, 0);
        Tensor odd = p.select(-1, 1);
        return torch.stack(new TensorVector(odd.neg(), even), -1).reshape(s);
    }

    private static Tensor rotateHalf(Tensor x, long hd) {
        Tensor a = x.narrow(-1, 0, hd / 2);
        Tensor b = x.narrow(-1, hd / 2, hd / 2);
        return torch.cat(new TensorVector(b.neg(), a), -1);
    }
}
