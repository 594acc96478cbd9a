package lady.model;

import java.util.Map;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import lady.LadyException;
import lady.graph.Node;
import lady.graph.Op;

/**
 * Swin's shifted-window attention as torchvision 0.14 computes it ({@code shifted_window_attention}), on an image
 * {@code N x C x H x W} (the graph's layout; torchvision holds {@code N x H x W x C}): the image padded at its bottom and
 * right to whole windows of {@code window x window} pixels, cyclically shifted by {@code shift} pixels up and left (no
 * shift where one window covers the padded image), cut into windows; per window a multi-head self-attention with the
 * packed q, k, v projection ({@code qkv_weight}, {@code qkv_bias}), scores scaled by head_dim^-1/2, plus the relative
 * position bias (the table {@code head_bias} [(2 window - 1)^2, heads] at each pair of pixels' relative offset), and, when
 * shifted, -100 between pixels that came from different regions of the image; softmax, the output projection
 * ({@code o_weight}, {@code o_bias}); the windows put back, the shift undone, the padding cut. The relative offsets are
 * computed here from the window size, as torchvision's relative_position_index buffer holds them (the checkpoint's copy
 * is saved, not read). Swin V2 ({@link Op#COSINE}): no k bias, the scores are the cosines of q and k times each head's
 * scale (exp of its logit_scale, at most 100), and the bias is 16 sigmoid of the position-bias MLP (2 -> U, ReLU, U ->
 * heads) at each offset's log-scaled coordinates (computed here too). MaxViT: the scores scaled by attr attn_scale,
 * and with {@link Op#GRID} each window's pixels taken H / window rows and W / window columns apart (one per cell of a
 * window x window grid; the sides must be multiples of the window). Attrs of the
 * {@link lady.graph.Op#ATTENTION_GQA} node: heads, head_dim, {@link Op#WINDOW}, {@link Op#WINDOW_SHIFT},
 * {@link Op#COSINE}, {@link Op#GRID}, attn_scale.
 */
final class SwinAttention {
    private SwinAttention() {}

    /** The score between pixels of different regions of a shifted window (torchvision's). */
    private static final double MASKED = -100.0;

    static Tensor forward(Node n, Tensor image, Map<String, Tensor> params) {
        long ws = n.longAttr(Op.WINDOW, 1);
        long heads = n.longAttr("heads", 1);
        long hd = n.longAttr("head_dim", 1);
        Tensor x = image.permute(0, 2, 3, 1); // N H W C
        long[] s = x.sizes().vec().get();
        long batch = s[0], h = s[1], w = s[2], c = s[3];
        long padB = (ws - h % ws) % ws;
        long padR = (ws - w % ws) % ws;
        x = torch.constant_pad_nd(x, new long[] {0, 0, 0, padR, 0, padB}, new Scalar(0.0));
        long ph = h + padB, pw = w + padR;
        long shiftH = ws >= ph ? 0 : n.longAttr(Op.WINDOW_SHIFT, 0);
        long shiftW = ws >= pw ? 0 : n.longAttr(Op.WINDOW_SHIFT, 0);
        boolean shifted = shiftH + shiftW > 0;
        if (shifted) {
            x = torch.roll(x, new long[] {-shiftH, -shiftW}, new long[] {1, 2});
        }
        long windows = (ph / ws) * (pw / ws);
        long l = ws * ws;
        boolean grid = n.longAttr(Op.GRID, 0) == 1;
        if (grid && (padB > 0 || padR > 0)) {
            throw LadyException.invalidInput(n.name() + ": MaxViT's grid attention needs an image whose sides are "
                    + "multiples of " + ws + "; this one is " + h + " x " + w + " (give the network an input size that "
                    + "every stage divides)");
        }
        x = grid ? x.reshape(batch, ws, ph / ws, ws, pw / ws, c).permute(0, 2, 4, 1, 3, 5).reshape(batch * windows, l, c)
                : x.reshape(batch, ph / ws, ws, pw / ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(batch * windows, l, c);

        boolean cosine = n.longAttr(Op.COSINE, 0) == 1;
        Tensor qkvBias = n.has("qkv_bias") ? params.get(n.param("qkv_bias")) : null;
        Tensor qkvWeight = n.has("qkv_weight") ? params.get(n.param("qkv_weight")) : null;
        if (qkvWeight == null) { // separate q, k, v (Hugging Face's Swin): packed here as torchvision packs them
            qkvWeight = torch.cat(new org.bytedeco.pytorch.TensorVector(params.get(n.param("q_weight")),
                    params.get(n.param("k_weight")), params.get(n.param("v_weight"))), 0);
            Tensor q = n.has("q_bias") ? params.get(n.param("q_bias")) : null;
            qkvBias = q == null ? null : torch.cat(new org.bytedeco.pytorch.TensorVector(q, n.has("k_bias") // (V2: none)
                    ? params.get(n.param("k_bias")) : torch.zeros_like(q), params.get(n.param("v_bias"))), 0);
        }
        if (cosine && qkvBias != null) { // Swin V2 uses no k bias
            qkvBias = qkvBias.clone();
            qkvBias.narrow(0, c, c).zero_();
        }
        Tensor qkv = GraphNetwork.linear(x, qkvWeight, qkvBias, false)
                .reshape(batch * windows, l, 3, heads, hd).permute(2, 0, 3, 1, 4);
        Tensor q = qkv.select(0, 0);
        Tensor k = qkv.select(0, 1);
        Tensor v = qkv.select(0, 2);
        Tensor attn;
        Tensor table; // one row per relative offset, one column per head
        if (cosine) { // cosine scores times each head's scale (at most 100), the bias 16 sigmoid(MLP(offset))
            attn = normalize(q).matmul(normalize(k).transpose(-2, -1));
            Tensor scale = params.get(n.param("head_scale")).clamp(new org.bytedeco.pytorch.ScalarOptional(),
                    new org.bytedeco.pytorch.ScalarOptional(new Scalar(Math.log(MAX_LOGIT_SCALE)))).exp();
            attn = attn.mul(scale);
            Tensor hidden = torch.relu(GraphNetwork.linear(relativeCoordinates(ws, n.longAttr(Op.COORDS_WINDOW, ws)),
                    params.get(n.param("cpb_in_weight")),
                    params.get(n.param("cpb_in_bias")), false));
            table = GraphNetwork.linear(hidden, params.get(n.param("cpb_out_weight")), null, false);
        } else {
            attn = q.mul(new Scalar(n.doubleAttr("attn_scale", Math.pow(hd, -0.5)))).matmul(k.transpose(-2, -1));
            table = params.get(n.param("head_bias"));
        }
        Tensor bias = table.index_select(0, relativeIndex(ws)).reshape(l, l, heads).permute(2, 0, 1).unsqueeze(0);
        attn = attn.add(cosine ? torch.sigmoid(bias).mul(new Scalar(V2_BIAS_RANGE)) : bias);
        if (shifted) {
            Tensor mask = regionMask(ph, pw, ws, shiftH, shiftW); // windows x L x L
            attn = attn.reshape(batch, windows, heads, l, l).add(mask.unsqueeze(1).unsqueeze(0)).reshape(-1, heads, l, l);
        }
        attn = torch.softmax(attn, -1);
        x = attn.matmul(v).transpose(1, 2).reshape(batch * windows, l, c);
        x = GraphNetwork.linear(x, params.get(n.param("o_weight")), n.has("o_bias") ? params.get(n.param("o_bias")) : null,
                false);
        x = x.reshape(batch, ph / ws, pw / ws, ws, ws, c).permute(0, grid ? 3 : 1, grid ? 1 : 3, grid ? 4 : 2,
                grid ? 2 : 4, 5).reshape(batch, ph, pw, c);
        if (shifted) {
            x = torch.roll(x, new long[] {shiftH, shiftW}, new long[] {1, 2});
        }
        return x.narrow(1, 0, h).narrow(2, 0, w).permute(0, 3, 1, 2).contiguous();
    }

    /** Swin V2's largest scale of a head's cosine scores. */
    private static final double MAX_LOGIT_SCALE = 100.0;
    /** Swin V2's position bias: this times the sigmoid of its MLP's output. */
    private static final double V2_BIAS_RANGE = 16.0;
    /** Swin V2's offsets are scaled to [-8, 8] before their log. */
    private static final double V2_OFFSET_RANGE = 8.0;

    /** {@code x} over the last axis's norm (at least 1e-12), as torch.nn.functional.normalize. */
    private static Tensor normalize(Tensor x) {
        Tensor norm = x.norm(new org.bytedeco.pytorch.ScalarOptional(new Scalar(2.0)), new long[] {-1}, true)
                .clamp_min(new Scalar(1e-12));
        return x.div(norm);
    }

    /**
     * Swin V2's relative offsets, one row per offset (dh, dw) in [-(ws - 1), ws - 1]^2 (row-major, as the index counts
     * them): each divided by scaleWindow - 1 (the window, or Hugging Face's pretrained window) and scaled to [-8, 8], then sign(x) log2(|x| + 1) / 3, as torchvision's relative_coords_table ({@code
     * (2 ws - 1)^2 x 2}).
     */
    static Tensor relativeCoordinates(long ws, long scaleWindow) {
        int side = Math.toIntExact(2 * ws - 1);
        float[] c = new float[side * side * 2];
        for (int i = 0; i < side; i++) {
            for (int j = 0; j < side; j++) {
                c[2 * (i * side + j)] = logScaled((i - (ws - 1)) / (float) (scaleWindow - 1));
                c[2 * (i * side + j) + 1] = logScaled((j - (ws - 1)) / (float) (scaleWindow - 1));
            }
        }
        Tensor t = torch.empty(side * side, 2);
        t.data_ptr_float().put(c);
        return t;
    }

    /** sign(8 x) log2(|8 x| + 1) / 3, in float32 as torchvision computes it. */
    private static float logScaled(float x) {
        float y = x * (float) V2_OFFSET_RANGE;
        return (float) (Math.signum(y) * (Math.log(Math.abs(y) + 1.0f) / Math.log(2)) / 3.0);
    }

    /**
     * Per pair of pixels (i, j) of a window (row-major), the row of the bias table for their offset:
     * (dh + ws - 1) (2 ws - 1) + (dw + ws - 1), as torchvision's relative_position_index.
     */
    static Tensor relativeIndex(long ws) {
        long l = ws * ws;
        long[] index = new long[Math.toIntExact(l * l)];
        for (long i = 0; i < l; i++) {
            for (long j = 0; j < l; j++) {
                long dh = i / ws - j / ws + ws - 1;
                long dw = i % ws - j % ws + ws - 1;
                index[(int) (i * l + j)] = dh * (2 * ws - 1) + dw;
            }
        }
        Tensor t = torch.empty(new long[] {index.length}, new org.bytedeco.pytorch.TensorOptions().dtype(
                new org.bytedeco.pytorch.ScalarTypeOptional(torch.ScalarType.Long)), new org.bytedeco.pytorch.MemoryFormatOptional());
        t.data_ptr_long().put(index);
        return t;
    }

    /**
     * torchvision's attention mask of a shifted window: the padded image's pixels labelled by region (three bands of
     * rows, [0, -ws), [-ws, -shift), [-shift, end), times three of columns), cut into windows; 0 between pixels of one
     * region, {@link #MASKED} between others. {@code windows x L x L}.
     */
    private static Tensor regionMask(long ph, long pw, long ws, long shiftH, long shiftW) {
        float[] label = new float[Math.toIntExact(ph * pw)];
        for (long r = 0; r < ph; r++) {
            for (long col = 0; col < pw; col++) {
                label[(int) (r * pw + col)] = 3 * band(r, ph, ws, shiftH) + band(col, pw, ws, shiftW);
            }
        }
        Tensor m = torch.empty(ph, pw);
        m.data_ptr_float().put(label);
        long windows = (ph / ws) * (pw / ws);
        m = m.reshape(ph / ws, ws, pw / ws, ws).permute(0, 2, 1, 3).reshape(windows, ws * ws);
        Tensor d = m.unsqueeze(1).sub(m.unsqueeze(2));
        return d.ne(new Scalar(0.0)).to(torch.ScalarType.Float).mul(new Scalar(MASKED));
    }

    /**
     * Which of torchvision's three slices {@code [0, -ws), [-ws, -shift), [-shift, end)} index {@code i} of {@code size}
     * is in; one band for every index where that axis is not shifted (torchvision's last slice, {@code [-0, end)}, then
     * covers the whole axis).
     */
    private static int band(long i, long size, long ws, long shift) {
        return shift == 0 ? 0 : i < size - ws ? 0 : i < size - shift ? 1 : 2;
    }
}
