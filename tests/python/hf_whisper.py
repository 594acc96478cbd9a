#!/usr/bin/python3
"""Hugging Face's Whisper (transformers' modeling_whisper.py: WhisperForConditionalGeneration and WhisperModel; the
modules are written out below as that file defines them, transformers not being installable here), for the Java tests
(run with /usr/bin/python3).

    hf_whisper.py save <out_dir> <seed> [NAME...]
        Hugging Face folders (config.json and pytorch_model.bin), random weights, norm weights near 1, of narrow models
        (width 64, 4 heads of 16 in the encoder, 2 in the decoder, MLP 96, 2 encoder and 3 decoder layers, 20 mel bins:
        not a multiple of oneDNN's channel block, 16 encoder positions from 32 frames, 24 decoder positions, 100
        tokens): whisper/ (WhisperForConditionalGeneration, proj_out tied to the decoder's embedding and left out, as
        save_pretrained writes it) and whisperbase/ (WhisperModel: no prefix, no head).
    hf_whisper.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights: the logits on 4 random log-mel inputs with 12
        decoder token ids (a model without head: the decoder's last hidden state by its inner products); the wrong
        permutation two query heads' rows swapped in the decoder's first cross-attention.

Exit code 3 without torch.
"""
import math
import sys

try:
    import function_check
    import torch
    from hf_bart import Layer  # pre-norm for model_type whisper, k projections without bias
    from torch import nn
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


def sinusoids(length, channels, max_timescale=10000):
    """modeling_whisper.py's sinusoids: the encoder's positions, sines then cosines."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2))
    t = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([t.sin(), t.cos()], dim=1)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.conv1 = nn.Conv1d(c["num_mel_bins"], d, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d, d, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(c["max_source_positions"], d)
        self.layers = nn.ModuleList([Layer(c, False) for _ in range(c["encoder_layers"])])
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, features):
        x = nn.functional.gelu(self.conv2(nn.functional.gelu(self.conv1(features)))).permute(0, 2, 1)
        x = x + self.embed_positions.weight
        for layer in self.layers:
            x = layer(x, None)
        return self.layer_norm(x)


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.embed_tokens = nn.Embedding(c["vocab_size"], d)
        self.embed_positions = nn.Embedding(c["max_target_positions"], d)
        self.layers = nn.ModuleList([Layer(c, True) for _ in range(c["decoder_layers"])])
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, ids, memory):
        x = self.embed_tokens(ids) + self.embed_positions.weight[:ids.shape[1]]
        for layer in self.layers:
            x = layer(x, memory)
        return self.layer_norm(x)


class WhisperModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.encoder, self.decoder = Encoder(c), Decoder(c)

    def forward(self, features, ids):
        return function_check.gram(self.decoder(ids, self.encoder(features)))  # by its inner products


class WhisperForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = WhisperModel(c)
        self.proj_out = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        self.proj_out.weight = self.model.decoder.embed_tokens.weight  # tied

    def forward(self, features, ids):
        return self.proj_out(self.model.decoder(ids, self.model.encoder(features)))


MODELS = {"whisper": "WhisperForConditionalGeneration", "whisperbase": "WhisperModel"}


def config(name):
    return {"model_type": "whisper", "architectures": [MODELS[name]], "d_model": 64, "encoder_attention_heads": 4,
            "decoder_attention_heads": 2, "encoder_ffn_dim": 96, "decoder_ffn_dim": 96, "encoder_layers": 2,
            "decoder_layers": 3, "num_mel_bins": 20, "max_source_positions": 16, "max_target_positions": 24,
            "vocab_size": 100, "activation_function": "gelu", "scale_embedding": False, "is_encoder_decoder": True,
            "torch_dtype": "float32"}


def build(c):
    return WhisperForConditionalGeneration(c) if c["architectures"][0] == MODELS["whisper"] else WhisperModel(c)


def sinusoids_saved(name, m):
    """The state dict to save: the encoder's sinusoids drawn as Whisper's are, proj_out (tied) left out."""
    base = m.model if hasattr(m, "model") else m
    base.encoder.embed_positions.weight.copy_(sinusoids(*base.encoder.embed_positions.weight.shape))
    return {k: v for k, v in m.state_dict().items() if k != "proj_out.weight"}


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, {name: name for name in MODELS}, config, build, lambda n, p: False,
                               sinusoids_saved)


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c).eval()
    g = torch.Generator().manual_seed(2)
    args = (torch.randn(4, c["num_mel_bins"], 2 * c["max_source_positions"], generator=g),
            torch.randint(0, c["vocab_size"], (4, 12), generator=g))
    base = m.model if hasattr(m, "model") else m

    def load(state):  # the head left out of the file is the decoder's embedding
        tie = {"proj_out.weight": state["model.decoder.embed_tokens.weight"]} if hasattr(m, "model") else {}
        m.load_state_dict({**tie, **state})

    with torch.no_grad():
        load(sa)
        ya = m(*args)
        load(sb)
        yb = m(*args)
        function_check.swap_heads(base.decoder.layers[0].encoder_attn.q_proj.weight,
                                  c["d_model"] // c["decoder_attention_heads"])
        yw = m(*args)
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
