#!/usr/bin/python3
"""A Vision Transformer as timm writes it (timm is not installable here: its VisionTransformer's modules and forward are
written out below, as timm 0.9 defines them for vit_*_patch16_224 and deit_*: patch_embed.proj, cls_token, pos_embed,
blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head; class token pooled, LayerNorm eps 1e-6,
exact GELU), for the Java tests (run with /usr/bin/python3).

    timm_vit.py save <out_dir> <seed>
        <out_dir>/NAME.pt for NAME tiny (width 192, 3 heads: timm's vit_tiny), narrow (width 128, 2 heads of 64) and
        layerscale (width 256, 4 heads, LayerScale as DeiT III's: blocks.i.ls1.gamma, ls2.gamma) and distilled (width
        320, 5 heads, 3 blocks: DeiT's dist_token and head_dist) and registers (width 384, 6 heads, LayerScale, 4 register
        tokens, position embeddings over the patches only, no head: as timm's vit_*_reg4_dinov2 backbones) and avgpool
        (width 448, 7 heads, global_pool "avg": the patch tokens' mean through fc_norm) and gap (width 512, 8 heads, no
        class token: every token's mean through fc_norm) and gapnorm (width 576, 9 heads, LayerScale, no class token,
        fc_norm=False: the mean after the final norm), 2 blocks,
        patch 8 on 32 x 32 images, 10 classes, random weights (LayerNorm affine parameters and LayerScale factors drawn
        too).
    timm_vit.py check <model.pt> <permuted.pt> <restored.pt>
        function_check.py's verdict on the three, the wrong permutation two heads' query rows swapped in the first
        block (a model without a head: on the inner products of its features).

Exit code 3 without torch.
"""
import sys

try:
    import function_check
    import torch
    from torch import nn
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, heads, init_values=None):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, 4 * dim)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, dim, heads, depth=2, patch=8, image=32, classes=10, init_values=None):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, init_values) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class VisionTransformerDistilled(VisionTransformer):
    """timm's DeiT with distillation: a distillation token after the class token, a second classifier on it, and in
    evaluation the mean of the two classifiers."""

    def __init__(self, dim, heads, depth=2, patch=8, image=32, classes=10, init_values=None):
        super().__init__(dim, heads, depth, patch, image, classes, init_values)
        self.dist_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 2, dim) * 0.02)
        self.head_dist = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), self.dist_token.expand(x.shape[0], -1, -1), x),
                      dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2


class VisionTransformerRegisters(VisionTransformer):
    """timm's ViT with register tokens (reg_token after the class token) and no_embed_class (pos_embed over the patches
    only, added before the class and register tokens), as vit_*_reg4_dinov2, without a head (num_classes=0: timm's head
    is an Identity): the output is the class token's features."""

    def __init__(self, dim, heads, depth=2, patch=8, image=32, classes=10, init_values=None, registers=4):
        super().__init__(dim, heads, depth, patch, image, classes, init_values)
        self.reg_token = nn.Parameter(torch.randn(1, registers, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2, dim) * 0.02)
        self.head = nn.Identity()

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed
        n = x.shape[0]
        x = torch.cat((self.cls_token.expand(n, -1, -1), self.reg_token.expand(n, -1, -1), x), dim=1)
        return self.norm(self.blocks(x))[:, 0]


class VisionTransformerAvgPool(VisionTransformer):
    """timm's ViT with global_pool "avg": the patch tokens' mean (after the class token) through fc_norm, the final norm
    an Identity."""

    def __init__(self, dim, heads, depth=2, patch=8, image=32, classes=10, init_values=None):
        super().__init__(dim, heads, depth, patch, image, classes, init_values)
        self.norm = nn.Identity()
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        x = self.blocks(x)
        return self.head(self.fc_norm(x[:, 1:].mean(dim=1)))


class VisionTransformerNoClass(VisionTransformer):
    """timm's ViT with class_token=False and global_pool "avg" (as vit_*_gap and the RPN ViTs): position embeddings over
    the patches, the mean of every token, through fc_norm (the final norm an Identity) or, with fc_norm=False, after the
    final norm."""

    def __init__(self, dim, heads, depth=2, patch=8, image=32, classes=10, init_values=None, fc_norm=True):
        super().__init__(dim, heads, depth, patch, image, classes, init_values)
        del self.cls_token
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2, dim) * 0.02)
        if fc_norm:
            self.norm = nn.Identity()
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6) if fc_norm else nn.Identity()

    def forward(self, x):
        x = self.norm(self.blocks(self.patch_embed(x) + self.pos_embed))
        return self.head(self.fc_norm(x.mean(dim=1)))


MODELS = {"tiny": (192, 3, None), "narrow": (128, 2, None), "layerscale": (256, 4, 1e-5), "distilled": (320, 5, None),
          "registers": (384, 6, 1e-5), "avgpool": (448, 7, None), "gap": (512, 8, None), "gapnorm": (576, 9, 1e-5)}


def model(name_or_state):
    """The model of a name of MODELS, or of a state dict (by its width and its distillation token)."""
    if isinstance(name_or_state, str):
        dim, heads, init_values = MODELS[name_or_state]
        distilled = name_or_state == "distilled"
        registers = name_or_state == "registers"
    else:
        dim = name_or_state["pos_embed"].shape[-1]
        heads, init_values = next((h, i) for d, h, i in MODELS.values() if d == dim)
        distilled = "dist_token" in name_or_state
        registers = "reg_token" in name_or_state
    if name_or_state in ("gap", "gapnorm") if isinstance(name_or_state, str) else "cls_token" not in name_or_state:
        return VisionTransformerNoClass(dim, heads, init_values=init_values,
                                        fc_norm=name_or_state == "gap" if isinstance(name_or_state, str)
                                        else "fc_norm.weight" in name_or_state)
    if registers:
        return VisionTransformerRegisters(dim, heads, init_values=init_values)
    if (name_or_state == "avgpool") if isinstance(name_or_state, str) else "fc_norm.weight" in name_or_state:
        return VisionTransformerAvgPool(dim, heads, init_values=init_values)
    if distilled:  # 3 blocks: two classifiers' biases stay, the rest (95 % and more) moves
        return VisionTransformerDistilled(dim, heads, depth=3, init_values=init_values)
    return VisionTransformer(dim, heads, init_values=init_values)


def save(out, seed):
    torch.manual_seed(seed)
    for name in MODELS:
        m = model(name)
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, nn.LayerNorm):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
                if isinstance(mod, LayerScale):
                    mod.gamma.uniform_(0.1, 1.0)
        torch.save(m.state_dict(), f"{out}/{name}.pt")


def check(original, permuted, restored):
    sa, sb, sc = (torch.load(f) for f in (original, permuted, restored))
    m = model(sa).eval()
    dim = sa["pos_embed"].shape[-1]
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        m.load_state_dict(sa)
        ya = m(x)
        m.load_state_dict(sb)
        yb = m(x)
        qkv = m.blocks[0].attn.qkv.weight
        hd = dim // m.blocks[0].attn.heads
        q0, q1 = qkv[:hd].clone(), qkv[hd:2 * hd].clone()
        qkv[:hd], qkv[hd:2 * hd] = q1, q0  # heads 0 and 1 of the queries only: a wrong permutation
        yw = m(x)
    if isinstance(m, VisionTransformerRegisters):  # features without a head: compared by their inner products
        ya, yb, yw = (y @ y.t() for y in (ya, yb, yw))
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2], int(sys.argv[3]))
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
