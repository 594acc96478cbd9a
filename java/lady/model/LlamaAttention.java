package lady.model;

import java.util.Map;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import lady.graph.Node;
import lady.tensor.HostTensor;
import lady.torch.TorchTensors;

/**
 * Causal self-attention of the Llama family as Hugging Face transformers computes it: separate q, k, v
 * projections (optional biases: Qwen2's q/k/v, Llama's attention_bias on all four), Qwen3's RMSNorm of each q and
 * k head over its dimensions (q_norm, k_norm: one weight of head_dim, shared by the heads), rotary position embedding on
 * q and k (rotate_half: dimension i pairs with i + d/2 at frequency theta^(-2i/d), or as rope_scaling makes it:
 * {@link LlamaRope}), grouped-query heads (each KV head serves
 * heads / kv_heads query heads), softmax in float32, o projection. Positions are 0..S-1.
 */
final class LlamaAttention {
    private LlamaAttention() {}

    static Tensor forward(Node n, Tensor x, Map<String, Tensor> params) {
        long[] s = x.sizes().vec().get();
        long batch = s[0];
        long seq = s[1];
        long heads = n.longAttr("heads", 1);
        long kv = n.longAttr("kv_heads", heads);
        long hd = n.longAttr("head_dim", 1);
        Tensor q = project(x, params, n, "q").reshape(batch, seq, heads, hd).transpose(1, 2);
        Tensor k = project(x, params, n, "k").reshape(batch, seq, kv, hd).transpose(1, 2);
        Tensor v = project(x, params, n, "v").reshape(batch, seq, kv, hd).transpose(1, 2);
        if (n.has("q_norm")) { // Qwen3: each head's q and k RMS-normalized over the head's dimensions, before RoPE
            q = GraphNetwork.rmsNorm(q, params.get(n.param("q_norm")), n.doubleAttr("qk_norm_eps", 1e-6)).to(q.scalar_type());
        }
        if (n.has("k_norm")) {
            k = GraphNetwork.rmsNorm(k, params.get(n.param("k_norm")), n.doubleAttr("qk_norm_eps", 1e-6)).to(k.scalar_type());
        }
        String stored = n.param("rope_inv_freq");
        Tensor[] cs = rotary(seq, hd, stored == null ? null : params.get(stored), LlamaRope.of(n));
        q = q.mul(cs[0]).add(rotateHalf(q, hd).mul(cs[1]));
        k = k.mul(cs[0]).add(rotateHalf(k, hd).mul(cs[1]));
        long rep = heads / kv;
        if (rep > 1) {
            k = k.repeat_interleave(rep, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
            v = v.repeat_interleave(rep, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
        }
        Tensor scores = torch.matmul(q, k.transpose(-2, -1)).mul(new Scalar(1.0 / Math.sqrt(hd)));
        Tensor mask = torch.ones(seq, seq).triu(1).to(torch.ScalarType.Bool);
        scores = scores.masked_fill(mask, new Scalar(Double.NEGATIVE_INFINITY));
        Tensor attn = torch.softmax(scores.to(torch.ScalarType.Float), -1).to(q.scalar_type());
        Tensor o = torch.matmul(attn, v).transpose(1, 2).reshape(batch, seq, heads * hd);
        return linear(o, params.get(n.param("o_weight")), n.has("o_bias") ? params.get(n.param("o_bias")) : null);
    }

    private static Tensor project(Tensor x, Map<String, Tensor> params, Node n, String which) {
        String bias = n.param(which + "_bias");
        return linear(x, params.get(n.param(which + "_weight")), bias == null ? null : params.get(bias));
    }

    private static Tensor linear(Tensor x, Tensor w, Tensor b) {
        return b == null ? torch.linear(x, w) : torch.linear(x, w, new TensorOptional(b));
    }

    /**
     * cos and sin of the rotary angles, [S, d] each (frequencies repeated for both halves): the checkpoint's stored
     * frequencies when it has them, else theta^(-2i/d); then the configuration's scaling ({@link LlamaRope}).
     */
    private static Tensor[] rotary(long seq, long hd, Tensor stored, LlamaRope rope) {
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
        TensorVector both = new TensorVector(freqs, freqs);
        Tensor emb = torch.cat(both, -1);
        return new Tensor[] {emb.cos(), emb.sin()};
    }

    private static Tensor rotateHalf(Tensor x, long hd) {
        Tensor a = x.narrow(-1, 0, hd / 2);
        Tensor b = x.narrow(-1, hd / 2, hd / 2);
        return torch.cat(new TensorVector(b.neg(), a), -1);
    }
}
