#!/usr/bin/python3
"""Hugging Face's Swin Transformer (transformers' modeling_swin.py: SwinForImageClassification and SwinModel, model type
"swin"; the modules are written out below as that file defines them, transformers not being installable here), for the
Java tests (run with /usr/bin/python3).

    hf_swin.py save <out_dir> <seed> [NAME...]
        <out_dir>/swinhf/ (SwinForImageClassification, 10 labels) and swinmodelhf/ (SwinModel, no head): Hugging Face
        folders (config.json and pytorch_model.bin) of a small Swin (embed_dim 24, depths 2-2-2, heads 2-4-8, windows of
        2 on 32 x 32 images in 4 x 4 patches: 8 x 8, 4 x 4 and 2 x 2 pixels, shifted windows with their masks in the
        first two stages), random weights, norm weights near 1.
    hf_swin.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights (the classifier's logits; SwinModel's pooled features by
        their inner products), the wrong permutation two query heads swapped in the first block.

Exit code 3 without torch.
"""
import math
import sys

try:
    import function_check
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


def window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def window_reverse(windows, ws, h, w):
    c = windows.shape[-1]
    x = windows.view(-1, h // ws, w // ws, ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, h, w, c)


class SwinSelfAttention(nn.Module):
    def __init__(self, dim, heads, ws, qkv_bias):
        super().__init__()
        self.heads, self.head_size, self.ws = heads, dim // heads, ws
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) * (2 * ws - 1), heads))
        coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))
        flat = torch.flatten(coords, 1)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += ws - 1
        rel[:, :, 1] += ws - 1
        rel[:, :, 0] *= 2 * ws - 1
        self.register_buffer("relative_position_index", rel.sum(-1))
        self.query = nn.Linear(dim, dim, bias=qkv_bias)
        self.key = nn.Linear(dim, dim, bias=qkv_bias)
        self.value = nn.Linear(dim, dim, bias=qkv_bias)

    def scores(self, x):
        return x.view(x.shape[:-1] + (self.heads, self.head_size)).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        b, n, c = x.shape
        q, k, v = self.scores(self.query(x)), self.scores(self.key(x)), self.scores(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        s = s + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            m = mask.shape[0]
            s = (s.view(b // m, m, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(-1, self.heads, n, n)
        y = torch.matmul(s.softmax(-1), v).permute(0, 2, 1, 3).contiguous()
        return y.view(y.shape[:-2] + (c,))


class SwinSelfOutput(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dense = nn.Linear(dim, dim)


class SwinAttention(nn.Module):
    def __init__(self, dim, heads, ws, qkv_bias):
        super().__init__()
        self.self = SwinSelfAttention(dim, heads, ws, qkv_bias)
        self.output = SwinSelfOutput(dim)

    def forward(self, x, mask):
        return self.output.dense(self.self(x, mask))


class Dense(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.dense = nn.Linear(a, b)


class SwinLayer(nn.Module):
    def __init__(self, c, dim, resolution, heads, shift):
        super().__init__()
        self.shift, self.ws = shift, c["window_size"]
        if min(resolution) <= self.ws:  # transformers' set_shift_and_window_size
            self.shift, self.ws = 0, min(resolution)
        eps = c["layer_norm_eps"]
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.attention = SwinAttention(dim, heads, self.ws, c["qkv_bias"])
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.intermediate = Dense(dim, int(c["mlp_ratio"] * dim))
        self.output = Dense(int(c["mlp_ratio"] * dim), dim)

    def mask(self, h, w):
        if self.shift == 0:
            return None
        img = torch.zeros((1, h, w, 1))
        count = 0
        for hs in (slice(0, -self.ws), slice(-self.ws, -self.shift), slice(-self.shift, None)):
            for wsl in (slice(0, -self.ws), slice(-self.ws, -self.shift), slice(-self.shift, None)):
                img[:, hs, wsl, :] = count
                count += 1
        m = window_partition(img, self.ws).view(-1, self.ws * self.ws)
        m = m.unsqueeze(1) - m.unsqueeze(2)
        return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)

    def forward(self, x, dims):
        h, w = dims
        b, _, c = x.shape
        shortcut = x
        x = self.layernorm_before(x).view(b, h, w, c)
        pr, pb = (self.ws - w % self.ws) % self.ws, (self.ws - h % self.ws) % self.ws
        x = nn.functional.pad(x, (0, 0, 0, pr, 0, pb))
        hp, wp = x.shape[1], x.shape[2]
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        win = window_partition(x, self.ws).view(-1, self.ws * self.ws, c)
        y = self.attention(win, self.mask(hp, wp)).view(-1, self.ws, self.ws, c)
        y = window_reverse(y, self.ws, hp, wp)
        if self.shift > 0:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        y = y[:, :h, :w, :].contiguous().view(b, h * w, c)
        x = shortcut + y
        return x + self.output.dense(nn.functional.gelu(self.intermediate.dense(self.layernorm_after(x))))


class SwinPatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x, dims):
        h, w = dims
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class SwinStage(nn.Module):
    def __init__(self, c, dim, resolution, depth, heads, last):
        super().__init__()
        self.blocks = nn.ModuleList([SwinLayer(c, dim, resolution, heads, 0 if i % 2 == 0 else c["window_size"] // 2)
                                     for i in range(depth)])
        self.downsample = None if last else SwinPatchMerging(dim)

    def forward(self, x, dims):
        for blk in self.blocks:
            x = blk(x, dims)
        if self.downsample is None:
            return x, dims
        return self.downsample(x, dims), ((dims[0] + 1) // 2, (dims[1] + 1) // 2)


class SwinEncoder(nn.Module):
    def __init__(self, c, grid):
        super().__init__()
        n = len(c["depths"])
        self.layers = nn.ModuleList([SwinStage(c, c["embed_dim"] * 2 ** i, (grid // 2 ** i, grid // 2 ** i),
                                               c["depths"][i], c["num_heads"][i], i == n - 1) for i in range(n)])


class SwinPatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.projection = nn.Conv2d(c["num_channels"], c["embed_dim"], c["patch_size"], c["patch_size"])


class SwinEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.patch_embeddings = SwinPatchEmbeddings(c)
        self.norm = nn.LayerNorm(c["embed_dim"])


class SwinModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = SwinEmbeddings(c)
        self.encoder = SwinEncoder(c, c["image_size"] // c["patch_size"])
        self.layernorm = nn.LayerNorm(c["embed_dim"] * 2 ** (len(c["depths"]) - 1), eps=c["layer_norm_eps"])

    def forward(self, x):
        x = self.embeddings.patch_embeddings.projection(x)
        dims = (x.shape[2], x.shape[3])
        x = self.embeddings.norm(x.flatten(2).transpose(1, 2))
        for stage in self.encoder.layers:
            x, dims = stage(x, dims)
        return self.layernorm(x).transpose(1, 2).mean(-1)  # the pooler: AdaptiveAvgPool1d(1) over the tokens


class SwinForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.swin = SwinModel(c)
        self.classifier = nn.Linear(self.swin.layernorm.normalized_shape[0], len(c["id2label"]))

    def forward(self, x):
        return self.classifier(self.swin(x))


def config(head):
    return {"model_type": "swin", "architectures": ["SwinForImageClassification" if head else "SwinModel"],
            "image_size": 32, "patch_size": 4, "num_channels": 3, "embed_dim": 24, "depths": [2, 2, 2],
            "num_heads": [2, 4, 8], "window_size": 2, "mlp_ratio": 4.0, "qkv_bias": True, "hidden_act": "gelu",
            "layer_norm_eps": 1e-5, "id2label": {str(i): f"LABEL_{i}" for i in range(10)}, "torch_dtype": "float32"}


MODELS = {"swinhf": True, "swinmodelhf": False}


def build(c):
    return SwinForImageClassification(c) if c["architectures"][0] == "SwinForImageClassification" else SwinModel(c)


def bias_tables(name, p):
    """The relative position bias tables: normal with std 1, as large as the scores they are added to."""
    if name.endswith("relative_position_bias_table"):
        p.normal_()
        return True
    return False


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, MODELS, config, build, bias_tables)


def swap_query_heads(backbone):
    """Two query heads of the first block swapped: a wrong permutation."""
    q = backbone.encoder.layers[0].blocks[0].attention.self.query.weight
    hd = q.shape[0] // backbone.encoder.layers[0].blocks[0].attention.self.heads
    q[:hd], q[hd:2 * hd] = q[hd:2 * hd].clone(), q[:hd].clone()


def check_models(original, permuted, restored, build, head):
    """function_check's verdict on three folders of a Swin built by build; head: the classifier's attribute holding the
    backbone ("swin", "swinv2"); a headless model's pooled features are compared by their inner products (their channel
    order is free)."""
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c)
    headless = not hasattr(m, head)
    ya, yb, yw = function_check.outputs(m, sa, sb, lambda model: swap_query_heads(model if headless
                                                                                else getattr(model, head)))
    if headless:
        ya, yb, yw = (y @ y.t() for y in (ya, yb, yw))
    function_check.verdict(sa, sb, sc, ya, yb, yw)


def check(original, permuted, restored):
    check_models(original, permuted, restored, build, "swin")


if __name__ == "__main__":
    function_check.main(save, check)
