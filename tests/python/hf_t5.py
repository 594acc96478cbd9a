#!/usr/bin/python3
"""Hugging Face's T5 (transformers' modeling_t5.py: T5EncoderModel and T5ForConditionalGeneration, model type "t5";
UMT5's per-block position bias, modeling_umt5.py; the modules are written out below as those files define them,
transformers not being installable here), for the Java tests (run with /usr/bin/python3).

    hf_t5.py save <out_dir> <seed> [NAME...]
        Hugging Face folders (config.json and pytorch_model.bin), random weights, norm weights near 1, of narrow models
        (width 64, 4 heads of 16, 100 tokens, 32 relative-position buckets up to 128 apart):
        <out_dir>/t5enc/ (T5 v1.1's gated-gelu feed-forward) and t5encrelu/ (T5's ReLU): encoders of 2 blocks, the tied
        embedding saved twice, as shared.weight and encoder.embed_tokens.weight, as torch.save writes it;
        t5/: a whole T5 as t5-small is (ReLU, the head tied to the embedding and the decoder's output rescaled), 2
        encoder and 3 decoder blocks, every tie saved (shared, encoder.embed_tokens, decoder.embed_tokens, lm_head);
        flant5/: a whole T5 v1.1 as flan-t5 is (gated-gelu, its own lm_head), only shared.weight saved of the ties (as
        save_pretrained writes it); umt5/: a whole UMT5 (each block's own position bias, gated-gelu, its own lm_head).
    hf_t5.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights: an encoder's last hidden state on 4 sequences of 20
        token ids (distances up to 19: both the exact and the logarithmic buckets), compared by its inner products (an
        encoder's channel order is free), the wrong permutation two query heads' rows swapped in its first block; a whole
        T5's logits with 12 decoder token ids, the wrong permutation two query heads' rows swapped in the decoder's first
        cross-attention.

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


def relative_position_bucket(relative_position, num_buckets, max_distance, bidirectional=True):
    """transformers' T5Attention._relative_position_bucket."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    large = max_exact + (torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, large)


class T5Attention(nn.Module):
    def __init__(self, c, has_bias, is_decoder=False):
        super().__init__()
        d, self.heads, self.d_kv = c["d_model"], c["num_heads"], c["d_kv"]
        inner = self.heads * self.d_kv
        self.q, self.k, self.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, d, bias=False)
        self.buckets, self.max_distance = c["relative_attention_num_buckets"], c["relative_attention_max_distance"]
        self.is_decoder = is_decoder
        if has_bias:
            self.relative_attention_bias = nn.Embedding(self.buckets, self.heads)

    def bias(self, n):
        pos = torch.arange(n)
        b = relative_position_bucket(pos[None, :] - pos[:, None], self.buckets, self.max_distance, not self.is_decoder)
        bias = self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)
        if self.is_decoder:  # the causal mask, added to the bias
            bias = bias.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        return bias

    def forward(self, x, position_bias, memory=None):
        b, n, _ = x.shape
        kv = x if memory is None else memory
        q = self.q(x).view(b, n, self.heads, self.d_kv).transpose(1, 2)
        k, v = (t(kv).view(b, kv.shape[1], self.heads, self.d_kv).transpose(1, 2) for t in (self.k, self.v))
        if position_bias is None and hasattr(self, "relative_attention_bias"):
            position_bias = self.bias(n)
        scores = q @ k.transpose(-1, -2)  # T5 does not scale the scores
        if position_bias is not None:  # (the cross-attention has none)
            scores = scores + position_bias
        a = torch.softmax(scores, dim=-1)
        return self.o((a @ v).transpose(1, 2).reshape(b, n, -1)), position_bias


class T5LayerSelfAttention(nn.Module):
    def __init__(self, c, has_bias, is_decoder=False):
        super().__init__()
        self.SelfAttention = T5Attention(c, has_bias, is_decoder)
        self.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])

    def forward(self, x, position_bias):
        y, position_bias = self.SelfAttention(self.layer_norm(x), position_bias)
        return x + y, position_bias


class T5LayerCrossAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.EncDecAttention = T5Attention(c, False)
        self.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])

    def forward(self, x, memory):
        return x + self.EncDecAttention(self.layer_norm(x), None, memory)[0]


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
    def __init__(self, c, has_bias, is_decoder=False):
        super().__init__()
        layers = [T5LayerSelfAttention(c, has_bias, is_decoder)] + ([T5LayerCrossAttention(c)] if is_decoder else [])
        self.layer = nn.ModuleList(layers + [T5LayerFF(c)])

    def forward(self, x, position_bias, memory=None):
        x, position_bias = self.layer[0](x, position_bias)
        if memory is not None:
            x = self.layer[1](x, memory)
        return self.layer[-1](x), position_bias


class T5Stack(nn.Module):
    def __init__(self, c, embed_tokens, is_decoder=False):
        super().__init__()
        self.embed_tokens, self.per_block = embed_tokens, c["model_type"] == "umt5"
        n = c["num_decoder_layers"] if is_decoder else c["num_layers"]
        self.block = nn.ModuleList([T5Block(c, i == 0 or self.per_block, is_decoder) for i in range(n)])
        self.final_layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])

    def forward(self, ids, memory=None):
        x, position_bias = self.embed_tokens(ids), None
        for blk in self.block:  # block 0's position bias, for every block (UMT5: each block's own)
            x, position_bias = blk(x, None if self.per_block else position_bias, memory)
        return self.final_layer_norm(x)


class T5EncoderModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = T5Stack(c, self.shared)  # tied: encoder.embed_tokens is shared

    def forward(self, ids):
        return function_check.gram(self.encoder(ids))  # an encoder's features, by their inner products


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = T5Stack(c, self.shared)
        self.decoder = T5Stack(c, self.shared, True)
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        self.tied = c["tie_word_embeddings"]
        if self.tied:
            self.lm_head.weight = self.shared.weight

    def forward(self, ids, decoder_ids):
        y = self.decoder(decoder_ids, self.encoder(ids))
        if self.tied:  # rescaled before the tied head
            y = y * y.shape[-1] ** -0.5
        return self.lm_head(y)


def config(name):
    ff, whole = MODELS[name]
    c = {"model_type": "umt5" if name == "umt5" else "t5",
         "architectures": ["T5ForConditionalGeneration" if whole else "T5EncoderModel"], "d_model": 64, "d_kv": 16,
         "num_heads": 4, "d_ff": 128, "num_layers": 2, "vocab_size": 100, "relative_attention_num_buckets": 32,
         "relative_attention_max_distance": 128, "feed_forward_proj": ff, "layer_norm_epsilon": 1e-6,
         "is_encoder_decoder": whole, "torch_dtype": "float32"}
    if whole:
        c.update(num_decoder_layers=3, tie_word_embeddings=name == "t5")
    return c


# name: feed-forward, whole (with the decoder)
MODELS = {"t5enc": ("gated-gelu", False), "t5encrelu": ("relu", False), "t5": ("relu", True),
          "flant5": ("gated-gelu", True), "umt5": ("gated-gelu", True)}
# the ties save_pretrained leaves out (saved by torch.save's state dict in t5/)
TIES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


def build(c):
    return T5ForConditionalGeneration(c) if c["is_encoder_decoder"] else T5EncoderModel(c)


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, {name: name for name in MODELS}, config, build,
                               lambda n, p: n.endswith("relative_attention_bias.weight")
                               and p.copy_(torch.randn(p.shape)) is not None,
                               lambda name, m: {k: v for k, v in m.state_dict().items()
                                                if name not in ("flant5", "umt5") or k not in TIES})


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c).eval()
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, c["vocab_size"], (4, 20), generator=g)
    args = (ids, torch.randint(0, c["vocab_size"], (4, 12), generator=g)) if c["is_encoder_decoder"] else (ids,)

    def load(state):  # the ties left out of the file are the embedding
        m.load_state_dict({**{k: state["shared.weight"] for k in TIES if k in m.state_dict()}, **state})

    with torch.no_grad():
        load(sa)
        ya = m(*args)
        load(sb)
        yb = m(*args)
        att = (m.decoder.block[0].layer[1].EncDecAttention if c["is_encoder_decoder"]
               else m.encoder.block[0].layer[0].SelfAttention)
        function_check.swap_heads(att.q.weight, c["d_kv"])
        yw = m(*args)
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
