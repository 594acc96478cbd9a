#!/usr/bin/python3
"""Hugging Face's DINOv2 backbone (transformers' modeling_dinov2.py: Dinov2Model, model type "dinov2"; the modules are
written out below as that file defines them, transformers not being installable here), for the Java tests (run with
/usr/bin/python3).

    hf_dinov2.py save <out_dir> <seed> [NAME...]
        <out_dir>/dinov2/ (GELU MLP), dinov2swiglu/ (giant's SwiGLU MLP) and dinov2cls/
        (Dinov2ForImageClassification, 10 labels: the class token and the patches' mean side by side): Hugging Face
        folders (config.json and
        pytorch_model.bin) of a narrow DINOv2 (width 128, 2 heads of 64, 2 layers, patch 8 on 32 x 32 images), random
        weights, norm weights near 1, layer scales of about 1.
    hf_dinov2.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights: the outputs are the pooled features and the last
        hidden state, compared by their inner products (a backbone's channel order is free); the wrong permutation two
        heads' query rows swapped in the first layer.

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


class Dinov2PatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.projection = nn.Conv2d(c["num_channels"], c["hidden_size"], kernel_size=c["patch_size"],
                                    stride=c["patch_size"])

    def forward(self, x):
        return self.projection(x).flatten(2).transpose(1, 2)


class Dinov2Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.cls_token = nn.Parameter(torch.randn(1, 1, d))
        self.mask_token = nn.Parameter(torch.zeros(1, d))
        self.patch_embeddings = Dinov2PatchEmbeddings(c)
        patches = (c["image_size"] // c["patch_size"]) ** 2
        self.position_embeddings = nn.Parameter(torch.randn(1, patches + 1, d))

    def forward(self, x):
        e = self.patch_embeddings(x)
        e = torch.cat((self.cls_token.expand(e.shape[0], -1, -1), e), dim=1)
        return e + self.position_embeddings  # the image size the embeddings hold: no interpolation


class Dinov2SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.heads = c["hidden_size"], c["num_attention_heads"]
        self.query, self.key, self.value = (nn.Linear(d, d, bias=c["qkv_bias"]) for _ in range(3))

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = (t(x).view(b, n, self.heads, hd).transpose(1, 2) for t in (self.query, self.key, self.value))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        return (a @ v).transpose(1, 2).reshape(b, n, d)


class Dinov2SelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return self.dense(x)


class Dinov2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention, self.output = Dinov2SelfAttention(c), Dinov2SelfOutput(c)

    def forward(self, x):
        return self.output(self.attention(x))


class Dinov2LayerScale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lambda1 = nn.Parameter(c["layerscale_value"] * torch.ones(c["hidden_size"]))

    def forward(self, x):
        return x * self.lambda1


class Dinov2MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        hidden = int(c["hidden_size"] * c["mlp_ratio"])
        self.fc1, self.activation, self.fc2 = nn.Linear(c["hidden_size"], hidden), nn.GELU(), nn.Linear(hidden,
                                                                                                       c["hidden_size"])

    def forward(self, x):
        return self.fc2(self.activation(self.fc1(x)))


class Dinov2SwiGLUFFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        hidden = int(c["hidden_size"] * c["mlp_ratio"])
        hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
        self.weights_in = nn.Linear(c["hidden_size"], 2 * hidden)
        self.weights_out = nn.Linear(hidden, c["hidden_size"])

    def forward(self, x):
        x1, x2 = self.weights_in(x).chunk(2, dim=-1)
        return self.weights_out(nn.functional.silu(x1) * x2)


class Dinov2Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.norm1, self.attention, self.layer_scale1 = nn.LayerNorm(d, eps=eps), Dinov2Attention(c), Dinov2LayerScale(c)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = Dinov2SwiGLUFFN(c) if c["use_swiglu_ffn"] else Dinov2MLP(c)
        self.layer_scale2 = Dinov2LayerScale(c)

    def forward(self, x):
        x = self.layer_scale1(self.attention(self.norm1(x))) + x
        return self.layer_scale2(self.mlp(self.norm2(x))) + x


class Dinov2Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Dinov2Layer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x):
        for l in self.layer:
            x = l(x)
        return x


class Dinov2Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings, self.encoder = Dinov2Embeddings(c), Dinov2Encoder(c)
        self.layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x):
        s = self.layernorm(self.encoder(self.embeddings(x)))
        return s, s[:, 0]


class Dinov2ForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dinov2 = Dinov2Model(c)
        self.classifier = nn.Linear(2 * c["hidden_size"], c["num_labels"])

    def forward(self, x):
        s, _ = self.dinov2(x)
        return self.classifier(torch.cat([s[:, 0], s[:, 1:].mean(dim=1)], dim=1))


def config(swiglu, labels=0):
    head = {"architectures": ["Dinov2ForImageClassification"], "num_labels": labels} if labels else {}
    return {"model_type": "dinov2", "architectures": ["Dinov2Model"], **head, "hidden_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 2, "mlp_ratio": 4, "hidden_act": "gelu", "layer_norm_eps": 1e-6, "image_size": 32,
            "patch_size": 8, "num_channels": 3, "qkv_bias": True, "layerscale_value": 1.0, "use_swiglu_ffn": swiglu,
            "torch_dtype": "float32"}


MODELS = {"dinov2": (False, 0), "dinov2swiglu": (True, 0), "dinov2cls": (False, 10)}


def build(c):
    return Dinov2ForImageClassification(c) if c.get("num_labels") else Dinov2Model(c)


def save(out, seed, only=()):
    torch.manual_seed(seed)
    for name, (swiglu, labels) in MODELS.items():
        if only and name not in only:
            continue
        c = config(swiglu, labels)
        m = build(c)
        with torch.no_grad():
            for n, p in m.named_parameters():
                if n.endswith("lambda1"):
                    p.uniform_(0.5, 1.5)
                elif n.endswith("mask_token"):
                    p.copy_(torch.randn(p.shape))
                elif p.dim() == 1 and "norm" in n and n.endswith("weight"):
                    p.uniform_(0.5, 1.5)
                elif p.dim() >= 2 and "token" not in n and "position" not in n:
                    p.copy_(torch.randn(p.shape) / math.sqrt(p[0].numel()))
                elif p.dim() == 1:
                    p.copy_(0.2 * torch.randn(p.shape))
        function_check.save_folder(out, name, c, m.state_dict())


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c).eval()
    backbone = m.dinov2 if isinstance(m, Dinov2ForImageClassification) else m
    # logits as they are; a backbone's pooled features and last hidden state by their inner products
    out = (lambda y: y) if backbone is not m else (lambda y: function_check.gram(y[1], y[0]))
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        m.load_state_dict(sa)
        ya = out(m(x))
        m.load_state_dict(sb)
        yb = out(m(x))
        q = backbone.encoder.layer[0].attention.attention.query.weight
        hd = q.shape[0] // backbone.encoder.layer[0].attention.attention.heads
        function_check.swap_heads(q, hd)  # heads 0 and 1 of the queries only: a wrong permutation
        yw = out(m(x))
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
