#!/usr/bin/python3
"""Hugging Face's CLIP and SigLIP (transformers' modeling_clip.py: CLIPModel, model type "clip"; CLIPTextModel,
CLIPVisionModel and CLIPVisionModelWithProjection; modeling_siglip.py: SiglipModel, "siglip", and SiglipVisionModel;
the modules are written out below as those files define them, transformers not being installable here), for the Java
tests (run with /usr/bin/python3).

    hf_clip.py save <out_dir> <seed> [NAME...]
        <out_dir>/clip/ (CLIPModel: a text tower of width 64, 4 heads of 16, 2 layers, 100 tokens, 16 positions, and a
        vision tower of width 96, 3 heads of 32, 2 layers, patch 8 on 32 x 32 images; projections to 48, quick_gelu),
        cliptext/ (CLIPTextModel, gelu, its position_ids saved as older versions did), clipvision/
        (CLIPVisionModelWithProjection, its position_ids saved), clipvisionbase/ (CLIPVisionModel), siglip/
        (SiglipModel: text and vision towers of width 64, every token seeing every token, the text's head on its last
        token, the vision tower's attention pooling, logit scale and bias) and siglipvision/ (SiglipVisionModel):
        Hugging Face folders (config.json and pytorch_model.bin); and openclip.pt, openclipls.pt: OpenAI's and
        open_clip's CLIP in their own names (model.py's modules: nn.MultiheadAttention, x W projections; heads of 64;
        openclipls.pt with open_clip's LayerScale), the weights alone as open_clip saves them. Random weights, norm
        weights near 1.
    hf_clip.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights. The outputs, every feature compared by its inner
        products (an encoder's channel order is free): a dual encoder's image and text embeddings (CLIP's text at its
        end-of-text token, the largest id) and its logits; a tower's last hidden state and pooled output, or its
        projection's output. The wrong permutation: two query heads' rows
        swapped in the first layer of the vision tower (of the text tower for the text model; for open_clip's, two
        channels of the vision tower's ln_pre weight).

Exit code 3 without torch.
"""
import math
import os
import sys
from collections import OrderedDict

try:
    import function_check
    from function_check import gram
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)

ACT = {"quick_gelu": lambda x: x * torch.sigmoid(1.702 * x), "gelu": nn.functional.gelu,
       "gelu_pytorch_tanh": lambda x: nn.functional.gelu(x, approximate="tanh")}



class CLIPAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.heads = c["hidden_size"], c["num_attention_heads"]
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, mask):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = (t(x).view(b, n, self.heads, hd).transpose(1, 2) for t in (self.q_proj, self.k_proj, self.v_proj))
        scores = (q * hd ** -0.5) @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        return self.out_proj((torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = ACT[c["hidden_act"]]
        self.fc1, self.fc2 = nn.Linear(c["hidden_size"], c["intermediate_size"]), nn.Linear(c["intermediate_size"],
                                                                                          c["hidden_size"])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.self_attn, self.layer_norm1 = CLIPAttention(c), nn.LayerNorm(d, eps=eps)
        self.mlp, self.layer_norm2 = CLIPMLP(c), nn.LayerNorm(d, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, mask=None):
        for l in self.layers:
            x = l(x, mask)
        return x


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, c, saved_ids):
        super().__init__()
        d, p = c["hidden_size"], c["max_position_embeddings"]
        self.token_embedding, self.position_embedding = nn.Embedding(c["vocab_size"], d), nn.Embedding(p, d)
        self.register_buffer("position_ids", torch.arange(p).expand((1, -1)), persistent=saved_ids)

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding(self.position_ids[:, :ids.shape[1]])


class CLIPTextTransformer(nn.Module):
    def __init__(self, c, saved_ids=False):
        super().__init__()
        self.embeddings, self.encoder = CLIPTextEmbeddings(c, saved_ids), CLIPEncoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids):
        n = ids.shape[1]
        causal = torch.full((n, n), float("-inf")).triu(1)
        s = self.final_layer_norm(self.encoder(self.embeddings(ids), causal))
        return s, s[torch.arange(s.shape[0]), ids.argmax(dim=-1)]  # the end-of-text token's (the largest id)


class CLIPVisionEmbeddings(nn.Module):
    def __init__(self, c, saved_ids):
        super().__init__()
        d = c["hidden_size"]
        self.class_embedding = nn.Parameter(torch.randn(d))
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, c["patch_size"], c["patch_size"], bias=False)
        p = (c["image_size"] // c["patch_size"]) ** 2 + 1
        self.position_embedding = nn.Embedding(p, d)
        self.register_buffer("position_ids", torch.arange(p).expand((1, -1)), persistent=saved_ids)

    def forward(self, x):
        e = self.patch_embedding(x).flatten(2).transpose(1, 2)
        e = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), e], dim=1)
        return e + self.position_embedding(self.position_ids)


class CLIPVisionTransformer(nn.Module):
    def __init__(self, c, saved_ids=False):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.embeddings, self.pre_layrnorm = CLIPVisionEmbeddings(c, saved_ids), nn.LayerNorm(d, eps=eps)
        self.encoder, self.post_layernorm = CLIPEncoder(c), nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        s = self.encoder(self.pre_layrnorm(self.embeddings(x)))
        return s, self.post_layernorm(s[:, 0])


class CLIPModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        t, v = c["text_config"], c["vision_config"]
        self.text_model, self.vision_model = CLIPTextTransformer(t), CLIPVisionTransformer(v)
        self.visual_projection = nn.Linear(v["hidden_size"], c["projection_dim"], bias=False)
        self.text_projection = nn.Linear(t["hidden_size"], c["projection_dim"], bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(c["logit_scale_init_value"]))

    def forward(self, x, ids):
        image = self.visual_projection(self.vision_model(x)[1])
        text = self.text_projection(self.text_model(ids)[1])
        i, t = image / image.norm(dim=-1, keepdim=True), text / text.norm(dim=-1, keepdim=True)
        return torch.cat([gram(image, text), (self.logit_scale.exp() * i @ t.t()).reshape(-1)])


class CLIPTextModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.text_model = CLIPTextTransformer(c, saved_ids=True)

    def forward(self, x, ids):
        return gram(*self.text_model(ids))


class VisionModel(nn.Module):
    """CLIPVisionModel and SiglipVisionModel: a vision tower (transformer) alone, its features and pooled features."""

    def __init__(self, c, transformer):
        super().__init__()
        self.vision_model = transformer(c)

    def forward(self, x, ids):
        return gram(*self.vision_model(x))


class CLIPVisionModelWithProjection(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vision_model = CLIPVisionTransformer(c, saved_ids=True)
        self.visual_projection = nn.Linear(c["hidden_size"], c["projection_dim"], bias=False)

    def forward(self, x, ids):
        return gram(self.visual_projection(self.vision_model(x)[1]))


class SiglipTextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings, self.encoder = CLIPTextEmbeddings(c, False), CLIPEncoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.head = nn.Linear(c["hidden_size"], c.get("projection_size", c["hidden_size"]))

    def forward(self, ids):  # every token sees every token; the last token's features, through the head
        s = self.final_layer_norm(self.encoder(self.embeddings(ids)))
        return s, self.head(s[:, -1])


class SiglipVisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, c["patch_size"], c["patch_size"])
        p = (c["image_size"] // c["patch_size"]) ** 2
        self.position_embedding = nn.Embedding(p, d)
        self.register_buffer("position_ids", torch.arange(p).expand((1, -1)), persistent=False)

    def forward(self, x):
        return self.patch_embedding(x).flatten(2).transpose(1, 2) + self.position_embedding(self.position_ids)


class SiglipMultiheadAttentionPoolingHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.probe = nn.Parameter(torch.randn(1, 1, d))
        self.attention = nn.MultiheadAttention(d, c["num_attention_heads"], batch_first=True)
        self.layernorm, self.mlp = nn.LayerNorm(d, eps=c["layer_norm_eps"]), CLIPMLP(c)

    def forward(self, x):
        h = self.attention(self.probe.repeat(x.shape[0], 1, 1), x, x)[0]
        return (h + self.mlp(self.layernorm(h)))[:, 0]


class SiglipVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings, self.encoder = SiglipVisionEmbeddings(c), CLIPEncoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.head = SiglipMultiheadAttentionPoolingHead(c)

    def forward(self, x):
        s = self.post_layernorm(self.encoder(self.embeddings(x)))
        return s, self.head(s)


class SiglipModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.text_model = SiglipTextTransformer(c["text_config"])
        self.vision_model = SiglipVisionTransformer(c["vision_config"])
        self.logit_scale, self.logit_bias = nn.Parameter(torch.randn(1)), nn.Parameter(torch.randn(1))

    def forward(self, x, ids):
        image, text = self.vision_model(x)[1], self.text_model(ids)[1]
        i, t = image / image.norm(dim=-1, keepdim=True), text / text.norm(dim=-1, keepdim=True)
        logits = t @ i.t() * self.logit_scale.exp() + self.logit_bias
        return torch.cat([gram(image, text), logits.reshape(-1)])


class ResidualAttentionBlock(nn.Module):
    """OpenAI's and open_clip's block (open_clip's LayerScale with layer_scale)."""

    def __init__(self, d, heads, layer_scale):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(d), nn.MultiheadAttention(d, heads)
        self.ls_1 = LayerScale(d) if layer_scale else nn.Identity()
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", nn.GELU()),
                                              ("c_proj", nn.Linear(4 * d, d))]))
        self.ls_2 = LayerScale(d) if layer_scale else nn.Identity()

    def forward(self, x, mask):  # x: sequence first, as nn.MultiheadAttention takes it
        y = self.ln_1(x)
        x = x + self.ls_1(self.attn(y, y, y, need_weights=False, attn_mask=mask)[0])
        return x + self.ls_2(self.mlp(self.ln_2(x)))


class LayerScale(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * self.gamma


class Transformer(nn.Module):
    def __init__(self, d, layers, heads, layer_scale):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(d, heads, layer_scale) for _ in range(layers)])

    def forward(self, x, mask=None):
        x = x.transpose(0, 1)
        for r in self.resblocks:
            x = r(x, mask)
        return x.transpose(0, 1)


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["vision_width"], c["patch_size"]
        self.conv1 = nn.Conv2d(3, d, p, p, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(d))
        self.positional_embedding = nn.Parameter(torch.randn((c["image_size"] // p) ** 2 + 1, d))
        self.ln_pre = nn.LayerNorm(d)
        self.transformer = Transformer(d, c["layers"], d // 64, c["layer_scale"])
        self.ln_post = nn.LayerNorm(d)
        self.proj = nn.Parameter(torch.randn(d, c["embed_dim"]))

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class OpenClip(nn.Module):
    """OpenAI's model.py CLIP (open_clip's CLIP: the same names)."""

    def __init__(self, c):
        super().__init__()
        d = c["text_width"]
        self.visual = VisionTransformer(c)
        self.transformer = Transformer(d, c["layers"], d // 64, c["layer_scale"])
        self.token_embedding = nn.Embedding(c["vocab_size"], d)
        self.positional_embedding = nn.Parameter(torch.randn(c["context_length"], d))
        self.ln_final = nn.LayerNorm(d)
        self.text_projection = nn.Parameter(torch.randn(d, c["embed_dim"]))
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))

    def forward(self, x, ids):
        image = self.visual(x)
        n = ids.shape[1]
        t = self.token_embedding(ids) + self.positional_embedding[:n]
        t = self.ln_final(self.transformer(t, torch.full((n, n), float("-inf")).triu(1)))
        text = t[torch.arange(t.shape[0]), ids.argmax(dim=-1)] @ self.text_projection
        i, tt = image / image.norm(dim=-1, keepdim=True), text / text.norm(dim=-1, keepdim=True)
        return torch.cat([gram(image, text), (self.logit_scale.exp() * i @ tt.t()).reshape(-1)])


def siglip_text_config():
    return {"model_type": "siglip_text_model", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
            "num_hidden_layers": 2, "max_position_embeddings": 16, "vocab_size": 100, "hidden_act": "gelu_pytorch_tanh",
            "layer_norm_eps": 1e-6}


def siglip_vision_config():
    return {"model_type": "siglip_vision_model", "hidden_size": 64, "intermediate_size": 160, "num_attention_heads": 2,
            "num_hidden_layers": 2, "image_size": 32, "patch_size": 8, "num_channels": 3,
            "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6}


def text_config(act):
    return {"model_type": "clip_text_model", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
            "num_hidden_layers": 2, "max_position_embeddings": 16, "vocab_size": 100, "hidden_act": act,
            "layer_norm_eps": 1e-5}


def vision_config():
    return {"model_type": "clip_vision_model", "hidden_size": 96, "intermediate_size": 192, "num_attention_heads": 3,
            "num_hidden_layers": 2, "image_size": 32, "patch_size": 8, "num_channels": 3, "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5}


CONFIGS = {
    "clip": lambda: {"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 48,
                     "logit_scale_init_value": 2.6592, "text_config": text_config("quick_gelu"),
                     "vision_config": vision_config(), "torch_dtype": "float32"},
    "cliptext": lambda: {**text_config("gelu"), "architectures": ["CLIPTextModel"], "torch_dtype": "float32"},
    "clipvision": lambda: {**vision_config(), "architectures": ["CLIPVisionModelWithProjection"], "projection_dim": 48,
                           "torch_dtype": "float32"},
    "clipvisionbase": lambda: {**vision_config(), "architectures": ["CLIPVisionModel"], "torch_dtype": "float32"},
    "siglip": lambda: {"model_type": "siglip", "architectures": ["SiglipModel"], "text_config": siglip_text_config(),
                       "vision_config": siglip_vision_config(), "torch_dtype": "float32"},
    "siglipvision": lambda: {**siglip_vision_config(), "architectures": ["SiglipVisionModel"], "torch_dtype": "float32"},
    # not a Hugging Face folder: the weights alone (open_clip_pytorch_model.bin); this config is the script's own
    "openclip.pt": lambda: {"architectures": ["OpenClip"], "text_width": 128, "vision_width": 192, "layers": 2,
                            "patch_size": 8, "image_size": 32, "embed_dim": 48, "vocab_size": 100, "context_length": 16,
                            "layer_scale": False},
    "openclipls.pt": lambda: {"architectures": ["OpenClip"], "text_width": 128, "vision_width": 128, "layers": 2,
                              "patch_size": 8, "image_size": 32, "embed_dim": 48, "vocab_size": 100,
                              "context_length": 16, "layer_scale": True},
}
BUILD = {"CLIPModel": CLIPModel, "CLIPTextModel": CLIPTextModel,
         "CLIPVisionModel": lambda c: VisionModel(c, CLIPVisionTransformer),
         "CLIPVisionModelWithProjection": CLIPVisionModelWithProjection, "SiglipModel": SiglipModel,
         "SiglipVisionModel": lambda c: VisionModel(c, SiglipVisionTransformer), "OpenClip": OpenClip}


def build(c):
    return BUILD[c["architectures"][0]](c)


def save(out, seed, only=()):
    torch.manual_seed(seed)
    for name, config in CONFIGS.items():
        if only and name not in only:
            continue
        c = config()
        m = build(c)
        function_check.randomize(m)
        if name.endswith(".pt"):  # open_clip's weights alone
            torch.save(m.state_dict(), os.path.join(out, name))
        else:
            function_check.save_folder(out, name, c, m.state_dict())


def check(original, permuted, restored):
    if original.endswith(".pt"):
        c, sa, sb, sc = CONFIGS[os.path.basename(original)](), *(torch.load(f) for f in (original, permuted, restored))
    else:
        c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c).eval()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ids = torch.randint(0, 100, (4, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        m.load_state_dict(sa)
        ya = m(x, ids)
        m.load_state_dict(sb)
        yb = m(x, ids)
        if isinstance(m, OpenClip):  # (one query head of three moves the outputs little here: the vision stream's norm)
            q, hd = m.visual.ln_pre.weight, 1
        else:
            tower = m.vision_model if hasattr(m, "vision_model") else m.text_model
            q = tower.encoder.layers[0].self_attn.q_proj.weight
            hd = q.shape[0] // tower.encoder.layers[0].self_attn.heads
        function_check.swap_heads(q, hd)  # two query heads of the first layer (open_clip: two channels of ln_pre's weight)
        yw = m(x, ids)
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
