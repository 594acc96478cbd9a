#!/usr/bin/python3
"""Hugging Face's T5 encoder (transformers' modeling_t5.py: T5EncoderModel, model type "t5"; the modules are written
out below as that file defines them, transformers not being installable here), for the Java tests (run with
/usr/bin/python3).

    hf_t5.py save <out_dir> <seed> [NAME...]
        <out_dir>/t5enc/ (T5 v1.1's gated-gelu feed-forward) and t5encrelu/ (T5's ReLU): Hugging Face folders
        (config.json and pytorch_model.bin, which holds the tied embedding twice, as shared.weight and
        encoder.embed_tokens.weight, as torch.save writes it) of a narrow encoder (width 64, 4 heads of 16, 2 blocks,
        100 tokens, 32 relative-position buckets up to 128 apart), random weights, norm weights near 1.
    hf_t5.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights: the last hidden state on 4 sequences of 20 token ids
        (distances up to 19: both the exact and the logarithmic buckets), compared by its inner products (an encoder's
        channel order is free); the wrong permutation two query heads' rows swapped in the first block.

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


class T5LayerNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def relative_position_bucket(relative_position, num_buckets, max_distance):
    """transformers' T5Attention._relative_position_bucket, bidirectional."""
    num_buckets //= 2
    buckets = (relative_position > 0).to(torch.long) * num_buckets
    relative_position = torch.abs(relative_position)
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    large = max_exact + (torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, large)


class T5Attention(nn.Module):
    def __init__(self, c, has_bias):
        super().__init__()
        d, self.heads, self.d_kv = c["d_model"], c["num_heads"], c["d_kv"]
        inner = self.heads * self.d_kv
        self.q, self.k, self.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, d, bias=False)
        self.buckets, self.max_distance = c["relative_attention_num_buckets"], c["relative_attention_max_distance"]
        if has_bias:
            self.relative_attention_bias = nn.Embedding(self.buckets, self.heads)

    def bias(self, n):
        pos = torch.arange(n)
        b = relative_position_bucket(pos[None, :] - pos[:, None], self.buckets, self.max_distance)
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x, position_bias):
        b, n, _ = x.shape
        q, k, v = (t(x).view(b, n, self.heads, self.d_kv).transpose(1, 2) for t in (self.q, self.k, self.v))
        if position_bias is None:
            position_bias = self.bias(n)
        a = torch.softmax(q @ k.transpose(-1, -2) + position_bias, dim=-1)  # T5 does not scale the scores
        return self.o((a @ v).transpose(1, 2).reshape(b, n, -1)), position_bias


class T5LayerSelfAttention(nn.Module):
    def __init__(self, c, has_bias):
        super().__init__()
        self.SelfAttention = T5Attention(c, has_bias)
        self.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])

    def forward(self, x, position_bias):
        y, position_bias = self.SelfAttention(self.layer_norm(x), position_bias)
        return x + y, position_bias


class T5DenseReluDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)

    def forward(self, x):
        return self.wo(torch.relu(self.wi(x)))


class T5DenseGatedActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi_0 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wi_1 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)

    def forward(self, x):  # gelu_new: the tanh approximation
        return self.wo(nn.functional.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x))


class T5LayerFF(nn.Module):
    def __init__(self, c):
        super().__init__()
        gated = c["feed_forward_proj"].startswith("gated-")
        self.DenseReluDense = T5DenseGatedActDense(c) if gated else T5DenseReluDense(c)
        self.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])

    def forward(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Block(nn.Module):
    def __init__(self, c, has_bias):
        super().__init__()
        self.layer = nn.ModuleList([T5LayerSelfAttention(c, has_bias), T5LayerFF(c)])

    def forward(self, x, position_bias):
        x, position_bias = self.layer[0](x, position_bias)
        return self.layer[1](x), position_bias


class T5Stack(nn.Module):
    def __init__(self, c, embed_tokens):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.block = nn.ModuleList([T5Block(c, i == 0) for i in range(c["num_layers"])])
        self.final_layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])

    def forward(self, ids):
        x, position_bias = self.embed_tokens(ids), None
        for blk in self.block:  # block 0's position bias, for every block
            x, position_bias = blk(x, position_bias)
        return self.final_layer_norm(x)


class T5EncoderModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = T5Stack(c, self.shared)  # tied: encoder.embed_tokens is shared

    def forward(self, ids):
        return function_check.gram(self.encoder(ids))  # an encoder's features, by their inner products


def config(ff):
    return {"model_type": "t5", "architectures": ["T5EncoderModel"], "d_model": 64, "d_kv": 16, "num_heads": 4,
            "d_ff": 128, "num_layers": 2, "vocab_size": 100, "relative_attention_num_buckets": 32,
            "relative_attention_max_distance": 128, "feed_forward_proj": ff, "layer_norm_epsilon": 1e-6,
            "is_encoder_decoder": False, "torch_dtype": "float32"}


MODELS = {"t5enc": "gated-gelu", "t5encrelu": "relu"}


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, MODELS, config, T5EncoderModel,
                               lambda n, p: n.endswith("relative_attention_bias.weight") and p.copy_(torch.randn(p.shape))
                               is not None)


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = T5EncoderModel(c).eval()
    ids = torch.randint(0, c["vocab_size"], (4, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        m.load_state_dict(sa)
        ya = m(ids)
        m.load_state_dict(sb)
        yb = m(ids)
        q, hd = m.encoder.block[0].layer[0].SelfAttention.q.weight, c["d_kv"]
        q0 = q[:hd].clone()
        q[:hd] = q[hd:2 * hd]
        q[hd:2 * hd] = q0  # two query heads of the first block swapped: a wrong permutation
        yw = m(ids)
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
