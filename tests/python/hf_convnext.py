#!/usr/bin/python3
"""Hugging Face's ConvNeXt (transformers' modeling_convnext.py: ConvNextForImageClassification and ConvNextModel, model
type "convnext"; the modules are written out below as that file defines them, transformers not being installable here),
for the Java tests (run with /usr/bin/python3).

    hf_convnext.py save <out_dir> <seed> [NAME...]
        <out_dir>/convnexthf/ (ConvNextForImageClassification, 10 labels) and convnextmodelhf/ (ConvNextModel, no head):
        Hugging Face folders (config.json and pytorch_model.bin) of a narrow ConvNeXt (hidden sizes 16-24-32-48, depths
        2-1-2-1), random weights, norm weights near 1, layer scales of about 1.
    hf_convnext.py check <model_dir> <permuted_dir> <restored_dir>
        function_check.py's verdict on the three folders' weights (the classifier's logits; ConvNextModel's pooled
        features by their inner products), the wrong permutation two rows of the patch embedding swapped.

Exit code 3 without torch.
"""
import sys

try:
    import function_check
    import torch
    from torch import nn
    import torch.nn.functional as F
except ImportError as e:
    print(f"cannot import torch: {e}")
    sys.exit(3)


class ConvNextLayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x):
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        input_dtype = x.dtype
        x = x.float()
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        x = x.to(dtype=input_dtype)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.patch_embeddings = nn.Conv2d(c["num_channels"], c["hidden_sizes"][0], kernel_size=c["patch_size"],
                                          stride=c["patch_size"])
        self.layernorm = ConvNextLayerNorm(c["hidden_sizes"][0], eps=1e-6, data_format="channels_first")

    def forward(self, x):
        return self.layernorm(self.patch_embeddings(x))


class ConvNextLayer(nn.Module):
    def __init__(self, c, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.layernorm = ConvNextLayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        v = c["layer_scale_init_value"]
        self.layer_scale_parameter = nn.Parameter(v * torch.ones(dim), requires_grad=True) if v > 0 else None

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.layernorm(y))))
        if self.layer_scale_parameter is not None:
            y = self.layer_scale_parameter * y
        return x + y.permute(0, 3, 1, 2)


class ConvNextStage(nn.Module):
    def __init__(self, c, in_channels, out_channels, stride, depth):
        super().__init__()
        if in_channels != out_channels or stride > 1:
            self.downsampling_layer = nn.Sequential(
                ConvNextLayerNorm(in_channels, eps=1e-6, data_format="channels_first"),
                nn.Conv2d(in_channels, out_channels, kernel_size=2, stride=stride))
        else:
            self.downsampling_layer = nn.Identity()
        self.layers = nn.Sequential(*[ConvNextLayer(c, out_channels) for _ in range(depth)])

    def forward(self, x):
        return self.layers(self.downsampling_layer(x))


class ConvNextEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.stages = nn.ModuleList()
        prev = c["hidden_sizes"][0]
        for i, (out, depth) in enumerate(zip(c["hidden_sizes"], c["depths"])):
            self.stages.append(ConvNextStage(c, prev, out, 2 if i > 0 else 1, depth))
            prev = out

    def forward(self, x):
        for s in self.stages:
            x = s(x)
        return x


class ConvNextModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = ConvNextEmbeddings(c)
        self.encoder = ConvNextEncoder(c)
        self.layernorm = nn.LayerNorm(c["hidden_sizes"][-1], eps=c["layer_norm_eps"])

    def forward(self, x):
        return self.layernorm(self.encoder(self.embeddings(x)).mean([-2, -1]))


class ConvNextForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.convnext = ConvNextModel(c)
        self.classifier = nn.Linear(c["hidden_sizes"][-1], len(c["id2label"]))

    def forward(self, x):
        return self.classifier(self.convnext(x))


def config(head):
    return {"model_type": "convnext", "architectures": ["ConvNextForImageClassification" if head else "ConvNextModel"],
            "num_channels": 3, "patch_size": 4, "num_stages": 4, "hidden_sizes": [16, 24, 32, 48],
            "depths": [2, 1, 2, 1], "hidden_act": "gelu", "layer_norm_eps": 1e-12, "layer_scale_init_value": 1e-6,
            "drop_path_rate": 0.0, "image_size": 224, "id2label": {str(i): f"LABEL_{i}" for i in range(10)},
            "torch_dtype": "float32"}


MODELS = {"convnexthf": True, "convnextmodelhf": False}


def build(c):
    return ConvNextForImageClassification(c) if c["architectures"][0] == "ConvNextForImageClassification" \
        else ConvNextModel(c)


def layer_scales(name, p):
    """The layer scales: normal with std 1 (torchvision's 1e-6 would hide the blocks)."""
    if name.endswith("layer_scale_parameter"):
        p.normal_()
        return True
    return False


def save(out, seed, only=()):
    function_check.save_models(out, seed, only, MODELS, config, build, layer_scales)


def swap_stem_rows(model):
    """Two rows of the patch embedding swapped: a wrong permutation."""
    backbone = model.convnext if isinstance(model, ConvNextForImageClassification) else model
    w = backbone.embeddings.patch_embeddings.weight
    w[[0, 1]] = w[[1, 0]]


def check(original, permuted, restored):
    c, sa, sb, sc = function_check.load_folders(original, permuted, restored)
    m = build(c)
    ya, yb, yw = function_check.outputs(m, sa, sb, swap_stem_rows)
    if isinstance(m, ConvNextModel):  # the pooled features: compared by their inner products (their channel order is free)
        ya, yb, yw = (y @ y.t() for y in (ya, yb, yw))
    function_check.verdict(sa, sb, sc, ya, yb, yw)


if __name__ == "__main__":
    function_check.main(save, check)
