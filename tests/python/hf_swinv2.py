#!/usr/bin/python3
"""Hugging Face's Swin Transformer V2 (transformers' modeling_swinv2.py: Swinv2ForImageClassification and Swinv2Model,
model type "swinv2"; the modules are written out below as that file defines them, transformers not being installable
here; the parts it shares with Swin V1 come from hf_swin.py), for the Java tests (run with /usr/bin/python3).

    hf_swinv2.py save <out_dir> <seed> [NAME...]
        <out_dir>/swinv2hf/ (Swinv2ForImageClassification, 10 labels) and swinv2modelhf/ (Swinv2Model, no head): Hugging
        Face folders of a small Swin V2 (embed_dim 24, depths 2-2-2, heads 2-4-8, windows of 2 on 32 x 32 images in
        4 x 4 patches; swinv2hf's offsets scaled by pretrained windows of 3), random weights, norm weights near 1.
    hf_swinv2.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict, the wrong permutation two query heads swapped in the first block.

Exit code 3 without torch.
"""
import math
import sys

try:
    import function_check
    import hf_swin
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


class Swinv2SelfAttention(nn.Module):
    def __init__(self, dim, heads, ws, pretrained_ws, qkv_bias):
        super().__init__()
        self.heads, self.head_size, self.ws = heads, dim // heads, ws
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((heads, 1, 1))))
        self.continuous_position_bias_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                                          nn.Linear(512, heads, bias=False))
        r = torch.arange(-(ws - 1), ws, dtype=torch.int64).float()
        table = torch.stack(torch.meshgrid([r, r], indexing="ij")).permute(1, 2, 0).contiguous().unsqueeze(0)
        table /= (pretrained_ws if pretrained_ws > 0 else ws) - 1
        table *= 8
        table = torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / math.log2(8)
        self.register_buffer("relative_coords_table", table, persistent=False)
        coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))
        flat = torch.flatten(coords, 1)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += ws - 1
        rel[:, :, 1] += ws - 1
        rel[:, :, 0] *= 2 * ws - 1
        self.register_buffer("relative_position_index", rel.sum(-1), persistent=False)
        self.query = nn.Linear(dim, dim, bias=qkv_bias)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=qkv_bias)

    def forward(self, x, mask):
        b, n, c = x.shape
        q, k, v = (f(x).view(b, -1, self.heads, self.head_size).transpose(1, 2) for f in (self.query, self.key, self.value))
        s = nn.functional.normalize(q, dim=-1) @ nn.functional.normalize(k, dim=-1).transpose(-2, -1)
        s = s * torch.clamp(self.logit_scale, max=math.log(1.0 / 0.01)).exp()
        table = self.continuous_position_bias_mlp(self.relative_coords_table).view(-1, self.heads)
        bias = table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()
        s = s + 16 * torch.sigmoid(bias).unsqueeze(0)
        if mask is not None:  # (transformers adds the mask twice)
            m = mask.shape[0]
            s = s.view(b // m, m, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            s = (s + mask.unsqueeze(1).unsqueeze(0)).view(-1, self.heads, n, n)
        y = torch.matmul(s.softmax(-1), v).permute(0, 2, 1, 3).contiguous()
        return y.view(y.shape[:-2] + (c,))


class Swinv2Attention(nn.Module):
    def __init__(self, dim, heads, ws, pretrained_ws, qkv_bias):
        super().__init__()
        self.self = Swinv2SelfAttention(dim, heads, ws, pretrained_ws, qkv_bias)
        self.output = hf_swin.SwinSelfOutput(dim)

    def forward(self, x, mask):
        return self.output.dense(self.self(x, mask))


class Swinv2Layer(hf_swin.SwinLayer):
    """V1's layer with the attention and MLP normalized after them (x + norm(attn(x)), x + norm(mlp(x)))."""

    def __init__(self, c, dim, resolution, heads, shift, pretrained_ws):
        super().__init__(c, dim, resolution, heads, shift)
        ws = min(resolution[0], c["window_size"])  # transformers' _compute_window_shift
        self.ws, self.shift = ws, 0 if resolution[0] <= ws else shift
        self.attention = Swinv2Attention(dim, heads, ws, pretrained_ws, c["qkv_bias"])

    def forward(self, x, dims):
        h, w = dims
        b, _, c = x.shape
        shortcut = x
        x = x.view(b, h, w, c)
        pr, pb = (self.ws - w % self.ws) % self.ws, (self.ws - h % self.ws) % self.ws
        x = nn.functional.pad(x, (0, 0, 0, pr, 0, pb))
        hp, wp = x.shape[1], x.shape[2]
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        win = hf_swin.window_partition(x, self.ws).view(-1, self.ws * self.ws, c)
        y = self.attention(win, self.mask(hp, wp)).view(-1, self.ws, self.ws, c)
        y = hf_swin.window_reverse(y, self.ws, hp, wp)
        if self.shift > 0:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        y = y[:, :h, :w, :].contiguous().view(b, h * w, c)
        x = shortcut + self.layernorm_before(y)
        return x + self.layernorm_after(self.output.dense(nn.functional.gelu(self.intermediate.dense(x))))


class Swinv2PatchMerging(hf_swin.SwinPatchMerging):
    """V1's merging, reduced first and then normalized (over 2 C)."""

    def __init__(self, dim):
        super().__init__(dim)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x, dims):
        h, w = dims
        b, _, c = x.shape
        x = nn.functional.pad(x.view(b, h, w, c), (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.norm(self.reduction(x.view(b, -1, 4 * c)))


class Swinv2Stage(nn.Module):
    def __init__(self, c, dim, resolution, depth, heads, last, pretrained_ws):
        super().__init__()
        self.blocks = nn.ModuleList([Swinv2Layer(c, dim, resolution, heads, 0 if i % 2 == 0 else c["window_size"] // 2,
                                                 pretrained_ws) for i in range(depth)])
        self.downsample = None if last else Swinv2PatchMerging(dim)

    forward = hf_swin.SwinStage.forward


class Swinv2Model(hf_swin.SwinModel):
    def __init__(self, c):
        super().__init__(c)
        grid, n = c["image_size"] // c["patch_size"], len(c["depths"])
        self.encoder.layers = nn.ModuleList([Swinv2Stage(c, c["embed_dim"] * 2 ** i, (grid // 2 ** i, grid // 2 ** i),
                                                         c["depths"][i], c["num_heads"][i], i == n - 1,
                                                         c["pretrained_window_sizes"][i]) for i in range(n)])


class Swinv2ForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.swinv2 = Swinv2Model(c)
        self.classifier = nn.Linear(self.swinv2.layernorm.normalized_shape[0], len(c["id2label"]))

    def forward(self, x):
        return self.classifier(self.swinv2(x))


def config(head):
    c = hf_swin.config(head)
    c.update({"model_type": "swinv2", "architectures": ["Swinv2ForImageClassification" if head else "Swinv2Model"],
              "pretrained_window_sizes": [3, 3, 3] if head else [0, 0, 0]})
    return c


MODELS = {"swinv2hf": True, "swinv2modelhf": False}


def build(c):
    return Swinv2ForImageClassification(c) if c["architectures"][0] == "Swinv2ForImageClassification" \
        else Swinv2Model(c)


def logit_scales(name, p):
    """The heads' logit scales: log of 5 to 20 (transformers' log 10, spread so that the heads differ)."""
    if name.endswith("logit_scale"):
        p.copy_(torch.log(5 + 15 * torch.rand(p.shape)))
        return True
    return False


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, MODELS, config, build, logit_scales)


def check(original, permuted, restored):
    hf_swin.check_models(original, permuted, restored, build, "swinv2")


if __name__ == "__main__":
    function_check.main(save, check)
