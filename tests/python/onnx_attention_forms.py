#!/usr/bin/python3
"""Attention written in the forms other libraries write it, exported to ONNX by PyTorch 1.13 (run by the Java tests
with /usr/bin/python3): key and value heads fewer than the query heads and not repeated with Expand, timm's packed
projection viewed as [3, heads, dimensions], and projections packed per head (GPT-NeoX's, BLOOM's).

    onnx_attention_forms.py <out_dir> <seed>

Each model: features [batch, 16, 8] -> a linear embedding of width 64 -> a pre-norm attention layer (8 query heads of
8) -> a GELU MLP of 128 -> a layer norm -> mean over the tokens -> 3 classes. The attention, one per model:
  mqa        multi-query as Falcon-7B writes it: separate q, one k and v head ([b, 1, t, 8]) that the products
             broadcast to every query head;
  mqa-rope   the same from one packed projection split in three (q, k, v of 64 + 8 + 8), a rotary embedding on q and k;
  gqa5       grouped-query with 2 key and value heads, q viewed as [b, 2, 4, t, 8] against k and v as [b, 2, 1, t, 8]
             (the products broadcast them to each group's 4 query heads), then merged back to 8 heads;
  gqa5-rope  the same with a rotary embedding on q and k;
  timm       timm's Attention: one packed qkv projection reshaped to [b, t, 3, heads, 8] and permuted to
             [3, b, heads, t, 8], q, k, v = qkv.unbind(0) (a Split and Squeezes), q @ k.transpose(-2, -1) * scale;
  timm-index the same with q, k, v = qkv[0], qkv[1], qkv[2] (Gathers);
  neox       GPT-NeoX's attention (Pythia): one query_key_value projection holding each head's q, k, v rows together,
             viewed as [b, t, heads, 3 * 8] and sliced into q, k, v; a rotary embedding on the first quarter of each
             head's dimensions (rotary_pct 0.25), the rest passed through;
  neox-full  the same with the rotary embedding on every dimension (the pass-through part an empty slice);
  bloom      BLOOM's packing: the projection viewed as [b, t, heads, 3, 8], q, k, v = fused[..., 0, :] and the rest
             (Gathers), no rotary embedding (BLOOM's ALiBi left out: a bias per head stays in place);
  swin       torchvision Swin's window attention: the 16 tokens cut into 2 windows of 8 (batch and windows merged),
             timm's packed qkv, a relative position bias per head gathered from a learned table
             (table[index].view(8, 8, heads).permute(2, 0, 1).unsqueeze(0)) added to the scores, and a shifted
             window's mask added through a view of the scores as [b, windows, heads, 8, 8] and back.
<out_dir> receives <model>.onnx for each (state-dict names, training=PRESERVE, do_constant_folding=False). Layer norms
get random weights and biases. Exit code 3 without torch or onnx.
"""
import math
import os
import sys

try:
    import onnx  # noqa: F401  (the exporter needs it)
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch/onnx: {e}")
    sys.exit(3)

TOKENS, FEATURES, WIDTH, HEADS, MLP, CLASSES = 16, 8, 64, 8, 128, 3
HEAD = WIDTH // HEADS


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


class Net(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.kv = 2 if kind.startswith("gqa5") else 1 if kind.startswith("mqa") else HEADS
        self.embed = nn.Linear(FEATURES, WIDTH)
        self.ln1, self.ln2, self.ln = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        for ln in (self.ln1, self.ln2, self.ln):
            nn.init.normal_(ln.weight, 1.0, 0.2)
            nn.init.normal_(ln.bias, 0.0, 0.2)
        if kind not in ("mqa", "gqa5", "gqa5-rope"):
            self.qkv = nn.Linear(WIDTH, WIDTH + 2 * self.kv * HEAD)
        else:
            self.q = nn.Linear(WIDTH, WIDTH)
            self.k, self.v = nn.Linear(WIDTH, self.kv * HEAD), nn.Linear(WIDTH, self.kv * HEAD)
        self.o = nn.Linear(WIDTH, WIDTH)
        self.fc1, self.fc2 = nn.Linear(WIDTH, MLP), nn.Linear(MLP, WIDTH)
        self.head = nn.Linear(WIDTH, CLASSES)
        self.rot = HEAD // 4 if kind == "neox" else HEAD
        if kind == "swin":
            self.table = nn.Parameter(torch.randn(15, HEADS) * 0.5)  # 2 * 8 - 1 relative positions
            pos = torch.arange(8)
            self.register_buffer("index", (pos[:, None] - pos[None, :] + 7).flatten())
            self.register_buffer("shifted", torch.rand(1, 2, 1, 8, 8) < 0.2)  # a mask, not a weight
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, self.rot, 2).float() / self.rot)))

    def attention(self, h):
        b, t, _ = h.shape
        if self.kind == "swin":
            w = h.reshape(b * 2, t // 2, WIDTH)  # two windows of 8 tokens
            qkv = self.qkv(w).reshape(b * 2, t // 2, 3, HEADS, HEAD).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = (q * HEAD ** -0.5).matmul(k.transpose(-2, -1))
            attn = attn + self.table[self.index].view(8, 8, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
            attn = (attn.view(b, 2, HEADS, 8, 8) + self.shifted.float() * -100.0).view(-1, HEADS, 8, 8)
            y = attn.softmax(dim=-1).matmul(v).transpose(1, 2).reshape(b * 2, t // 2, WIDTH)
            return self.o(y.reshape(b, t, WIDTH))
        if self.kind.startswith("timm"):
            qkv = self.qkv(h).reshape(b, t, 3, HEADS, HEAD).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0) if self.kind == "timm" else (qkv[0], qkv[1], qkv[2])
            y = ((q @ k.transpose(-2, -1)) * HEAD ** -0.5).softmax(dim=-1) @ v
            return self.o(y.transpose(1, 2).reshape(b, t, WIDTH))
        if self.kind.startswith("neox") or self.kind == "bloom":
            if self.kind == "bloom":
                fused = self.qkv(h).view(b, t, HEADS, 3, HEAD)
                q, k, v = (fused[..., i, :].transpose(1, 2) for i in range(3))
            else:
                fused = self.qkv(h).view(b, t, HEADS, 3 * HEAD).permute(0, 2, 1, 3)
                q, k, v = fused[..., :HEAD], fused[..., HEAD:2 * HEAD], fused[..., 2 * HEAD:]
                f = torch.arange(t, dtype=torch.float32)[:, None] * self.inv_freq
                e = torch.cat((f, f), -1)
                q = torch.cat((rope(q[..., :self.rot], e.cos(), e.sin()), q[..., self.rot:]), -1)
                k = torch.cat((rope(k[..., :self.rot], e.cos(), e.sin()), k[..., self.rot:]), -1)
            y = torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HEAD), -1), v)
            return self.o(y.transpose(1, 2).reshape(b, t, WIDTH))
        if self.kind == "mqa-rope":
            q, k, v = self.qkv(h).split([WIDTH, HEAD, HEAD], dim=-1)
        else:
            q, k, v = self.q(h), self.k(h), self.v(h)
        q = q.view(b, t, HEADS, HEAD).transpose(1, 2)
        k = k.view(b, t, self.kv, HEAD).transpose(1, 2)
        v = v.view(b, t, self.kv, HEAD).transpose(1, 2)
        if self.kind.endswith("rope"):
            f = torch.arange(t, dtype=torch.float32)[:, None] * self.inv_freq
            e = torch.cat((f, f), -1)
            q, k = rope(q, e.cos(), e.sin()), rope(k, e.cos(), e.sin())
        if self.kind.startswith("gqa5"):
            q = q.reshape(b, self.kv, HEADS // self.kv, t, HEAD)
            k, v = k[:, :, None], v[:, :, None]
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HEAD)
        y = torch.matmul(torch.softmax(s, -1), v).reshape(b, HEADS, t, HEAD)
        return self.o(y.transpose(1, 2).reshape(b, t, WIDTH))

    def forward(self, x):
        x = self.embed(x)
        x = x + self.attention(self.ln1(x))
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))
        return self.head(self.ln(x).mean(1))


def main():
    out, seed = sys.argv[1], int(sys.argv[2])
    for kind in ("mqa", "mqa-rope", "gqa5", "gqa5-rope", "timm", "timm-index", "neox", "neox-full", "bloom", "swin"):
        torch.manual_seed(seed)
        net = Net(kind).eval()
        torch.onnx.export(net, torch.randn(2, TOKENS, FEATURES), os.path.join(out, kind + ".onnx"), opset_version=17,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


if __name__ == "__main__":
    main()
