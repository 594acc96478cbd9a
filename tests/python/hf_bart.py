#!/usr/bin/python3
"""The encoder-decoders of Hugging Face's BART lineage (transformers' modeling_bart.py, modeling_mbart.py,
modeling_marian.py, modeling_pegasus.py, modeling_m2m_100.py; the modules are written out below as those files define them, transformers not
being installable here), for the Java tests (run with /usr/bin/python3).

    hf_bart.py save <out_dir> <seed> [NAME...]
        Hugging Face folders (config.json and pytorch_model.bin), random weights, norm weights near 1, of narrow models
        (width 64, 4 heads of 16 in the encoder, 2 in the decoder, MLP 96, 2 encoder and 3 decoder layers, 100 tokens,
        40 positions):
        bart/: BartForConditionalGeneration (post-norm, layernorm_embedding, learned positions from row 2, gelu), every
        tie saved as torch.save writes the state dict (shared, both embed_tokens, lm_head);
        mbart/: MBartForConditionalGeneration (pre-norm, a layer_norm closing each stack, the embeddings scaled by
        sqrt(d_model)), only shared.weight saved of the ties (as save_pretrained writes it);
        marian/: MarianMTModel (post-norm, sinusoidal positions saved, swish, scaled embeddings) with unshared
        embeddings: each stack its own, lm_head tied to the decoder's and left out;
        pegasus/: PegasusForConditionalGeneration (pre-norm, sinusoidal positions, relu, scaled embeddings);
        bartbase/: BartModel (no prefix, no head: the decoder's last hidden state);
        m2m100/: M2M100ForConditionalGeneration as NLLB is (pre-norm, relu, scaled embeddings, sinusoidal positions
        computed and not saved, counted as RoBERTa's from pad_token_id + 1, no final_logits_bias), only shared saved.
    hf_bart.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights: the logits on 4 sequences of 20 token ids with 12
        decoder token ids (a model without head: the decoder's last hidden state by its inner products); the wrong
        permutation two query heads' rows swapped in the decoder's first cross-attention.

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

ACT = {"gelu": nn.functional.gelu, "swish": nn.functional.silu, "relu": torch.relu}
PRE_NORM = {"bart": False, "mbart": True, "marian": False, "pegasus": True, "whisper": True, "m2m100": True}
OFFSET = {"bart": 2, "mbart": 2}  # BartLearnedPositionalEmbedding's; the sinusoids start at row 0


def sinusoids(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: sines in the first half of the columns, cosines in the second."""
    enc = torch.tensor([[pos / math.pow(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim)
    half = dim // 2
    out[:, :half] = torch.sin(enc[:, 0::2])
    out[:, half:] = torch.cos(enc[:, 1::2])
    return out


class ComputedSinusoids(nn.Module):
    """M2M100SinusoidalPositionalEmbedding: a table computed, not saved (a non-persistent buffer), RoBERTa's positions."""

    def __init__(self, rows, dim, pad):
        super().__init__()
        half = dim // 2
        emb = torch.exp(torch.arange(half, dtype=torch.int64).float() * -(math.log(10000) / (half - 1)))
        emb = torch.arange(rows, dtype=torch.int64).float().unsqueeze(1) * emb.unsqueeze(0)
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1).view(rows, -1)
        if dim % 2 == 1:
            emb = torch.cat([emb, torch.zeros(rows, 1)], dim=1)
        emb[pad, :] = 0
        self.pad = pad
        self.register_buffer("weights", emb, persistent=False)

    def forward(self, ids):
        mask = ids.ne(self.pad).int()
        positions = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.pad
        return self.weights.index_select(0, positions.view(-1)).view(ids.shape[0], ids.shape[1], -1)


class Attention(nn.Module):
    def __init__(self, d, heads, k_bias=True):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.k_proj = nn.Linear(d, d, bias=k_bias)  # (Whisper's has none)
        self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(3))

    def forward(self, x, memory=None, causal=False):
        b, n, _ = x.shape
        kv = x if memory is None else memory
        q = (self.q_proj(x) * self.hd ** -0.5).view(b, n, self.heads, self.hd).transpose(1, 2)
        k, v = (t(kv).view(b, kv.shape[1], self.heads, self.hd).transpose(1, 2) for t in (self.k_proj, self.v_proj))
        s = q @ k.transpose(-1, -2)
        if causal:
            s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        return self.out_proj((torch.softmax(s, -1) @ v).transpose(1, 2).reshape(b, n, -1))


class Layer(nn.Module):
    """The layers of them all, Whisper's too (pre-norm, k without bias)."""

    def __init__(self, c, decoder):
        super().__init__()
        d = c["d_model"]
        heads = c["decoder_attention_heads" if decoder else "encoder_attention_heads"]
        ff = c["decoder_ffn_dim" if decoder else "encoder_ffn_dim"]
        k_bias = c["model_type"] != "whisper"
        self.self_attn, self.self_attn_layer_norm = Attention(d, heads, k_bias), nn.LayerNorm(d)
        if decoder:
            self.encoder_attn, self.encoder_attn_layer_norm = Attention(d, heads, k_bias), nn.LayerNorm(d)
        self.fc1, self.fc2, self.final_layer_norm = nn.Linear(d, ff), nn.Linear(ff, d), nn.LayerNorm(d)
        self.act, self.pre, self.decoder = ACT[c["activation_function"]], PRE_NORM[c["model_type"]], decoder

    def sub(self, x, norm, f):
        return x + f(norm(x)) if self.pre else norm(x + f(x))

    def forward(self, x, memory):
        x = self.sub(x, self.self_attn_layer_norm, lambda y: self.self_attn(y, causal=self.decoder))
        if self.decoder:
            x = self.sub(x, self.encoder_attn_layer_norm, lambda y: self.encoder_attn(y, memory))
        return self.sub(x, self.final_layer_norm, lambda y: self.fc2(self.act(self.fc1(y))))


class Stack(nn.Module):
    def __init__(self, c, embed_tokens, decoder):
        super().__init__()
        t, d = c["model_type"], c["d_model"]
        self.embed_tokens = embed_tokens
        self.offset = OFFSET.get(t, 0)
        if t == "m2m100":
            self.embed_positions = ComputedSinusoids(c["max_position_embeddings"] + c["pad_token_id"] + 1, d,
                                                     c["pad_token_id"])
        else:
            self.embed_positions = nn.Embedding(c["max_position_embeddings"] + self.offset, d)
        self.sinusoidal = t in ("marian", "pegasus")  # (drawn as saved; M2M100's are computed)
        if t in ("bart", "mbart"):
            self.layernorm_embedding = nn.LayerNorm(d)
        self.layers = nn.ModuleList([Layer(c, decoder) for _ in range(c["decoder_layers" if decoder else "encoder_layers"])])
        if PRE_NORM[t]:
            self.layer_norm = nn.LayerNorm(d)
        self.scale = math.sqrt(d) if c["scale_embedding"] else 1.0

    def forward(self, ids, memory=None):
        positions = (self.embed_positions(ids) if isinstance(self.embed_positions, ComputedSinusoids)
                     else self.embed_positions(torch.arange(ids.shape[1]) + self.offset))
        x = self.embed_tokens(ids) * self.scale + positions
        if hasattr(self, "layernorm_embedding"):
            x = self.layernorm_embedding(x)
        for layer in self.layers:
            x = layer(x, memory)
        return self.layer_norm(x) if hasattr(self, "layer_norm") else x


class Model(nn.Module):
    """BartModel and its kin: shared (or each stack's own) embeddings, the encoder, the decoder."""

    def __init__(self, c):
        super().__init__()
        v, d = c["vocab_size"], c["d_model"]
        if c.get("share_encoder_decoder_embeddings", True):
            self.shared = nn.Embedding(v, d)
            enc, dec = self.shared, self.shared
        else:
            enc, dec = nn.Embedding(v, d), nn.Embedding(v, d)
        self.encoder, self.decoder = Stack(c, enc, False), Stack(c, dec, True)

    def forward(self, ids, decoder_ids):
        return self.decoder(decoder_ids, self.encoder(ids))


class ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = Model(c)
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.model.decoder.embed_tokens.weight  # tied
        if c["model_type"] != "m2m100":  # (M2M100 has none)
            self.register_buffer("final_logits_bias", torch.zeros(1, c["vocab_size"]))

    def forward(self, ids, decoder_ids):
        y = self.lm_head(self.model(ids, decoder_ids))
        return y + self.final_logits_bias if hasattr(self, "final_logits_bias") else y


class BaseModel(Model):
    def forward(self, ids, decoder_ids):
        return function_check.gram(super().forward(ids, decoder_ids))  # a last hidden state, by its inner products


# name: model type, activation, scale_embedding, shared embeddings, with head, the ties left out of the file
MODELS = {"bart": ("bart", "gelu", False, True, True, ()),
          "mbart": ("mbart", "gelu", True, True, True, ("model.encoder.embed_tokens.weight",
                                                         "model.decoder.embed_tokens.weight", "lm_head.weight")),
          "marian": ("marian", "swish", True, False, True, ("lm_head.weight",)),
          "pegasus": ("pegasus", "relu", True, True, True, ("model.encoder.embed_tokens.weight",
                                                             "model.decoder.embed_tokens.weight", "lm_head.weight")),
          "bartbase": ("bart", "gelu", False, True, False, ()),
          "m2m100": ("m2m100", "relu", True, True, True, ("model.encoder.embed_tokens.weight",
                                                          "model.decoder.embed_tokens.weight", "lm_head.weight"))}


# the tensors a stream that stays in place leaves in place: the norms, the embedding, the biases of the sublayers' outputs
STREAM_ONLY = ("layer_norm.weight", "layer_norm.bias", "shared.weight", "out_proj.bias", "fc2.bias")


def config(name):
    t, act, scale, shared, head, _ = MODELS[name]
    arch = {"bart": "Bart", "mbart": "MBart", "marian": "Marian", "pegasus": "Pegasus", "m2m100": "M2M100"}[t]
    arch = arch + ("MTModel" if t == "marian" else "ForConditionalGeneration") if head else arch + "Model"
    return {"model_type": t, "architectures": [arch], "d_model": 64, "encoder_attention_heads": 4,
            "decoder_attention_heads": 2, "encoder_ffn_dim": 96, "decoder_ffn_dim": 96, "encoder_layers": 2,
            "decoder_layers": 3, "vocab_size": 100, "max_position_embeddings": 40, "activation_function": act,
            "scale_embedding": scale, "share_encoder_decoder_embeddings": shared, "is_encoder_decoder": True,
            "pad_token_id": 1, "torch_dtype": "float32"}


def headed(c):
    return not c["architectures"][0].endswith("Model") or c["architectures"][0] == "MarianMTModel"


def build(c):
    m = ForConditionalGeneration(c) if headed(c) else BaseModel(c)
    m.config = c
    return m


def fixed_tables(name, m):
    """The state dict to save: the sinusoids drawn as Marian's and PEGASUS's are, final_logits_bias drawn, the ties
    save_pretrained leaves out left out."""
    base = m.model if headed(m.config) else m
    for s in base.encoder, base.decoder:
        if s.sinusoidal:
            s.embed_positions.weight.copy_(sinusoids(*s.embed_positions.weight.shape))
    if hasattr(m, "final_logits_bias"):
        m.final_logits_bias.copy_(0.2 * torch.randn(m.final_logits_bias.shape))
    return {k: v for k, v in m.state_dict().items() if k not in MODELS[name][5]}


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, {name: name for name in MODELS}, config, build, lambda n, p: False,
                               fixed_tables)


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c).eval()
    g = torch.Generator().manual_seed(2)
    args = (torch.randint(0, c["vocab_size"], (4, 20), generator=g), torch.randint(0, c["vocab_size"], (4, 12), generator=g))
    base = m.model if headed(c) else m
    ties = {"model.encoder.embed_tokens.weight": "model.shared.weight",
            "model.decoder.embed_tokens.weight": "model.shared.weight",
            "lm_head.weight": "model.shared.weight" if c["share_encoder_decoder_embeddings"]
            else "model.decoder.embed_tokens.weight"}

    def load(state):  # the ties left out of the file
        m.load_state_dict({**{k: state[v] for k, v in ties.items() if k in m.state_dict() and k not in state}, **state})

    with torch.no_grad():
        load(sa)
        ya = m(*args)
        load(sb)
        yb = m(*args)
        function_check.swap_heads(base.decoder.layers[0].encoder_attn.q_proj.weight,
                                  c["d_model"] // c["decoder_attention_heads"])
        yw = m(*args)
    weights = function_check.weight_tensors(sa)
    if c["model_type"] == "m2m100":  # the computed sinusoids fix the stream: what only it indexes cannot move
        weights = [k for k in weights if not k.endswith(STREAM_ONLY)]
    function_check.verdict(sa, sb, sc, ya, yb, yw, weights)


if __name__ == "__main__":
    function_check.main(save, check)
